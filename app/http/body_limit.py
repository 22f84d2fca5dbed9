"""A cap on request bodies by path, raised while the body is read so the app's error handlers answer (as
problem+json on API paths). Starlette's own limiter answers a declared oversize in plain text instead."""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
                raise HTTPException(413, f"at most {limit} bytes")
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:  # a chunked body that declared no length, or declared it falsely
                raise HTTPException(413, f"at most {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)

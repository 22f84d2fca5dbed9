"""Closing connections that never finish sending a request's headers (slowloris).

uvicorn starts no timer when a connection opens: a client that connects and sends nothing, or one header
byte now and then, holds its connection (a file descriptor, a parser) for ever, and a few thousand such
clients exhaust the server. This protocol gives each request `timeout` seconds from its connection (or,
on a kept-alive connection, from its first byte) to finish its headers, then closes the connection. The
body is not timed here: it is bounded by the per-path body limit (app/http/body_limit.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.config import get_settings


class HeaderDeadlineProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read in the serving process itself (uvicorn's workers import this class by name).
        self.timeout = get_settings().header_timeout_seconds
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # a request on a kept-alive connection: its own deadline

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

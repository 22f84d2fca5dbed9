"""`Idempotency-Key` on API POSTs, with Stripe's semantics: the first response to a key is stored and
replayed to any retry with the same body; the same key with a different body is 422; a retry while the
first request is still running is 409; keys are forgotten after 24 hours.

The key is claimed in its own committed transaction before the request runs, so a concurrent duplicate on
another worker or replica sees the claim. A claim left by a process that died mid-request is taken over
after `ABANDONED_AFTER`. Responses that say the request never ran (401, 403, 409, 429, 5xx) are not stored:
the client may retry them with the same key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import basic, bearer, count_request, presented_key, quota_headers
from app.api.service import authenticate_key
from app.core.errors import (
    AppError,
    Conflict,
    FieldError,
    RateLimited,
    ValidationFailed,
    problem_for,
    problem_response,
)
from app.core.rate_limits import RateLimits
from app.models import IdempotencyKey, utcnow

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
KEY_TTL = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=2)
NOT_STORED = {401, 403, 409, 429}
API_PREFIX = "/api/v1/"


@dataclass(frozen=True)
class Stored:
    status: int
    body: str


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """Bodies that mean the same JSON match whatever their spacing or key order."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def claim(session: Session, api_key_id: int, key: str, fingerprint: str) -> int | Stored:
    """The claimed row's id (the request may run), or the stored response to replay."""
    now = utcnow()
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.api_key_id == api_key_id,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at <= now,
        )
    )
    row = IdempotencyKey(api_key_id=api_key_id, key=key, request_hash=fingerprint, expires_at=now + KEY_TTL)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        pass  # claimed before: decide from the existing row
    else:
        return row.id
    existing = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.api_key_id == api_key_id, IdempotencyKey.key == key)
    )
    if existing is None:  # expired and deleted by another request meanwhile
        return claim(session, api_key_id, key, fingerprint)
    if existing.request_hash != fingerprint:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request; use a new key for a new one.",
            errors=[FieldError("Idempotency-Key", "reused with a different request")],
        )
    if existing.response_status is None or existing.response_body is None:
        if existing.created_at > now - ABANDONED_AFTER:
            raise Conflict(
                "A request with this Idempotency-Key is still in progress. Retry once it has finished."
            )
        existing.created_at = now  # its process died mid-request: this retry takes the claim over
        return existing.id
    return Stored(existing.response_status, existing.response_body)


def settle(session: Session, row_id: int, status: int, body: bytes) -> None:
    """Store the response for replay, or free the key when the request did not run."""
    row = session.get(IdempotencyKey, row_id)
    if row is None:
        return
    if status >= 500 or status in NOT_STORED:
        session.delete(row)
    else:
        row.response_status, row.response_body = status, body.decode()


class IdempotencyMiddleware:
    """Applies to POSTs under /api/v1/ that send an `Idempotency-Key` with a valid API key; anything else
    passes through (authentication errors come from the endpoint itself)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        key_header = headers.get(HEADER.encode())
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(API_PREFIX)
            or key_header is None
        ):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except HTTPException as too_large:
            await problem_response(413, "Request too large", str(too_large.detail))(scope, receive, send)
            return
        sessions: sessionmaker[Session] = scope["app"].state.session_factory
        key = key_header.decode("latin-1").strip()
        try:
            api_key = await _api_key_of(Request(scope))
            outcome = await run_in_threadpool(
                _claim, sessions, api_key, key, request_fingerprint("POST", scope["path"], body)
            )
        except AppError as refused:
            await problem_for(refused)(scope, receive, send)
            return
        if outcome is None:  # no valid key: the endpoint answers 401
            await self.app(scope, _replay_receive(body), send)
            return
        claimed, api_key_id = outcome
        if isinstance(claimed, Stored):
            await _replay(claimed, api_key_id, scope["app"].state.rate_limits)(scope, receive, send)
            return
        await self._run_and_store(scope, body, send, sessions, claimed)

    async def _run_and_store(
        self, scope: Scope, body: bytes, send: Send, sessions: sessionmaker[Session], row_id: int
    ) -> None:
        """Run the request and store its response before any of it is sent: a client that retries the moment
        it has the answer finds it stored (a replay), never the claim still open (409)."""
        status, held, chunks, settled = 500, [], [], False

        async def hold_until_stored(message: Message) -> None:
            nonlocal status, settled
            held.append(message)
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await run_in_threadpool(_settle_in, sessions, row_id, status, b"".join(chunks))
                    settled = True
                    for waiting in held:
                        await send(waiting)
                    held.clear()

        try:
            await self.app(scope, _replay_receive(body), hold_until_stored)
        finally:
            if not settled:  # the app raised before answering: free the key, the client may retry
                await run_in_threadpool(_settle_in, sessions, row_id, 500, b"")


async def _api_key_of(request: Request) -> str | None:
    try:
        return presented_key(await bearer(request), await basic(request))
    except (AppError, HTTPException):
        return None


def _replay(stored: Stored, api_key_id: int, limits: RateLimits) -> Response:
    """The stored response, counted against the key's quota like any request, with its quota headers."""
    try:
        window = count_request(limits, api_key_id)
    except RateLimited as refused:
        return problem_for(refused)
    return Response(
        stored.body,
        status_code=stored.status,
        media_type="application/problem+json" if stored.status >= 400 else "application/json",
        headers={"Idempotent-Replayed": "true", **quota_headers(window)},
    )


def _claim(
    sessions: sessionmaker[Session], api_key: str | None, key: str, fingerprint: str
) -> tuple[int | Stored, int] | None:
    """The claim (or the stored response) and the key's id; None when the request carries no valid API key:
    the endpoint itself then refuses it."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            errors=[FieldError("Idempotency-Key", f"1 to {MAX_KEY_LENGTH} characters")],
        )
    if api_key is None:
        return None
    with sessions() as session:
        try:
            principal = authenticate_key(session, api_key)
        except AppError:
            return None
        outcome = claim(session, principal.api_key.id, key, fingerprint)
        session.commit()
        return outcome, principal.api_key.id


def _settle_in(sessions: sessionmaker[Session], row_id: int, status: int, body: bytes) -> None:
    with sessions() as session:
        settle(session, row_id, status, body)
        session.commit()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay_receive(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive

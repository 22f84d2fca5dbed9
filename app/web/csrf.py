"""Cross-site request forgery protection for the recruiter pages' forms.

Each browser gets a random `assay_csrf` cookie (HttpOnly, SameSite=Lax); every form carries
HMAC(secret key, cookie) in a hidden `csrf_token` field (scripts may send it as `X-CSRF-Token` instead).
Another site can make a browser post a form, but it can read neither the cookie nor our pages, so it cannot
produce the matching token. The check runs before the route, so a forged request changes nothing.

Candidate pages (/i/<token>/…) are exempt: the secret invitation token in their address is what authorizes
them, and a forging site would have to know it.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.errors import Forbidden
from app.core.security import new_token

CSRF_COOKIE = "assay_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A year: a form left open overnight still submits; the cookie proves nothing by itself.
COOKIE_MAX_AGE = 365 * 24 * 3600


def token_for(settings: Settings, cookie: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token forms on this page must carry; creates the browser's cookie on its first visit."""
    cookie = request.cookies.get(CSRF_COOKIE) or request.scope.get("state", {}).get("new_csrf_cookie")
    if not cookie:
        cookie = new_token()
        request.state.new_csrf_cookie = cookie
    return token_for(request.app.state.settings, cookie)


async def verify_csrf(request: Request) -> None:
    """A route dependency: state-changing requests must carry the token matching the browser's cookie."""
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        # FastAPI has already parsed the form for the route's own fields; this reads the cached copy.
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    expected = token_for(request.app.state.settings, cookie) if cookie else None
    if not sent or expected is None or not hmac.compare_digest(sent, expected):
        raise Forbidden(
            "This form has expired or was sent from another site, so nothing was changed. "
            "Go back, reload the page and try again."
        )


class CsrfCookieMiddleware:
    """Sets the cookie that `csrf_token()` created while rendering a page, on that page's response."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app, self.secure = app, secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            cookie = scope.get("state", {}).get("new_csrf_cookie")
            if message["type"] == "http.response.start" and cookie:
                attributes = f"; Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax" + (
                    "; Secure" if self.secure else ""
                )
                MutableHeaders(scope=message).append("set-cookie", f"{CSRF_COOKIE}={cookie}{attributes}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)

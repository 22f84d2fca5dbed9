"""Security headers on every response: a Content-Security-Policy with a fresh script nonce per request,
framing refused, no Referer, no MIME sniffing, and HSTS in production.

The policy is declared with `secure` once; only the nonce changes per request. Templates put it on the rare
inline script they need as `{{ request.state.csp_nonce }}`; every other script is a file served by Assay.
"""

from __future__ import annotations

import secrets

from secure import (
    ContentSecurityPolicy,
    CrossOriginOpenerPolicy,
    PermissionsPolicy,
    ReferrerPolicy,
    Secure,
    StrictTransportSecurity,
    XContentTypeOptions,
    XFrameOptions,
)
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NONCE_SLOT = "NONCEVALUE"  # stands for the request's nonce in the policy built once


def content_security_policy() -> ContentSecurityPolicy:
    return (
        ContentSecurityPolicy()
        .default_src("'self'")
        .script_src("'self'", ContentSecurityPolicy.nonce(NONCE_SLOT))
        # Inline styles cannot run code; the chart SVGs carry a <style> and the code editor injects its own.
        .style_src("'self'", "'unsafe-inline'")
        .img_src("'self'", "data:")
        .connect_src("'self'")
        .object_src("'none'")
        .base_uri("'none'")
        .form_action("'self'")
        .frame_ancestors("'none'")
    )


def security_headers(*, production: bool) -> dict[str, str]:
    """Header name → value, with `NONCE_SLOT` in the policy where each request's nonce goes."""
    policy = Secure(
        csp=content_security_policy(),
        # Candidate links carry their secret in the path: a link in an answer or a question must not send it
        # to another site as the Referer.
        referrer=ReferrerPolicy().no_referrer(),
        xfo=XFrameOptions().deny(),
        xcto=XContentTypeOptions().nosniff(),
        coop=CrossOriginOpenerPolicy().same_origin(),
        permissions=PermissionsPolicy().geolocation().microphone().camera(),
        # Only behind HTTPS: a browser remembers HSTS for the host, which would lock a plain-HTTP trial out.
        hsts=StrictTransportSecurity().max_age(63_072_000) if production else None,
    )
    return dict(policy.headers)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.headers = security_headers(production=production)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value.replace(NONCE_SLOT, nonce)
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""Sign-in and sign-out pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.accounts.service import authenticate, revoke_session
from app.deps import SESSION_COOKIE, SessionDep, SettingsDep
from app.errors import RateLimited, Unauthenticated
from app.web.pages import templates

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an attacker-supplied next=https://evil.example must not redirect off-site."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        signed_in = authenticate(
            session,
            email=email,
            password=password,
            max_failures=settings.login_max_failures,
            ttl=timedelta(hours=settings.session_ttl_hours),
            user_agent=request.headers.get("user-agent", ""),
        )
    except (Unauthenticated, RateLimited) as exc:
        # The failure counter must persist even though we answer with an error page.
        session.commit()
        status = 429 if isinstance(exc, RateLimited) else 401
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": _safe_next(next), "error": exc.message, "email": email},
            status_code=status,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=settings.session_ttl_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.environment == "production",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        revoke_session(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response

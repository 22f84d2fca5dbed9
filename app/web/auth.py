"""Signing in and out, password reset by email link, changing a password, joining a team, switching
organization."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.core.config import Settings
from app.core.errors import FieldError, Gone, RateLimited, Unauthenticated, ValidationFailed
from app.core.rate_limits import RateLimits
from app.emails.service import queue_email
from app.http.deps import SESSION_COOKIE, CurrentPrincipal, SessionDep, SettingsDep, client_ip
from app.models import Organization, UserTokenKind
from app.web.pages import page, redirect

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an attacker-supplied next=https://evil.example must not redirect off-site."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _signed_in(response: RedirectResponse, settings: Settings, token: str) -> RedirectResponse:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.environment == "production",
    )
    return response


def _ttl(settings: Settings) -> timedelta:
    return timedelta(hours=settings.session_ttl_hours)


def _limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return page(request, "login.html", None, next=_safe_next(next), error=None)


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
        limits = _limits(request)
        refusal = "Too many sign-in attempts from here."
        limits.require(limits.sign_in, f"sign-in:{client_ip(request)}", refusal)
        signed_in = accounts.authenticate(
            session,
            email=email,
            password=password,
            max_failures=settings.login_max_failures,
            ttl=_ttl(settings),
            user_agent=request.headers.get("user-agent", ""),
            ip=client_ip(request),
        )
    except (Unauthenticated, RateLimited) as exc:
        # The failure counter must persist even though we answer with an error page.
        session.commit()
        response = page(
            request,
            "login.html",
            None,
            status_code=exc.status_code,
            next=_safe_next(next),
            error=exc.message,
            email=email,
        )
        response.headers.update(exc.headers)  # Retry-After when rate-limited
        return response
    return _signed_in(RedirectResponse(_safe_next(next), status_code=303), settings, signed_in.token)


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.revoke_session(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/password/forgot")
def forgot_page(request: Request) -> Response:
    return page(request, "password_forgot.html", None)


@router.post("/password/forgot")
def forgot(
    request: Request, session: SessionDep, settings: SettingsDep, email: Annotated[str, Form(max_length=320)]
) -> Response:
    """Limited per client address and per email address (the same answer whether or not it has an account),
    so the form can be used neither to flood someone's inbox nor to probe many addresses."""
    try:
        limits, too_many = _limits(request), "Too many password reset requests."
        limits.require(limits.password_reset, f"reset-from:{client_ip(request)}", too_many)
        limits.require(limits.password_reset, f"reset-to:{accounts.normalize_email(email)}", too_many)
    except RateLimited as exc:
        response = page(
            request, "password_forgot.html", None, status_code=429, error=exc.message, email=email
        )
        response.headers.update(exc.headers)
        return response
    minutes = settings.password_reset_minutes
    started = accounts.start_password_reset(session, email, timedelta(minutes=minutes))
    if started is not None:
        user, token = started
        queue_email(
            session,
            to=user.email,
            template="password_reset",
            context={
                "email": user.email,
                "minutes": minutes,
                "link": f"{settings.base_url}/password/reset/{token}",
            },
            organization=None,
        )
    return redirect("/login", "reset_sent")


@router.get("/password/reset/{token}")
def reset_page(request: Request, session: SessionDep, token: str) -> Response:
    accounts.valid_token(session, UserTokenKind.PASSWORD_RESET, token)
    return page(request, "password_reset.html", None, token=token, errors=[])


@router.post("/password/reset/{token}")
def reset(
    request: Request,
    session: SessionDep,
    token: str,
    new_password: Annotated[str, Form(max_length=1000)],
    confirm_password: Annotated[str, Form(max_length=1000)],
) -> Response:
    try:
        _check_confirmation(new_password, confirm_password)
        accounts.finish_password_reset(session, token, new_password)
    except ValidationFailed as exc:
        return page(request, "password_reset.html", None, status_code=422, token=token, errors=exc.errors)
    return redirect("/login", "password_reset")


def _check_confirmation(password: str, confirmation: str) -> None:
    if password != confirmation:
        raise ValidationFailed("The passwords differ.", errors=[FieldError("confirm_password", "must match")])


@router.get("/account")
def account_page(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    return page(
        request,
        "account.html",
        principal,
        memberships=accounts.memberships_of(session, principal.user),
        errors=[],
    )


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    current_password: Annotated[str, Form(max_length=1000)],
    new_password: Annotated[str, Form(max_length=1000)],
    confirm_password: Annotated[str, Form(max_length=1000)],
) -> Response:
    try:
        _check_confirmation(new_password, confirm_password)
        accounts.change_password(session, principal, current=current_password, new=new_password)
    except ValidationFailed as exc:
        return page(
            request,
            "account.html",
            principal,
            status_code=422,
            memberships=accounts.memberships_of(session, principal.user),
            errors=exc.errors,
        )
    return redirect("/account", "password_changed")


@router.post("/account/organization")
def switch_organization(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    organization_id: Annotated[int, Form()],
) -> Response:
    signed_in = accounts.switch_organization(
        session,
        principal,
        organization_id,
        ttl=_ttl(settings),
        user_agent=request.headers.get("user-agent", ""),
    )
    return _signed_in(RedirectResponse("/", status_code=303), settings, signed_in.token)


def _team_invite_context(session: Session, token: str) -> dict[str, Any]:
    row = accounts.valid_token(session, UserTokenKind.TEAM_INVITE, token)
    organization = session.get(Organization, row.organization_id)
    if organization is None:
        raise Gone("This organization no longer exists.")
    return {
        "token": token,
        "invite": row,
        "organization": organization,
        "existing": accounts.user_exists(session, row.email),
    }


@router.get("/join/{token}")
def join_page(request: Request, session: SessionDep, token: str) -> Response:
    return page(request, "join.html", None, errors=[], **_team_invite_context(session, token))


@router.post("/join/{token}")
def join(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: str,
    password: Annotated[str, Form(max_length=1000)],
    display_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        signed_in = accounts.join_team(
            session,
            token,
            password=password,
            display_name=display_name,
            ttl=_ttl(settings),
            user_agent=request.headers.get("user-agent", ""),
            ip=client_ip(request),
        )
    except ValidationFailed as exc:
        return page(
            request,
            "join.html",
            None,
            status_code=422,
            errors=exc.errors,
            **_team_invite_context(session, token),
        )
    return _signed_in(redirect("/", "joined"), settings, signed_in.token)

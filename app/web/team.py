"""The organization's people (members, roles, teammate invitations), its API keys, its audit log and its email
outbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.accounts import service as accounts
from app.accounts.principal import Principal
from app.api.service import OWNER_SCOPES, SCOPES, create_api_key, list_api_keys, revoke_api_key
from app.audit.service import audit_log
from app.core.errors import AppError
from app.core.ids import PathId
from app.core.timezones import zone_names
from app.emails.service import outbox, outbox_message_of
from app.http.deps import CurrentPrincipal, Owner, SessionDep, SettingsDep, TeamManager
from app.models import Role, utcnow
from app.web.pages import page, redirect
from app.webhooks.service import list_endpoints

router = APIRouter()


def _team_page(
    request: Request, session: SessionDep, principal: Principal, *, error: AppError | None = None
) -> Response:
    return page(
        request,
        "team.html",
        principal,
        status_code=error.status_code if error else 200,
        members=accounts.list_members(session, principal.organization),
        invites=accounts.pending_team_invites(session, principal.organization),
        roles=list(Role),
        zones=zone_names(),
        error=error,
    )


@router.get("/team")
def team_page(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    return _team_page(request, session, principal)


@router.post("/team/time-zone")
def set_time_zone(
    request: Request,
    session: SessionDep,
    principal: TeamManager,
    time_zone: Annotated[str, Form(max_length=64)],
) -> Response:
    try:
        accounts.set_time_zone(session, principal, time_zone)
    except AppError as exc:
        session.rollback()
        return _team_page(request, session, principal, error=exc)
    return redirect("/team", "saved")


@router.post("/team/similarity-threshold")
def set_similarity_threshold(
    request: Request,
    session: SessionDep,
    principal: TeamManager,
    similarity_threshold: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    try:
        percent = int(similarity_threshold) if similarity_threshold.strip().isdigit() else -1
        accounts.set_similarity_threshold(session, principal, percent)
    except AppError as exc:
        session.rollback()
        return _team_page(request, session, principal, error=exc)
    return redirect("/team", "saved")


@router.post("/team/invitations")
def invite_teammate(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[Role, Form()],
) -> Response:
    try:
        accounts.invite_teammate(session, principal, email=email, role=role, settings=settings)
    except AppError as exc:
        return _team_page(request, session, principal, error=exc)
    return redirect("/team", "teammate_invited")


@router.post("/team/members/{membership_id}/role")
def change_role(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    membership_id: PathId,
    role: Annotated[Role, Form()],
) -> Response:
    membership = accounts.get_membership(session, principal, membership_id)
    try:
        accounts.change_role(session, principal, membership, role)
    except AppError as exc:
        return _team_page(request, session, principal, error=exc)
    return redirect("/team", "role_changed")


@router.post("/team/members/{membership_id}/remove")
def remove_member(
    request: Request, session: SessionDep, principal: CurrentPrincipal, membership_id: PathId
) -> Response:
    membership = accounts.get_membership(session, principal, membership_id)
    try:
        accounts.remove_member(session, principal, membership)
    except AppError as exc:
        return _team_page(request, session, principal, error=exc)
    return redirect("/team", "member_removed")


@router.get("/audit")
def audit_page(
    request: Request, session: SessionDep, principal: Owner, before: int | None = None
) -> Response:
    entries = audit_log(session, principal.organization, before_id=before)
    return page(request, "audit.html", principal, entries=entries)


@router.get("/outbox")
def outbox_page(request: Request, session: SessionDep, principal: Owner) -> Response:
    return page(request, "outbox.html", principal, messages=outbox(session, principal.organization))


@router.get("/outbox/{message_id}")
def outbox_message(request: Request, session: SessionDep, principal: Owner, message_id: PathId) -> Response:
    message = outbox_message_of(session, principal.organization, message_id)
    return page(request, "outbox_message.html", principal, message=message)


def _api_keys_page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    *,
    new_key: str | None = None,
    error: AppError | None = None,
) -> Response:
    return page(
        request,
        "api_keys.html",
        principal,
        status_code=error.status_code if error else (201 if new_key else 200),
        keys=list_api_keys(session, principal.organization),
        now=utcnow(),
        scopes={s: meaning for s, meaning in SCOPES.items() if principal.is_owner or s not in OWNER_SCOPES},
        new_key=new_key,
        endpoints=list_endpoints(session, principal.organization),
        error=error,
    )


@router.get("/api-keys")
def api_keys_page(request: Request, session: SessionDep, principal: TeamManager) -> Response:
    return _api_keys_page(request, session, principal)


@router.post("/api-keys")
def create_key(
    request: Request,
    session: SessionDep,
    principal: TeamManager,
    name: Annotated[str, Form(max_length=200)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    mode: Annotated[Literal["live", "test"], Form()] = "live",
    expires_in_days: Annotated[int, Form(ge=0, le=3650)] = 0,
) -> Response:
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        _, key = create_api_key(
            session, principal, name=name, scopes=scopes or [], test=mode == "test", expires_at=expires_at
        )
    except AppError as exc:
        return _api_keys_page(request, session, principal, error=exc)
    return _api_keys_page(request, session, principal, new_key=key)


@router.post("/api-keys/{api_key_id}/revoke")
def revoke_key(session: SessionDep, principal: TeamManager, api_key_id: PathId) -> Response:
    revoke_api_key(session, principal, api_key_id)
    return redirect("/api-keys", "key_revoked")

"""Annotated dependency aliases used by routes: the session, settings, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.accounts.service import resolve_session
from app.core.config import Settings
from app.core.db import get_session
from app.core.errors import Unauthenticated
from app.invitations.service import invitation_for_token
from app.models import Invitation

SESSION_COOKIE = "assay_session"

# scope="function": the commit runs when the route returns, before the response is sent, so nothing is
# acknowledged that is not durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_settings_dep(request: Request) -> Settings:  # no I/O: no thread hop
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def current_principal(request: Request, session: SessionDep) -> Principal:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthenticated("Please sign in to continue.")
    return resolve_session(session, token, ip=client_ip(request))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


# Pages declare the role they need, as the API's routes declare their scopes: the check runs before the
# handler, so a handler cannot forget it.
def editor(principal: CurrentPrincipal) -> Principal:
    """Recruiters, admins and owners: build assessments, invite, score."""
    principal.require_editor()
    return principal


def team_manager(principal: CurrentPrincipal) -> Principal:
    """Admins and owners: the team and API keys."""
    principal.require_team_manager()
    return principal


def owner(principal: CurrentPrincipal) -> Principal:
    """Owners: the audit log, the email outbox, a candidate's data."""
    principal.require_owner()
    return principal


Editor = Annotated[Principal, Depends(editor)]
TeamManager = Annotated[Principal, Depends(team_manager)]
Owner = Annotated[Principal, Depends(owner)]


# An invitation token as it comes in a candidate link's path.
TokenPath = Annotated[str, Path(max_length=100)]


def valid_invitation(session: SessionDep, token: TokenPath) -> Invitation:
    return invitation_for_token(session, token)


InvitationDep = Annotated[Invitation, Depends(valid_invitation)]

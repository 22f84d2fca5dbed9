"""Candidate pages, reached through the invitation link. No account: the link's token is the credential."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.attempts.service import (
    hand_in_attempt,
    items_in_order,
    save_answer,
    start_attempt,
)
from app.core.errors import Gone, ValidationFailed
from app.http.deps import InvitationDep, SessionDep, SettingsDep
from app.invitations.service import ensure_can_start
from app.models import (
    Attempt,
    Invitation,
    InvitationStatus,
    Organization,
    utcnow,
)
from app.questions.kinds import KINDS, Draw, kind_of
from app.questions.service import spec_of
from app.web.pages import attempt_views, by_section, templates

router = APIRouter(prefix="/i/{token}")


def _organization(session: SessionDep, invitation: Invitation) -> Organization:
    organization = session.get(Organization, invitation.organization_id)
    assert organization is not None  # an invitation's organization goes only with the invitation
    return organization


def _attempt_or_landing(invitation: Invitation, token: str) -> Attempt | RedirectResponse:
    if invitation.attempt is None:
        return RedirectResponse(f"/i/{token}", status_code=303)
    if invitation.attempt.closed_at is not None:
        return RedirectResponse(f"/i/{token}/done", status_code=303)
    return invitation.attempt


KIND_NAMES = {kind.type.value: kind.label for kind in KINDS.values()}


@router.get("")
def landing(request: Request, session: SessionDep, invitation: InvitationDep, token: str) -> Response:
    if invitation.status == InvitationStatus.COMPLETED:
        return RedirectResponse(f"/i/{token}/done", status_code=303)
    ensure_can_start(invitation)
    organization = _organization(session, invitation)
    assessment = invitation.assessment
    kinds: dict[str, int] = {}
    for item in assessment.items:
        kinds[item.question_version.type.value] = kinds.get(item.question_version.type.value, 0) + 1
    minutes = round(invitation.minutes_allowed)
    attempt = invitation.attempt
    # A started attempt's clock kept running while the page was closed: the landing page says what is left.
    left_s = max(0, int((attempt.deadline_at - utcnow()).total_seconds())) if attempt is not None else None
    return templates.TemplateResponse(
        request,
        "candidate/landing.html",
        {
            "invitation": invitation,
            "assessment": assessment,
            "kinds": kinds,
            "kind_names": KIND_NAMES,
            "company": organization.name,
            "zone": organization.time_zone,
            "minutes": minutes,
            "token": token,
            "left_s": left_s,
        },
    )


@router.post("/start")
def start(session: SessionDep, invitation: InvitationDep, token: str) -> Response:
    start_attempt(session, invitation)
    return RedirectResponse(f"/i/{token}/attempt", status_code=303)


@router.get("/attempt")
def attempt_page(
    request: Request,
    session: SessionDep,
    invitation: InvitationDep,
    token: str,
    saved: Annotated[int, Query(ge=0, le=1)] = 0,
    refused: Annotated[str, Query(max_length=500, pattern=r"^([0-9]{1,4}(,[0-9]{1,4})*)?$")] = "",
) -> Response:
    attempt = _attempt_or_landing(invitation, token)
    if isinstance(attempt, Response):
        return attempt
    answers = {a.item_id: a for a in attempt.answers}
    views = attempt_views(items_in_order(attempt), lambda item: Draw.of(attempt, item), answers)
    now = utcnow()
    remaining = max(0, int((attempt.deadline_at - now).total_seconds()))
    # What the page's script starts from; the clock is the server's, so a wrong local clock does not matter.
    config = {
        "api": f"/i/{token}/api",
        "done": f"/i/{token}/done",
        "attempt_id": attempt.id,
        "server_now": now.isoformat(),
        "deadline_at": attempt.deadline_at.isoformat(),
    }
    return templates.TemplateResponse(
        request,
        "candidate/attempt.html",
        {
            "invitation": invitation,
            "attempt": attempt,
            "items": views,
            "sections": by_section(views),
            "remaining_s": remaining,
            "zone": _organization(session, invitation).time_zone,
            "config": config,
            "token": token,
            "saved": bool(saved),
            "refused": [int(p) for p in refused.split(",") if p][:100],
        },
    )


@router.post("/attempt")
async def save_or_submit(
    request: Request, session: SessionDep, settings: SettingsDep, invitation: InvitationDep, token: str
) -> Response:
    attempt = _attempt_or_landing(invitation, token)
    if isinstance(attempt, Response):
        return attempt
    form = await request.form()
    grace = settings.autosave_grace
    existing = {a.item_id: a.value for a in attempt.answers}
    refused: list[str] = []
    for position, item in enumerate(items_in_order(attempt), start=1):
        spec = spec_of(item.question_version)
        kind = kind_of(spec.type)
        value = kind.from_form([str(v) for v in form.getlist(f"item_{item.id}")])
        untouched = item.id not in existing and (not kind.is_answered(value) or value == kind.blank(spec))
        if value == existing.get(item.id) or untouched:
            continue
        try:
            save_answer(session, attempt, item.id, value, grace=grace)
        except ValidationFailed:
            refused.append(str(position))  # the other answers are still saved; this one is shown again
        except Gone:
            break  # past the deadline: what was saved before stands and the attempt is closed below
    if utcnow() > attempt.deadline_at + grace or (form.get("action") == "submit" and not refused):
        hand_in_attempt(session, attempt)
        return RedirectResponse(f"/i/{token}/done", status_code=303)
    if refused:
        return RedirectResponse(f"/i/{token}/attempt?refused={','.join(refused)}", status_code=303)
    return RedirectResponse(f"/i/{token}/attempt?saved=1", status_code=303)


@router.get("/done")
def done(request: Request, session: SessionDep, invitation: InvitationDep, token: str) -> Response:
    attempt = invitation.attempt
    if attempt is None or attempt.closed_at is None:
        return RedirectResponse(f"/i/{token}", status_code=303)
    return templates.TemplateResponse(
        request,
        "candidate/done.html",
        {"invitation": invitation, "attempt": attempt, "zone": _organization(session, invitation).time_zone},
    )

"""Candidate pages, reached through the invitation link. No account: the link's token is the credential."""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from app.attempts.service import (
    items_in_order,
    numeric_variant,
    option_order,
    save_answer,
    start_attempt,
    submit_attempt,
)
from app.core.errors import Gone, ValidationFailed
from app.http.deps import InvitationDep, SessionDep, SettingsDep
from app.invitations.service import ensure_can_start
from app.models import (
    AssessmentItem,
    Attempt,
    Invitation,
    InvitationStatus,
    Organization,
    QuestionType,
    utcnow,
)
from app.questions.service import spec_of
from app.questions.spec import Coding, Numeric
from app.web.pages import templates
from grader import get_task

router = APIRouter(prefix="/i/{token}")


def _attempt_or_landing(invitation: Invitation, token: str) -> Attempt | RedirectResponse:
    if invitation.attempt is None:
        return RedirectResponse(f"/i/{token}", status_code=303)
    if invitation.attempt.closed_at is not None:
        return RedirectResponse(f"/i/{token}/done", status_code=303)
    return invitation.attempt


KIND_NAMES = {
    QuestionType.MCQ_SINGLE.value: "multiple choice",
    QuestionType.MCQ_MULTI.value: "multiple answer",
    QuestionType.NUMERIC.value: "numeric",
    QuestionType.WRITTEN.value: "written",
    QuestionType.CODING.value: "coding",
}


@router.get("")
def landing(request: Request, session: SessionDep, invitation: InvitationDep, token: str) -> Response:
    if invitation.status == InvitationStatus.COMPLETED:
        return RedirectResponse(f"/i/{token}/done", status_code=303)
    ensure_can_start(invitation)
    assessment = invitation.assessment
    kinds: dict[str, int] = {}
    for item in assessment.items:
        kinds[item.question_version.type.value] = kinds.get(item.question_version.type.value, 0) + 1
    minutes = round(invitation.minutes_allowed)
    return templates.TemplateResponse(
        request,
        "candidate/landing.html",
        {
            "invitation": invitation,
            "assessment": assessment,
            "kinds": kinds,
            "kind_names": KIND_NAMES,
            "company": session.get(Organization, invitation.organization_id).name,  # type: ignore[union-attr]
            "minutes": minutes,
            "token": token,
        },
    )


@router.post("/start")
def start(session: SessionDep, invitation: InvitationDep, token: str) -> Response:
    start_attempt(session, invitation)
    return RedirectResponse(f"/i/{token}/attempt", status_code=303)


def _item_views(attempt: Attempt) -> list[dict[str, Any]]:
    answers = {a.item_id: a for a in attempt.answers}
    views = []
    for position, item in enumerate(items_in_order(attempt), start=1):
        spec = spec_of(item.question_version)
        options = getattr(spec, "options", [])
        by_id = {o.id: o for o in options}
        answer = answers.get(item.id)
        views.append(
            {
                "item": item,
                "position": position,
                "section_title": item.section.title if item.section else "Questions",
                "spec": spec,
                "prompt": numeric_variant(attempt, item, spec)[0]
                if isinstance(spec, Numeric)
                else spec.prompt,
                "task": get_task(spec.task) if isinstance(spec, Coding) else None,
                "options": [by_id[i] for i in option_order(attempt, item, list(by_id))],
                "value": answer.value if answer else {},
                "revision": answer.revision if answer else 0,
                "flagged": answer.flagged if answer else False,
            }
        )
    return views


@router.get("/attempt")
def attempt_page(
    request: Request,
    invitation: InvitationDep,
    token: str,
    saved: Annotated[int, Query(ge=0, le=1)] = 0,
    refused: Annotated[str, Query(max_length=500, pattern=r"^([0-9]{1,4}(,[0-9]{1,4})*)?$")] = "",
) -> Response:
    attempt = _attempt_or_landing(invitation, token)
    if isinstance(attempt, Response):
        return attempt
    views = _item_views(attempt)
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
            "sections": [
                (title, list(group)) for title, group in groupby(views, key=itemgetter("section_title"))
            ],
            "remaining_s": remaining,
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
        value = _form_value(item, form)
        untouched = item.id not in existing and (not any(value.values()) or value == _unanswered(item))
        if value == existing.get(item.id) or untouched:
            continue
        try:
            save_answer(session, attempt, item.id, value, grace=grace)
        except ValidationFailed:
            refused.append(str(position))  # the other answers are still saved; this one is shown again
        except Gone:
            break  # past the deadline: what was saved before stands and the attempt is closed below
    if utcnow() > attempt.deadline_at + grace or (form.get("action") == "submit" and not refused):
        submit_attempt(session, attempt, grace=grace)
        return RedirectResponse(f"/i/{token}/done", status_code=303)
    if refused:
        return RedirectResponse(f"/i/{token}/attempt?refused={','.join(refused)}", status_code=303)
    return RedirectResponse(f"/i/{token}/attempt?saved=1", status_code=303)


def _form_value(item: AssessmentItem, form: FormData) -> dict[str, Any]:
    key = f"item_{item.id}"
    kind = item.question_version.type
    if kind == QuestionType.MCQ_MULTI:
        return {"choices": [str(v) for v in form.getlist(key)]}
    if kind == QuestionType.MCQ_SINGLE:
        return {"choice": str(form.get(key) or "") or None}
    if kind == QuestionType.NUMERIC:
        return {"number": str(form.get(key) or "").strip() or None}
    if kind == QuestionType.CODING:
        return {"source": str(form.get(key) or "")}
    return {"text": str(form.get(key) or "")}


def _unanswered(item: AssessmentItem) -> dict[str, Any] | None:
    """What the page shows before any answer: the starter code of a coding item."""
    spec = spec_of(item.question_version)
    return {"source": get_task(spec.task).starter} if isinstance(spec, Coding) else None


@router.get("/done")
def done(request: Request, session: SessionDep, invitation: InvitationDep, token: str) -> Response:
    attempt = invitation.attempt
    if attempt is None or attempt.closed_at is None:
        return RedirectResponse(f"/i/{token}", status_code=303)
    return templates.TemplateResponse(
        request,
        "candidate/done.html",
        {"invitation": invitation, "attempt": attempt},
    )

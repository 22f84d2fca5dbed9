"""Recruiter pages: dashboard, building and publishing assessments, inviting, reading results."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.assessments.service import create_assessment, get_assessment, list_assessments, publish_assessment
from app.deps import CurrentPrincipal, SessionDep, SettingsDep
from app.errors import ValidationFailed
from app.invitations.service import create_invitation, list_invitations
from app.questions.service import current_versions
from app.results.service import attempt_report
from app.web.pages import templates

router = APIRouter()


@router.get("/")
def dashboard(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    assessments = list_assessments(session, principal.organization)
    return templates.TemplateResponse(
        request, "dashboard.html", {"me": principal, "assessments": assessments}
    )


@router.get("/assessments/new")
def new_assessment_page(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    principal.require_editor()
    return templates.TemplateResponse(
        request,
        "assessment_new.html",
        {"me": principal, "questions": current_versions(session), "errors": [], "form": {}},
    )


@router.post("/assessments")
def create_assessment_form(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    title: Annotated[str, Form(max_length=200)],
    duration_minutes: Annotated[int, Form()],
    question_version_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    principal.require_editor()
    try:
        assessment = create_assessment(
            session,
            principal.organization,
            title=title,
            duration_minutes=duration_minutes,
            question_version_ids=question_version_ids or [],
            created_by=principal.user,
        )
    except ValidationFailed as exc:
        return templates.TemplateResponse(
            request,
            "assessment_new.html",
            {
                "me": principal,
                "questions": current_versions(session),
                "errors": exc.errors,
                "form": {
                    "title": title,
                    "duration_minutes": duration_minutes,
                    "selected": set(question_version_ids or []),
                },
            },
            status_code=422,
        )
    return RedirectResponse(f"/assessments/{assessment.id}", status_code=303)


@router.get("/assessments/{assessment_id}")
def assessment_page(
    request: Request, session: SessionDep, principal: CurrentPrincipal, assessment_id: int
) -> Response:
    assessment = get_assessment(session, principal.organization, assessment_id)
    return templates.TemplateResponse(
        request,
        "assessment.html",
        {
            "me": principal,
            "assessment": assessment,
            "invitations": list_invitations(session, principal.organization, assessment),
            "new_link": None,
        },
    )


@router.post("/assessments/{assessment_id}/publish")
def publish(session: SessionDep, principal: CurrentPrincipal, assessment_id: int) -> Response:
    principal.require_editor()
    publish_assessment(session, get_assessment(session, principal.organization, assessment_id))
    return RedirectResponse(f"/assessments/{assessment_id}", status_code=303)


@router.post("/assessments/{assessment_id}/invitations")
def invite(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    assessment_id: int,
    email: Annotated[str, Form(max_length=320)],
    first_name: Annotated[str, Form(max_length=120)] = "",
    last_name: Annotated[str, Form(max_length=120)] = "",
    extra_time_pct: Annotated[int, Form(ge=0, le=200)] = 0,
) -> Response:
    principal.require_editor()
    assessment = get_assessment(session, principal.organization, assessment_id)
    issued = create_invitation(
        session,
        principal.organization,
        assessment,
        email=email,
        first_name=first_name,
        last_name=last_name,
        extra_time_pct=extra_time_pct,
        ttl=timedelta(days=settings.invitation_ttl_days),
        created_by=principal.user,
    )
    # The link is shown once, now: only its digest is stored.
    return templates.TemplateResponse(
        request,
        "assessment.html",
        {
            "me": principal,
            "assessment": assessment,
            "invitations": list_invitations(session, principal.organization, assessment),
            "new_link": issued.link(settings.base_url),
            "new_candidate": issued.invitation.candidate,
        },
        status_code=201,
    )


@router.get("/invitations/{invitation_id}")
def result_page(
    request: Request, session: SessionDep, principal: CurrentPrincipal, invitation_id: int
) -> Response:
    report = attempt_report(session, principal.organization, invitation_id)
    return templates.TemplateResponse(request, "result.html", {"me": principal, "report": report})

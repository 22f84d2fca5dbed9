"""Recruiter pages: dashboard, building and publishing assessments, inviting, reading results."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from app.accounts.service import Principal
from app.assessments.service import create_assessment, get_assessment, list_assessments, publish_assessment
from app.deps import CurrentPrincipal, SessionDep, SettingsDep
from app.errors import ValidationFailed
from app.invitations.service import IssuedInvitation, create_invitation, list_invitations
from app.models import Assessment
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
        {
            "me": principal,
            "questions": current_versions(session),
            "errors": [],
            "form": {},
        },
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


def _assessment_view(
    request: Request,
    session: Session,
    principal: Principal,
    assessment: Assessment,
    *,
    issued: IssuedInvitation | None = None,
    base_url: str = "",
) -> Response:
    return templates.TemplateResponse(
        request,
        "assessment.html",
        {
            "me": principal,
            "assessment": assessment,
            "invitations": list_invitations(session, principal.organization, assessment),
            # The link is shown once, on creation: only its digest is stored.
            "new_link": issued.link(base_url) if issued else None,
            "new_candidate": issued.invitation.candidate if issued else None,
        },
        status_code=201 if issued else 200,
    )


@router.get("/assessments/{assessment_id}")
def assessment_page(
    request: Request, session: SessionDep, principal: CurrentPrincipal, assessment_id: int
) -> Response:
    assessment = get_assessment(session, principal.organization, assessment_id)
    return _assessment_view(request, session, principal, assessment)


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
    return _assessment_view(
        request, session, principal, assessment, issued=issued, base_url=settings.base_url
    )


@router.get("/invitations/{invitation_id}")
def result_page(
    request: Request, session: SessionDep, principal: CurrentPrincipal, invitation_id: int
) -> Response:
    report = attempt_report(session, principal.organization, invitation_id)
    return templates.TemplateResponse(request, "result.html", {"me": principal, "report": report})

"""Recruiter pages for inviting candidates: one by one, many from a CSV file, and resending or cancelling."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from app.assessments.service import get_assessment
from app.core.errors import AppError, FieldError, ValidationFailed
from app.core.ids import PathId
from app.http.deps import Editor, SessionDep, SettingsDep
from app.invitations import service as invitations
from app.web.pages import redirect
from app.web.results import overview

router = APIRouter()

MAX_CSV_BYTES = 1024 * 1024


def _expiry(days: int | None, settings: SettingsDep) -> timedelta:
    if days is None:
        return timedelta(days=settings.invitation_ttl_days)
    if not 1 <= days <= 365:
        raise ValidationFailed(
            "The link's lifetime is out of range.",
            errors=[FieldError("expires_in_days", "from 1 to 365 days")],
        )
    return timedelta(days=days)


@router.post("/assessments/{assessment_id}/invitations")
def invite(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Editor,
    assessment_id: PathId,
    email: Annotated[str, Form(max_length=320)],
    first_name: Annotated[str, Form(max_length=120)] = "",
    last_name: Annotated[str, Form(max_length=120)] = "",
    extra_time_pct: Annotated[int, Form(ge=0, le=200)] = 0,
    expires_in_days: Annotated[int | None, Form()] = None,
    send_email: Annotated[bool, Form()] = False,
    again: Annotated[bool, Form()] = False,
) -> Response:
    assessment = get_assessment(session, principal.organization, assessment_id)
    already = [] if again else invitations.invitations_of(session, assessment, email)
    if already:
        # Someone with a link (or a finished attempt) already: ask before a second invitation and email.
        return overview(
            request,
            session,
            principal,
            assessment,
            reinvite={
                "existing": already,
                "fields": {
                    "email": email,
                    "first_name": first_name,
                    "last_name": last_name,
                    "extra_time_pct": extra_time_pct,
                    "expires_in_days": expires_in_days or "",
                    "send_email": "true" if send_email else "",
                },
            },
            status_code=409,
        )
    try:
        issued = invitations.invite(
            session,
            principal,
            assessment,
            invitations.Invitee(email, first_name, last_name, extra_time_pct),
            settings=settings,
            send_email=send_email,
            ttl=_expiry(expires_in_days, settings),
        )
    except AppError as exc:
        return overview(request, session, principal, assessment, error=exc)
    return overview(
        request,
        session,
        principal,
        assessment,
        issued=issued,
        new_link=issued.link(settings.base_url),
        emailed=send_email,
        status_code=201,
    )


@router.post("/assessments/{assessment_id}/invitations/csv")
async def invite_csv(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Editor,
    assessment_id: PathId,
    file: Annotated[UploadFile, File()],
    expires_in_days: Annotated[int | None, Form()] = None,
    send_email: Annotated[bool, Form()] = False,
) -> Response:
    assessment = get_assessment(session, principal.organization, assessment_id)
    data = await file.read(MAX_CSV_BYTES + 1)
    try:
        if len(data) > MAX_CSV_BYTES:
            raise ValidationFailed(
                "The file is too large.", errors=[FieldError("file", f"at most {MAX_CSV_BYTES // 1024} KiB")]
            )
        report = invitations.invite_from_csv(
            session,
            principal,
            assessment,
            data,
            settings=settings,
            send_email=send_email,
            ttl=_expiry(expires_in_days, settings),
        )
    except AppError as exc:
        return overview(request, session, principal, assessment, error=exc)
    return overview(
        request,
        session,
        principal,
        assessment,
        csv_report=report,
        emailed=send_email,
        status_code=201 if report.ok else 422,
    )


@router.post("/invitations/{invitation_id}/cancel")
def cancel(session: SessionDep, principal: Editor, invitation_id: PathId) -> Response:
    invitation = invitations.get_invitation(session, principal.organization, invitation_id)
    invitations.cancel_invitation(session, principal, invitation)
    return redirect(f"/assessments/{invitation.assessment_id}", "invitation_cancelled")


@router.post("/invitations/{invitation_id}/resend")
def resend(session: SessionDep, settings: SettingsDep, principal: Editor, invitation_id: PathId) -> Response:
    invitation = invitations.get_invitation(session, principal.organization, invitation_id)
    invitations.resend_invitation(session, principal, invitation, settings=settings)
    return redirect(f"/assessments/{invitation.assessment_id}", "invitation_resent")

"""Recruiter pages for inviting candidates: one by one, many from a CSV file, and resending or cancelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from app.assessments.service import get_assessment
from app.audit.service import record
from app.core.errors import AppError, FieldError, ValidationFailed
from app.core.ids import PathId
from app.http.deps import CurrentPrincipal, SessionDep, SettingsDep
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
    principal: CurrentPrincipal,
    assessment_id: PathId,
    email: Annotated[str, Form(max_length=320)],
    first_name: Annotated[str, Form(max_length=120)] = "",
    last_name: Annotated[str, Form(max_length=120)] = "",
    extra_time_pct: Annotated[int, Form(ge=0, le=200)] = 0,
    expires_in_days: Annotated[int | None, Form()] = None,
    send_email: Annotated[bool, Form()] = False,
) -> Response:
    principal.require_editor()
    assessment = get_assessment(session, principal.organization, assessment_id)
    try:
        issued = invitations.create_invitation(
            session,
            principal.organization,
            assessment,
            email=email,
            first_name=first_name,
            last_name=last_name,
            extra_time_pct=extra_time_pct,
            ttl=_expiry(expires_in_days, settings),
            secret_key=settings.secret_key.get_secret_value(),
            created_by=principal.user,
        )
    except AppError as exc:
        return overview(request, session, principal, assessment, error=exc)
    link = issued.link(settings.base_url)
    if send_email:
        invitations.email_invitation(session, issued.invitation, link)
    record(
        session, principal, "invitation.created", issued.invitation, email=issued.invitation.candidate.email
    )
    return overview(
        request,
        session,
        principal,
        assessment,
        issued=issued,
        new_link=link,
        emailed=send_email,
        status_code=201,
    )


@router.post("/assessments/{assessment_id}/invitations/csv")
async def invite_csv(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    assessment_id: PathId,
    file: Annotated[UploadFile, File()],
    expires_in_days: Annotated[int | None, Form()] = None,
    send_email: Annotated[bool, Form()] = False,
) -> Response:
    principal.require_editor()
    assessment = get_assessment(session, principal.organization, assessment_id)
    data = await file.read(MAX_CSV_BYTES + 1)
    try:
        if len(data) > MAX_CSV_BYTES:
            raise ValidationFailed(
                "The file is too large.", errors=[FieldError("file", f"at most {MAX_CSV_BYTES // 1024} KiB")]
            )
        report = invitations.invite_from_csv(
            session,
            principal.organization,
            assessment,
            data,
            ttl=_expiry(expires_in_days, settings),
            secret_key=settings.secret_key.get_secret_value(),
            base_url=settings.base_url,
            send_email=send_email,
            created_by=principal.user,
        )
    except AppError as exc:
        return overview(request, session, principal, assessment, error=exc)
    if report.invited:
        record(session, principal, "invitations.imported", assessment, count=len(report.invited))
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
def cancel(session: SessionDep, principal: CurrentPrincipal, invitation_id: PathId) -> Response:
    principal.require_editor()
    invitation = invitations.get_invitation(session, principal.organization, invitation_id)
    invitations.cancel_invitation(session, invitation)
    record(session, principal, "invitation.cancelled", invitation)
    return redirect(f"/assessments/{invitation.assessment_id}", "invitation_cancelled")


@router.post("/invitations/{invitation_id}/resend")
def resend(
    session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal, invitation_id: PathId
) -> Response:
    principal.require_editor()
    invitation = invitations.get_invitation(session, principal.organization, invitation_id)
    invitations.resend_invitation(
        session,
        invitation,
        ttl=timedelta(days=settings.invitation_ttl_days),
        secret_key=settings.secret_key.get_secret_value(),
        base_url=settings.base_url,
    )
    record(session, principal, "invitation.resent", invitation, expires_at=_iso(invitation.expires_at))
    return redirect(f"/assessments/{invitation.assessment_id}", "invitation_resent")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")

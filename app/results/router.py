"""/api/v1/invitations/{id}/result, its PDF, and report links that open without an Assay login."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import ResultsRead
from app.core.ids import PathId
from app.http.deps import SessionDep, SettingsDep
from app.invitations.service import get_invitation
from app.results.pdf import PDF, pdf_response, report_pdf
from app.results.report import attempt_report
from app.results.schemas import ReportLinkIn, ReportLinkOut, ResultOut
from app.results.sharing import share_report
from app.results.statistics import ability_of

router = APIRouter(tags=["Results"])


@router.get(
    "/invitations/{invitation_id}/result", summary="Read an invitation's result, question by question"
)
def get_result(
    session: SessionDep, settings: SettingsDep, principal: ResultsRead, invitation_id: PathId
) -> ResultOut:
    report = attempt_report(session, principal.organization, invitation_id)
    ability = ability_of(session, principal.organization, report, min_attempts=settings.irt_min_attempts)
    return ResultOut.of(report, settings.base_url, ability)


@router.get(
    "/invitations/{invitation_id}/report.pdf",
    summary="The candidate's report as a PDF",
    response_class=Response,
    responses={200: {"content": {PDF: {"schema": {"type": "string", "format": "binary"}}}}},
)
def get_report_pdf(
    session: SessionDep, settings: SettingsDep, principal: ResultsRead, invitation_id: PathId
) -> Response:
    return pdf_response(
        report_pdf(attempt_report(session, principal.organization, invitation_id), settings.report_font_dir),
        invitation_id,
    )


@router.post(
    "/invitations/{invitation_id}/report_link",
    status_code=201,
    summary="A link to the report (page and PDF) that opens without an Assay login until it expires",
)
def create_report_link(
    session: SessionDep,
    settings: SettingsDep,
    principal: ResultsRead,
    invitation_id: PathId,
    body: ReportLinkIn | None = None,
) -> ReportLinkOut:
    """For an HR system to show the report beside the candidate. Whoever holds the link reads the
    candidate's answers until it expires; each link made is in the audit log."""
    invitation = get_invitation(session, principal.organization, invitation_id)
    link = share_report(
        session,
        principal,
        invitation,
        days=(body or ReportLinkIn()).expires_in_days,
        base_url=settings.base_url,
        secret=settings.secret_key.get_secret_value(),
    )
    return ReportLinkOut.of(link)

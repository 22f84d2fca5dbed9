"""A candidate's report opened through a report link: read-only, for whoever holds the link until it
expires (app.results.sharing), with no Assay login. Not a recruiter page: the link is the credential."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.http.deps import SessionDep, SettingsDep
from app.results import charts
from app.results.pdf import pdf_response, report_pdf
from app.results.report import attempt_report
from app.results.sharing import shared_invitation
from app.web.pages import page

router = APIRouter()
# A shared report is nobody's to index or keep: the link is the credential.
SHARED_HEADERS = {
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
}


@router.get("/reports/{token}")
def shared_result_page(request: Request, session: SessionDep, settings: SettingsDep, token: str) -> Response:
    """The report a signed link opens, read-only, for whoever holds the link until it expires."""
    org, invitation = shared_invitation(session, token, settings.secret_key.get_secret_value())
    report = attempt_report(session, org, invitation.id)
    response = page(
        request,
        "result.html",
        None,
        report=report,
        profile=charts.topic_profile(report.topics) if report.score and report.topics else None,
        shared=f"/reports/{token}/pdf",
        zone=org.time_zone,
    )
    response.headers.update(SHARED_HEADERS)
    return response


@router.get("/reports/{token}/pdf")
def shared_result_pdf(session: SessionDep, settings: SettingsDep, token: str) -> Response:
    org, invitation = shared_invitation(session, token, settings.secret_key.get_secret_value())
    response = pdf_response(
        report_pdf(attempt_report(session, org, invitation.id), settings.report_font_dir), invitation.id
    )
    response.headers.update(SHARED_HEADERS)
    return response

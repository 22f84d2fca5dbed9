"""Recruiter pages for reading results: an assessment's overview (candidates, distribution, invitations),
one candidate's report with manual scoring, comparison, CSV export and item statistics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from app.accounts.principal import Principal
from app.assessments.service import get_assessment, summarize, version_history
from app.candidates import service as candidates
from app.core.config import Settings
from app.core.errors import AppError, FieldError, ValidationFailed
from app.core.ids import PathId
from app.grading.service import retry_grading
from app.http.deps import CurrentPrincipal, Editor, Owner, SessionDep, SettingsDep
from app.invitations.service import CsvReport, IssuedInvitation, get_invitation, rebuild_link
from app.models import Assessment, InvitationStatus, QuestionType
from app.results import charts, pool, statistics, table
from app.results import service as results
from app.results.pdf import pdf_response, report_pdf
from app.results.report import attempt_report
from app.results.sharing import DEFAULT_DAYS, MAX_DAYS, ReportLink, share_report
from app.web.pages import page, redirect

router = APIRouter()


class TableQuery(BaseModel):
    """The overview table's filters and order, kept in the address so a view can be bookmarked."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["", "sent", "started", "completed", "expired", "cancelled"] = ""
    review: Literal["", "needed"] = ""
    verdict: Literal["", "pass", "fail"] = ""
    q: Annotated[str, Field(max_length=200)] = ""
    sort: Literal["name", "status", "score", "invited", "completed"] = "invited"
    dir: Literal["asc", "desc"] = "desc"


def overview(
    request: Request,
    session: SessionDep,
    principal: Principal,
    assessment: Assessment,
    *,
    query: TableQuery | None = None,
    error: AppError | None = None,
    issued: IssuedInvitation | None = None,
    new_link: str | None = None,
    emailed: bool = False,
    csv_report: CsvReport | None = None,
    reinvite: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    query = query or TableQuery()
    rows = table.results_table(session, principal.organization, assessment)
    finished = [r.score.percent for r in rows if r.score and r.score.complete and r.score.percent is not None]
    shown = table.filter_and_sort(
        rows,
        status=query.status,
        review=query.review,
        verdict=query.verdict,
        q=query.q,
        sort=query.sort,
        descending=query.dir == "desc",
    )
    settings: Settings = request.app.state.settings
    secret = settings.secret_key.get_secret_value()
    unused = (InvitationStatus.SENT, InvitationStatus.EXPIRED)
    return page(
        request,
        "assessment.html",
        principal,
        status_code=error.status_code if error else status_code,
        # Without a mail server nothing leaves the machine: the page says so, and gives every link to copy.
        mail_server=bool(settings.smtp_host),
        links={
            r.invitation.id: rebuild_link(r.invitation, secret, settings.base_url)
            for r in shown
            if r.status in unused
        },
        csv_links={
            i.candidate.email: rebuild_link(i, secret, settings.base_url)
            for i in (csv_report.invited if csv_report else [])
        },
        assessment=assessment,
        summary=summarize(assessment),
        has_coding=any(i.question_version.type == QuestionType.CODING for i in assessment.items),
        versions=version_history(session, assessment),
        rows=shown,
        total_rows=len(rows),
        counts={s.value: sum(1 for r in rows if r.status == s) for s in InvitationStatus},
        query=query,
        distribution=charts.score_distribution(finished, assessment.pass_mark_pct) if finished else None,
        not_charted=sum(1 for r in rows if r.score and not r.score.complete),
        bins=[(charts.bin_label(i), n) for i, n in enumerate(charts.distribution_bins(finished))],
        error=error,
        issued=issued,
        new_link=new_link,
        emailed=emailed,
        csv_report=csv_report,
        reinvite=reinvite,
    )


@router.get("/assessments/{assessment_id}")
def assessment_page(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    assessment_id: PathId,
    query: Annotated[TableQuery, Query()],
) -> Response:
    assessment = get_assessment(session, principal.organization, assessment_id)
    return overview(request, session, principal, assessment, query=query)


@router.get("/assessments/{assessment_id}/results.csv")
def export(session: SessionDep, principal: CurrentPrincipal, assessment_id: PathId) -> Response:
    assessment = get_assessment(session, principal.organization, assessment_id)
    filename = f"assay-results-{assessment.id}-v{assessment.version}.csv"
    return Response(
        results.export_results(session, principal, assessment),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


MAX_COMPARED = 6


@router.get("/assessments/{assessment_id}/compare")
def compare(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    assessment_id: PathId,
    ids: Annotated[list[int], Query(max_length=50)] = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    assessment = get_assessment(session, principal.organization, assessment_id)
    chosen = list(dict.fromkeys(ids))
    if not 2 <= len(chosen) <= MAX_COMPARED:
        raise ValidationFailed(
            "Choose candidates to compare.",
            errors=[FieldError("ids", f"tick between 2 and {MAX_COMPARED} candidates in the table")],
        )
    by_id = {r.invitation.id: r for r in table.results_table(session, principal.organization, assessment)}
    rows = [by_id[i] for i in chosen if i in by_id]
    if len(rows) != len(chosen):
        raise ValidationFailed(
            "Some candidates are not in this assessment.", errors=[FieldError("ids", "unknown candidates")]
        )
    topics = sorted({i.question_version.topic for i in assessment.items})
    return page(
        request,
        "compare.html",
        principal,
        assessment=assessment,
        rows=rows,
        topics=topics,
        topic_parts=[{p.name: p for p in r.scored.by("topic")} if r.scored and r.score else {} for r in rows],
    )


@router.get("/assessments/{assessment_id}/stats")
def statistics_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    assessment_id: PathId,
) -> Response:
    assessment = get_assessment(session, principal.organization, assessment_id)
    stats = statistics.item_statistics(
        session, principal.organization, assessment, min_attempts=settings.item_stats_min_attempts
    )
    insight = pool.assessment_insight(session, assessment)
    model = statistics.item_response_model(
        session, principal.organization, assessment, min_attempts=settings.irt_min_attempts
    )
    return page(
        request,
        "stats.html",
        principal,
        assessment=assessment,
        stats=stats,
        min_attempts=settings.item_stats_min_attempts,
        threshold=statistics.LOW_DISCRIMINATION,
        insight=insight,
        misconceptions=charts.misconception_frequencies(
            [d.label for d in insight.diagnoses],
            [d.share for d in insight.diagnoses],
            "Candidates whose code shows each misconception (%)",
        )
        if insight.diagnoses
        else None,
        model=model,
        abilities=charts.ability_distribution([c.ability.theta for c in model.candidates])
        if model.fitted
        else None,
        curves=charts.item_curves(
            [
                (f"Q{m.position}", [(t, float(m.parameters.probability(np.array([t]))[0])) for t in THETAS])
                for m in model.items
                if m.parameters is not None
            ]
        )
        if model.fitted
        else None,
    )


# Abilities at which the item curves are drawn: -3 to 3 in steps of a quarter.
THETAS = [x / 4 for x in range(-12, 13)]


@router.get("/insights")
def insights_page(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    tasks = pool.organization_insight(session, principal.organization)
    return page(
        request,
        "insights.html",
        principal,
        tasks=[
            (
                task,
                charts.misconception_frequencies(
                    [d.label for d in task.diagnoses],
                    [d.share for d in task.diagnoses],
                    f"{task.task_id}: candidates whose code shows each misconception (%)",
                )
                if task.diagnoses
                else None,
            )
            for task in tasks
        ],
    )


def _report_page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    invitation_id: int,
    *,
    error: AppError | None = None,
    error_item: int | None = None,
    link: ReportLink | None = None,
) -> Response:
    report = attempt_report(session, principal.organization, invitation_id)
    return page(
        request,
        "result.html",
        principal,
        status_code=error.status_code if error else 200,
        report=report,
        profile=charts.topic_profile(report.topics) if report.score and report.topics else None,
        error=error,
        error_item=error_item,
        link=link,
        share_days=(DEFAULT_DAYS, MAX_DAYS),
        ability=statistics.ability_of(
            session, principal.organization, report, min_attempts=request.app.state.settings.irt_min_attempts
        ),
    )


@router.get("/invitations/{invitation_id}/report.pdf")
def result_pdf(
    session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal, invitation_id: PathId
) -> Response:
    report = attempt_report(session, principal.organization, invitation_id)
    return pdf_response(report_pdf(report, settings.report_font_dir), invitation_id)


@router.post("/invitations/{invitation_id}/report_link")
def share_result(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Editor,
    invitation_id: PathId,
    days: Annotated[int, Form(ge=1, le=MAX_DAYS)] = DEFAULT_DAYS,
) -> Response:
    """A link to this report for someone without an Assay login (shown once on the page, audited). Sharing
    outside the team is a change a viewer may not make."""
    link = share_report(
        session,
        principal,
        get_invitation(session, principal.organization, invitation_id),
        days=days,
        base_url=settings.base_url,
        secret=settings.secret_key.get_secret_value(),
    )
    return _report_page(request, session, principal, invitation_id, link=link)


@router.get("/invitations/{invitation_id}")
def result_page(
    request: Request, session: SessionDep, principal: CurrentPrincipal, invitation_id: PathId
) -> Response:
    return _report_page(request, session, principal, invitation_id)


@router.post("/invitations/{invitation_id}/items/{item_id}/score")
async def score_written(
    request: Request, session: SessionDep, principal: Editor, invitation_id: PathId, item_id: PathId
) -> Response:
    invitation = get_invitation(session, principal.organization, invitation_id)
    form = await request.form()
    criteria: dict[str, Any] = {}
    problems = []
    for key, value in form.items():
        if key.startswith("criterion_") and isinstance(value, str):
            try:
                criteria[key.removeprefix("criterion_")] = float(value) if value.strip() else None
            except ValueError:
                problems.append(FieldError(key, f"{value[:20]!r} is not a number"))
    comment = form.get("comment")
    try:
        if problems:
            raise ValidationFailed("The score was not saved.", errors=problems)
        results.score_written_answer(
            session,
            principal,
            invitation,
            item_id,
            {k: v for k, v in criteria.items() if v is not None},
            comment if isinstance(comment, str) else "",
        )
    except AppError as exc:
        session.rollback()
        return _report_page(request, session, principal, invitation_id, error=exc, error_item=item_id)
    return redirect(f"/invitations/{invitation_id}#item-{item_id}", "scored")


@router.post("/invitations/{invitation_id}/items/{item_id}/regrade")
def regrade_code(
    request: Request, session: SessionDep, principal: Editor, invitation_id: PathId, item_id: PathId
) -> Response:
    """Grade a final submission whose grading failed again (the failure's reason is on the report)."""
    invitation = get_invitation(session, principal.organization, invitation_id)
    try:
        submission = results.final_code_submission(session, invitation, item_id)
        retry_grading(session, principal, submission)
    except AppError as exc:
        session.rollback()
        return _report_page(request, session, principal, invitation_id, error=exc, error_item=item_id)
    return redirect(f"/invitations/{invitation_id}#item-{item_id}", "regrading")


@router.get("/invitations/{invitation_id}/candidate/export")
def export_candidate(session: SessionDep, principal: Owner, invitation_id: PathId) -> Response:
    """Everything held on the invitation's candidate, as a JSON download (owners only: it is all of it)."""
    candidate = get_invitation(session, principal.organization, invitation_id).candidate
    document = candidates.export_candidate(session, principal, candidate)
    filename = f"candidate-{candidate.id}-{document.exported_at:%Y%m%d}.json"
    return Response(
        document.model_dump_json(indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.post("/invitations/{invitation_id}/candidate/erase")
def erase_candidate(
    request: Request,
    session: SessionDep,
    principal: Owner,
    invitation_id: PathId,
    confirm_email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    candidate = get_invitation(session, principal.organization, invitation_id).candidate
    try:
        candidates.confirm_erasure(candidate, confirm_email)
        candidates.erase_candidate(session, principal, candidate)
    except AppError as exc:
        session.rollback()
        return _report_page(request, session, principal, invitation_id, error=exc)
    return redirect(f"/invitations/{invitation_id}", "candidate_erased")

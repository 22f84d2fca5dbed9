"""Recruiter pages for building assessments: the list, a new or auto-composed draft, the builder (settings,
sections, questions, points), the bank browser with previews, and the lifecycle (publish, new version,
duplicate, archive)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.assessments import service as assessments
from app.attempts.schemas import RunRequest
from app.attempts.service import ensure_runnable
from app.core.errors import AppError, Conflict, FieldError, ValidationFailed
from app.core.ids import PathId, parse_id
from app.core.rate_limits import RateLimits
from app.http.deps import CurrentPrincipal, Editor, SessionDep
from app.models import Assessment, AssessmentStatus, QuestionType, utcnow
from app.questions.kinds import Draw
from app.questions.service import BankFilter, browse_bank, get_version, spec_of
from app.questions.spec import Coding
from app.results import service as results
from app.web.pages import attempt_views, by_section, page, question_view, redirect
from grader import get_task, grade
from grader.sandbox import SandboxUnavailable

router = APIRouter()

Direction = Literal["up", "down"]
STEP = {"up": -1, "down": 1}
PREVIEW_SEED = 20_240_601  # a fixed seed: every preview of a numeric question shows the same numbers
BANK_PAGE_SIZE = 20


@router.get("/")
def dashboard(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    listed = assessments.list_assessments(session, principal.organization)
    counts = results.round_counts(session, principal.organization)
    return page(
        request,
        "dashboard.html",
        principal,
        assessments=listed,
        lines=assessments.version_lines(listed),
        counts=counts,
        # The same attempts the review queue lists, counted from the round counts: no second query.
        waiting=sum(c.needs_review for c in counts.values()),
    )


@router.get("/review")
def review_queue_page(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Written answers waiting for a person, across every assessment, the longest waiting first."""
    return page(
        request, "review.html", principal, queue=results.review_queue(session, principal.organization)
    )


def _new_page(
    request: Request,
    principal: Principal,
    *,
    errors: list[Any] | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    return page(
        request,
        "assessment_new.html",
        principal,
        status_code=422 if errors else 200,
        roles=assessments.ROLES,
        errors=errors or [],
        form=form or {},
    )


@router.get("/assessments/new")
def new_assessment_page(request: Request, principal: Editor) -> Response:
    return _new_page(request, principal)


@router.post("/assessments")
def create_assessment(
    request: Request,
    session: SessionDep,
    principal: Editor,
    title: Annotated[str, Form(max_length=200)],
    duration_minutes: Annotated[int, Form()],
    role: Annotated[str, Form(max_length=80)] = "",
    question_version_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    try:
        assessment = assessments.create_assessment(
            session,
            principal,
            title=title,
            duration_minutes=duration_minutes,
            role=role,
            question_version_ids=question_version_ids or [],
        )
    except AppError as exc:
        return _new_page(
            request, principal, errors=exc.errors, form={"title": title, "duration_minutes": duration_minutes}
        )
    return redirect(f"/assessments/{assessment.id}/edit")


@router.post("/assessments/compose")
def compose_assessment(
    request: Request,
    session: SessionDep,
    principal: Editor,
    role: Annotated[str, Form(max_length=80)],
    duration_minutes: Annotated[int, Form()],
    easy: Annotated[int, Form(ge=0, le=100)] = 30,
    medium: Annotated[int, Form(ge=0, le=100)] = 50,
    hard: Annotated[int, Form(ge=0, le=100)] = 20,
) -> Response:
    mix = assessments.DifficultyMix(easy=easy, medium=medium, hard=hard)
    try:
        assessment = assessments.compose(
            session, principal, role=role, duration_minutes=duration_minutes, mix=mix
        )
    except AppError as exc:
        return _new_page(
            request,
            principal,
            errors=exc.errors,
            form={
                "role": role,
                "compose_minutes": duration_minutes,
                "easy": easy,
                "medium": medium,
                "hard": hard,
            },
        )
    return redirect(f"/assessments/{assessment.id}/edit", "composed")


def _draft(session: Session, principal: Principal, assessment_id: int) -> Assessment:
    return assessments.get_assessment(session, principal.organization, assessment_id)


def _builder(
    request: Request,
    session: SessionDep,
    principal: Principal,
    assessment: Assessment,
    error: AppError | None,
) -> Response:
    return page(
        request,
        "builder.html",
        principal,
        status_code=error.status_code if error else 200,
        assessment=assessment,
        summary=assessments.summarize(assessment),
        roles=assessments.ROLES,
        error=error,
    )


@router.get("/assessments/{assessment_id}/edit")
def builder_page(request: Request, session: SessionDep, principal: Editor, assessment_id: PathId) -> Response:
    assessment = _draft(session, principal, assessment_id)
    if assessment.status != AssessmentStatus.DRAFT:
        return redirect(f"/assessments/{assessment.id}")
    return _builder(request, session, principal, assessment, None)


@dataclass(frozen=True)
class BuilderEdit:
    """One change to a draft from the builder, audited by the service, then back to the builder, where a
    refused change is explained."""

    request: Request
    session: Session
    principal: Principal
    assessment_id: int

    def apply(
        self,
        change: Callable[[Session, Assessment], object],
        action: str,
        anchor: str = "",
        **detail: Any,
    ) -> Response:
        """A change to the draft's sections or questions."""
        return self.run(
            lambda session, assessment: assessments.edit_draft(
                session, self.principal, assessment, action, change, **detail
            ),
            anchor,
        )

    def run(self, use_case: Callable[[Session, Assessment], object], anchor: str = "") -> Response:
        """Apply the change and come back to the builder at `anchor` (the element changed), so that without
        scripts the page opens where the recruiter was; with them, builder.js swaps the page in place."""
        assessment = _draft(self.session, self.principal, self.assessment_id)
        try:
            use_case(self.session, assessment)
        except AppError as exc:
            self.session.rollback()
            assessment = assessments.get_assessment(
                self.session, self.principal.organization, self.assessment_id
            )
            return _builder(self.request, self.session, self.principal, assessment, exc)
        return redirect(f"/assessments/{self.assessment_id}/edit#{anchor or 'builder'}", "saved")


def builder_edit(
    request: Request, session: SessionDep, principal: Editor, assessment_id: PathId
) -> BuilderEdit:
    return BuilderEdit(request, session, principal, assessment_id)


Edit = Annotated[BuilderEdit, Depends(builder_edit)]


@router.post("/assessments/{assessment_id}/settings")
def save_settings(
    edit: Edit,
    title: Annotated[str, Form(max_length=200)],
    duration_minutes: Annotated[int, Form()],
    description: Annotated[str, Form(max_length=5000)] = "",
    role: Annotated[str, Form(max_length=80)] = "",
    pass_mark_pct: Annotated[str, Form(max_length=10)] = "",
    show_score_to_candidate: Annotated[bool, Form()] = False,
    shuffle_items: Annotated[bool, Form()] = False,
    shuffle_options: Annotated[bool, Form()] = False,
    sample_run_diagnoses: Annotated[bool, Form()] = False,
) -> Response:
    settings = assessments.AssessmentSettings(
        title=title,
        duration_minutes=duration_minutes,
        description=description,
        role=role,
        pass_mark_pct=_optional_number(pass_mark_pct, "pass_mark_pct"),
        show_score_to_candidate=show_score_to_candidate,
        shuffle_items=shuffle_items,
        shuffle_options=shuffle_options,
        sample_run_diagnoses=sample_run_diagnoses,
    )
    return edit.run(lambda s, a: assessments.update_settings(s, edit.principal, a, settings), "settings")


def _optional_number(text: str, field: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationFailed(
            "Please enter a number.", errors=[FieldError(field, f"{text!r} is not a number")]
        ) from None


@router.post("/assessments/{assessment_id}/sections")
def add_section(edit: Edit, title: Annotated[str, Form(max_length=200)]) -> Response:
    return edit.apply(
        lambda s, a: assessments.add_section(s, a, title),
        "assessment.section_added",
        "questions",
        title=title,
    )


@router.post("/assessments/{assessment_id}/sections/{section_id}/rename")
def rename_section(edit: Edit, section_id: PathId, title: Annotated[str, Form(max_length=200)]) -> Response:
    return edit.apply(
        lambda s, a: assessments.rename_section(s, a, section_id, title),
        "assessment.section_renamed",
        f"section-{section_id}",
        title=title,
    )


@router.post("/assessments/{assessment_id}/sections/{section_id}/move")
def move_section(edit: Edit, section_id: PathId, direction: Annotated[Direction, Form()]) -> Response:
    return edit.apply(
        lambda s, a: assessments.move_section(s, a, section_id, STEP[direction]),
        "assessment.section_moved",
        f"section-{section_id}",
    )


@router.post("/assessments/{assessment_id}/sections/{section_id}/remove")
def remove_section(edit: Edit, section_id: PathId) -> Response:
    return edit.apply(
        lambda s, a: assessments.remove_section(s, a, section_id), "assessment.section_removed", "questions"
    )


@router.post("/assessments/{assessment_id}/items")
def add_item(
    edit: Edit,
    question_version_id: Annotated[int, Form()],
    section_id: Annotated[str, Form(max_length=20)] = "",
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    section = parse_id(section_id)
    response = edit.apply(
        lambda s, a: assessments.add_item(s, a, question_version_id, section),
        "assessment.question_added",
        question_version_id=question_version_id,
    )
    # Adding from the bank browser returns to the same filtered list.
    if response.status_code == 303 and back.startswith(f"/assessments/{edit.assessment_id}/bank"):
        return redirect(back, "saved")
    return response


@router.post("/assessments/{assessment_id}/items/{item_id}/points")
def set_points(edit: Edit, item_id: PathId, points: Annotated[float, Form()]) -> Response:
    return edit.apply(
        lambda s, a: assessments.set_points(s, a, item_id, points),
        "assessment.points_changed",
        f"item-{item_id}",
        item_id=item_id,
        points=points,
    )


@router.post("/assessments/{assessment_id}/items/{item_id}/move")
def move_item(edit: Edit, item_id: PathId, direction: Annotated[Direction, Form()]) -> Response:
    return edit.apply(
        lambda s, a: assessments.move_item(s, a, item_id, STEP[direction]),
        "assessment.question_moved",
        f"item-{item_id}",
        item_id=item_id,
    )


@router.post("/assessments/{assessment_id}/items/{item_id}/section")
def set_item_section(edit: Edit, item_id: PathId, section_id: Annotated[int, Form()]) -> Response:
    return edit.apply(
        lambda s, a: assessments.set_item_section(s, a, item_id, section_id),
        "assessment.question_moved",
        f"item-{item_id}",
        item_id=item_id,
        section_id=section_id,
    )


@router.post("/assessments/{assessment_id}/items/{item_id}/place")
def place_item(
    edit: Edit,
    item_id: PathId,
    section_id: Annotated[int, Form()],
    index: Annotated[int, Form(ge=0, le=10_000)],
) -> Response:
    """Where a question was dragged to: its section and its place among that section's questions."""
    return edit.apply(
        lambda s, a: assessments.place_item(s, a, item_id, section_id, index),
        "assessment.question_moved",
        f"item-{item_id}",
        item_id=item_id,
        section_id=section_id,
        index=index,
    )


@router.post("/assessments/{assessment_id}/items/{item_id}/remove")
def remove_item(edit: Edit, item_id: PathId) -> Response:
    return edit.apply(
        lambda s, a: assessments.remove_item(s, a, item_id),
        "assessment.question_removed",
        "questions",
        item_id=item_id,
    )


@router.post("/assessments/{assessment_id}/publish")
def publish(request: Request, session: SessionDep, principal: Editor, assessment_id: PathId) -> Response:
    assessment = _draft(session, principal, assessment_id)
    try:
        assessments.publish_assessment(session, principal, assessment)
    except AppError as exc:
        if assessment.status != AssessmentStatus.DRAFT:
            raise
        return _builder(request, session, principal, assessment, exc)
    return redirect(f"/assessments/{assessment.id}", "published")


@router.post("/assessments/{assessment_id}/archive")
def archive(session: SessionDep, principal: Editor, assessment_id: PathId) -> Response:
    assessment = _draft(session, principal, assessment_id)
    assessments.archive_assessment(session, principal, assessment)
    return redirect(f"/assessments/{assessment.id}", "archived")


@router.post("/assessments/{assessment_id}/new-version")
def new_version(session: SessionDep, principal: Editor, assessment_id: PathId) -> Response:
    assessment = _draft(session, principal, assessment_id)
    draft = assessments.new_version(session, principal, assessment)
    return redirect(f"/assessments/{draft.id}/edit", "new_version")


@router.post("/assessments/{assessment_id}/duplicate")
def duplicate(session: SessionDep, principal: Editor, assessment_id: PathId) -> Response:
    assessment = _draft(session, principal, assessment_id)
    copy = assessments.duplicate_assessment(session, principal, assessment)
    return redirect(f"/assessments/{copy.id}/edit", "duplicated")


def _bank_page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    assessment: Assessment | None,
    filters: BankFilter,
    number: int,
) -> Response:
    taken = {i.question_version.question_id for i in assessment.items} if assessment else set()
    found = browse_bank(session, filters)
    pages = max(1, -(-len(found) // BANK_PAGE_SIZE))
    number = min(number, pages)
    first = (number - 1) * BANK_PAGE_SIZE
    query = {k: v for k, v in filters.model_dump().items() if v}
    return page(
        request,
        "bank.html",
        principal,
        assessment=assessment,
        questions=found[first : first + BANK_PAGE_SIZE],
        found=len(found),
        shown_from=first + 1,
        pagination=SimpleNamespace(
            number=number,
            pages=pages,
            previous=str(request.url.include_query_params(**query, page=number - 1)) if number > 1 else None,
            next=str(request.url.include_query_params(**query, page=number + 1)) if number < pages else None,
        ),
        filters=filters,
        taken=taken,
        topics=assessments.TOPICS,
        roles=assessments.ROLES,
        types=[t.value for t in QuestionType],
        back=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    )


@router.get("/bank")
def bank(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    filters: Annotated[BankFilter, Query()],
    number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
) -> Response:
    return _bank_page(request, session, principal, None, filters, number)


@router.get("/assessments/{assessment_id}/bank")
def bank_for_assessment(
    request: Request,
    session: SessionDep,
    principal: Editor,
    assessment_id: PathId,
    filters: Annotated[BankFilter, Query()],
    number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
) -> Response:
    assessment = _draft(session, principal, assessment_id)
    return _bank_page(request, session, principal, assessment, filters, number)


@router.get("/bank/{question_version_id}")
def preview(
    request: Request, session: SessionDep, principal: CurrentPrincipal, question_version_id: PathId
) -> Response:
    version = get_version(session, question_version_id)
    spec = spec_of(version)
    # What the candidate page renders, for a stand-in item with the bank's points, options in their order.
    item = SimpleNamespace(id=0, points=version.points)
    view = question_view(spec, Draw(PREVIEW_SEED, item.id, shuffle_options=False), item=item, position=1)
    solution = get_task(spec.task).solution if isinstance(spec, Coding) else None
    return page(request, "preview.html", principal, version=version, view=view, solution=solution)


@router.post("/bank/{question_version_id}/run")
def preview_run(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    question_version_id: PathId,
    body: RunRequest,
    diagnoses: Annotated[bool, Query()] = True,
) -> Response:
    """A recruiter's sample run in a preview: graded at once on the task's sample cases, as a candidate's
    would be, and stored nowhere. `diagnoses=false` answers as an assessment that hides them would."""
    spec = spec_of(get_version(session, question_version_id))
    if not isinstance(spec, Coding):
        raise Conflict("Only coding questions have sample tests to run.")
    ensure_runnable(body.source)
    limits: RateLimits = request.app.state.rate_limits
    limits.require(limits.preview_run, f"preview-run-{principal.user.id}", "Too many preview runs.")
    try:
        result = grade(spec.task, body.source, visible_only=True, audience="candidate")
    except SandboxUnavailable as exc:
        raise AppError(f"Code cannot be run on this server: {exc}") from exc
    shown = result.model_dump(mode="json")
    if not diagnoses:
        shown["diagnoses"] = []
    # The shape of the candidate's run (SubmissionView), so the candidate's page renders it unchanged.
    return JSONResponse({"id": 0, "kind": "sample", "status": "done", "result": shown})


@router.get("/assessments/{assessment_id}/preview")
def assessment_preview(
    request: Request, session: SessionDep, principal: CurrentPrincipal, assessment_id: PathId
) -> Response:
    """The whole assessment as a candidate meets it, on the candidate's own page, with nothing recorded:
    answers stay in the page, sample runs are graded for the recruiter and stored nowhere."""
    assessment = _draft(session, principal, assessment_id)
    now = utcnow()
    deadline = now + timedelta(minutes=assessment.duration_minutes)
    views = attempt_views(
        assessment.items,
        lambda item: Draw(PREVIEW_SEED, item.id, shuffle_options=assessment.shuffle_options),
        {},
    )
    diagnoses = "true" if assessment.sample_run_diagnoses else "false"
    config = {
        "preview": True,
        "api": f"/assessments/{assessment.id}/preview/api",
        "done": f"/assessments/{assessment.id}/preview/done",
        "attempt_id": f"preview-{assessment.id}",
        "server_now": now.isoformat(),
        "deadline_at": deadline.isoformat(),
        "runs": {
            str(item.id): f"/bank/{item.question_version_id}/run?diagnoses={diagnoses}"
            for item in assessment.items
        },
    }
    return page(
        request,
        "candidate/attempt.html",
        principal,
        invitation=SimpleNamespace(assessment=assessment),
        attempt=SimpleNamespace(deadline_at=deadline),
        items=views,
        sections=by_section(views),
        remaining_s=assessment.duration_minutes * 60,
        config=config,
        form_action=f"/assessments/{assessment.id}/preview/done",
        preview=True,
    )


@router.api_route("/assessments/{assessment_id}/preview/done", methods=["GET", "POST"])
def assessment_preview_done(
    request: Request, session: SessionDep, principal: CurrentPrincipal, assessment_id: PathId
) -> Response:
    """Where the preview's "Submit assessment" leads (with or without scripts): nothing was recorded."""
    assessment = _draft(session, principal, assessment_id)
    return page(request, "preview_done.html", principal, assessment=assessment)

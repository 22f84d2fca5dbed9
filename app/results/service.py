"""The results use cases: a person scoring a written answer, the final code submission to grade again,
the results export (audited), and where each round stands (counts per assessment, the review queue). What
they read is in report.py, table.py and statistics.py; points come from `app.results.scoring`, the one
place that knows them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.principal import Actor, Principal
from app.audit.service import record
from app.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.events.service import record_event
from app.grading.service import latest_final
from app.models import (
    Assessment,
    Attempt,
    Invitation,
    InvitationStatus,
    ManualScore,
    Organization,
    Submission,
    utcnow,
)
from app.questions.service import spec_of
from app.questions.spec import Written
from app.results.scoring import (
    refresh_score,
    score_summary,
)
from app.results.table import export_csv, results_table


def score_written_answer(
    session: Session,
    principal: Principal,
    invitation: Invitation,
    item_id: int,
    criteria: dict[str, float],
    comment: str,
) -> ManualScore:
    """Record a person's rubric points for one written answer; scoring it again replaces the score."""
    principal.require_editor()
    attempt = invitation.attempt
    if attempt is None or attempt.closed_at is None:
        raise Conflict("Written answers are scored once the candidate has finished.")
    # The attempt's row lock first, before writing a row that refers to it: two people scoring two answers
    # of one attempt at once would otherwise each hold the reference's share lock while waiting for the
    # other's to take the row lock (a deadlock).
    session.refresh(attempt, with_for_update=True)
    item = next((i for i in invitation.assessment.items if i.id == item_id), None)
    if item is None:
        raise NotFound("question not found in this assessment")
    spec = spec_of(item.question_version)
    if not isinstance(spec, Written):
        raise Conflict("Only written answers are scored by hand.")
    problems = []
    points: dict[str, float] = {}
    scale = item.points / spec.points  # the assessment may weigh the question differently from the bank
    for criterion in spec.rubric:
        given = criteria.get(criterion.id)
        if given is None:
            problems.append(FieldError(f"criteria.{criterion.id}", "give points for every criterion"))
        elif not 0 <= given <= criterion.points:
            problems.append(
                FieldError(f"criteria.{criterion.id}", f"between 0 and {criterion.points:g} points")
            )
        else:
            points[criterion.id] = given
    unknown = set(criteria) - {c.id for c in spec.rubric}
    if unknown:
        problems.append(FieldError("criteria", f"unknown criteria: {sorted(unknown)}"))
    if problems:
        raise ValidationFailed("The score was not saved.", errors=problems)
    total = round(sum(points.values()) * scale, 6)
    manual = session.scalar(
        select(ManualScore).where(ManualScore.attempt_id == attempt.id, ManualScore.item_id == item.id)
    )
    rescored = manual is not None
    if manual is None:
        manual = ManualScore(attempt_id=attempt.id, item_id=item.id, points=total, rubric=points)
        session.add(manual)
    manual.points, manual.rubric, manual.comment = total, points, comment.strip()[:5000]
    manual.scorer_id, manual.scored_at = principal.user.id, utcnow()
    session.flush()
    record(session, principal, "answer.scored", invitation, item_id=item.id, points=manual.points)
    refresh_score(session, attempt)
    record_event(
        session,
        invitation.organization_id,
        "result.updated",
        {"invitation_id": invitation.id, "item_id": item.id, **score_summary(attempt), "rescored": rescored},
    )
    return manual


def final_code_submission(session: Session, invitation: Invitation, item_id: int) -> Submission:
    """The submission of this item's code that counts: what the report's "Grade again" retries (only a
    failed grading can be, which grading.service.reopen_failed checks)."""
    attempt = invitation.attempt
    submission = latest_final(session, attempt.id, item_id) if attempt else None
    if submission is None:
        raise NotFound("no submitted code for this question")
    return submission


def export_results(session: Session, actor: Actor, assessment: Assessment) -> str:
    """The assessment's results as CSV (personal data leaving Assay: audited)."""
    rows = results_table(session, actor.organization, assessment)
    record(session, actor, "results.exported", assessment, candidates=len(rows))
    return export_csv(assessment, rows)


@dataclass(frozen=True)
class RoundCounts:
    """Where an assessment's candidates are: invited (not cancelled), started, completed, and completed
    with written answers waiting for a person."""

    invited: int = 0
    started: int = 0
    completed: int = 0
    needs_review: int = 0


def round_counts(session: Session, org: Organization) -> dict[int, RoundCounts]:
    """Per assessment of the organization, in two grouped queries."""
    by_status: dict[int, dict[InvitationStatus, int]] = defaultdict(dict)
    # The status as of now is an expression with the time in it: grouped through a subquery, so PostgreSQL
    # sees one expression, not two with their own parameters.
    current = (
        select(Invitation.assessment_id, Invitation.current_status.label("current"))
        .where(Invitation.organization_id == org.id)
        .subquery()
    )
    for assessment_id, status, n in session.execute(
        select(current.c.assessment_id, current.c.current, func.count()).group_by(
            current.c.assessment_id, current.c.current
        )
    ):
        by_status[assessment_id][InvitationStatus(status)] = n
    waiting = dict(
        session.execute(
            select(Invitation.assessment_id, func.count())
            .join(Attempt, Attempt.invitation_id == Invitation.id)
            .where(
                Invitation.organization_id == org.id,
                Attempt.closed_at.is_not(None),
                Attempt.review_pending > 0,
            )
            .group_by(Invitation.assessment_id)
        ).all()
    )
    return {
        assessment_id: RoundCounts(
            invited=sum(n for status, n in counts.items() if status != InvitationStatus.CANCELLED),
            started=counts.get(InvitationStatus.STARTED, 0),
            completed=counts.get(InvitationStatus.COMPLETED, 0),
            needs_review=waiting.get(assessment_id, 0),
        )
        for assessment_id, counts in by_status.items()
    }


def review_queue(session: Session, org: Organization) -> list[Invitation]:
    """Finished attempts with written answers waiting for a person, across the organization's assessments,
    the longest waiting first."""
    return list(
        session.scalars(
            select(Invitation)
            .join(Attempt, Attempt.invitation_id == Invitation.id)
            .where(
                Invitation.organization_id == org.id,
                Attempt.closed_at.is_not(None),
                Attempt.review_pending > 0,
            )
            .options(selectinload(Invitation.candidate), selectinload(Invitation.assessment))
            .order_by(Attempt.closed_at, Invitation.id)
        )
    )

"""Which changes are announced as events, and that each is announced once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments.service import archive_assessment, new_version, publish_assessment
from app.attempts.service import close_attempt, save_answer
from app.grading.tasks import grade_submission
from app.invitations.service import expire_due_invitations, invitation_for_token
from app.models import CloseReason, Event, GradingJob, InvitationStatus, QuestionType, utcnow
from tests import factories


def _types(session: Session) -> list[str]:
    return list(session.scalars(select(Event.type).order_by(Event.id)))


def test_result_scored_waits_for_the_code_and_is_announced_once(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    attempt, coding = factories.coding_attempt(session)
    save_answer(session, attempt, coding.id, {"source": "x = 1"}, grace=timedelta(seconds=30))
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    session.commit()
    assert "invitation.completed" in _types(session) and "result.scored" not in _types(session)
    assert attempt.scored_at is None, "the code is still with the grader"
    run_jobs()
    session.expire_all()
    assert _types(session).count("result.scored") == 1 and attempt.scored_at is not None
    # The grading message delivered a second time changes nothing.
    job = session.scalars(select(GradingJob)).one()
    grade_submission.send(job.id)
    run_jobs()
    assert _types(session).count("result.scored") == 1


def test_without_code_the_result_is_scored_at_closing(session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, types=(QuestionType.MCQ_SINGLE,), per_type=1)
    factories.finished_attempt(session, org, assessment, "a@example.com", {})
    scored = session.scalars(select(Event).where(Event.type == "result.scored")).one()
    assert scored.payload["max_score"] == assessment.max_points and scored.payload["score"] == 0


def test_expiry_is_announced_once_by_the_sweep_not_by_opening_the_link(session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, types=(QuestionType.MCQ_SINGLE,), per_type=1)
    swept = factories.invitation(session, org, assessment, email="a@example.com")
    opened = factories.invitation(session, org, assessment, email="b@example.com")
    for issued in (swept, opened):
        issued.invitation.expires_at = utcnow() - timedelta(seconds=1)
    seen = invitation_for_token(session, opened.token)
    assert (seen.status, seen.current_status) == (InvitationStatus.SENT, InvitationStatus.EXPIRED)
    assert expire_due_invitations(session) == 2
    assert expire_due_invitations(session) == 0
    expired = session.scalars(select(Event).where(Event.type == "invitation.expired")).all()
    assert sorted(e.payload["invitation_id"] for e in expired) == sorted(
        [swept.invitation.id, opened.invitation.id]
    )


def test_publishing_and_archiving_are_announced(session: Session) -> None:
    _, org = factories.owner(session)
    first = factories.published_assessment(session, org, types=(QuestionType.MCQ_SINGLE,), per_type=1)
    actor = factories.operator(session, first)
    second = publish_assessment(session, actor, new_version(session, actor, first))
    archive_assessment(session, factories.operator(session, second), second)
    announced = [
        (e.type, e.payload["assessment_id"])
        for e in session.scalars(select(Event).where(Event.type.like("assessment.%")).order_by(Event.id))
    ]
    assert announced == [
        ("assessment.published", first.id),
        ("assessment.archived", first.id),
        ("assessment.published", second.id),
        ("assessment.archived", second.id),
    ]

"""Closing attempts at their deadline: the scheduled job, with nobody's page open."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from app.attempts.service import save_answer, start_attempt
from app.attempts.tasks import close_overdue_attempts
from app.models import CloseReason, InvitationStatus, QuestionType, utcnow
from tests import factories


def test_overdue_attempts_close_after_the_grace_and_keep_what_was_saved(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, types=(QuestionType.WRITTEN,))
    overdue = start_attempt(
        session, factories.invitation(session, org, assessment, email="a@example.com").invitation
    )
    in_grace = start_attempt(
        session, factories.invitation(session, org, assessment, email="b@example.com").invitation
    )
    running = start_attempt(
        session, factories.invitation(session, org, assessment, email="c@example.com").invitation
    )
    item = assessment.items[0]
    save_answer(session, overdue, item.id, {"text": "saved before the deadline"}, grace=timedelta(0))
    overdue.deadline_at = utcnow() - timedelta(minutes=5)
    in_grace.deadline_at = utcnow() - timedelta(seconds=5)  # in-flight saves may still land
    session.commit()

    close_overdue_attempts.send()
    assert run_jobs() == 1
    for attempt in (overdue, in_grace, running):
        session.refresh(attempt)
    assert overdue.closed_at is not None and overdue.close_reason == CloseReason.DEADLINE
    assert overdue.invitation.status == InvitationStatus.COMPLETED
    assert overdue.answers[0].value == {"text": "saved before the deadline"}
    assert overdue.review_pending == 1
    assert in_grace.closed_at is None and running.closed_at is None

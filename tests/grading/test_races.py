"""Limits on code runs racing for real, on separate connections: one attempt's concurrent requests must
not get more runs than its limit, and its gradings must not take more than its share of the sandboxes."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.attempts.service import run_samples, start_attempt
from app.core.errors import RateLimited
from app.invitations.service import invitation_for_token
from app.models import QuestionType, Submission
from tests import factories
from tests.races import at_once

GRACE = timedelta(seconds=30)
PER_MINUTE = 6
REQUESTS = 40


def test_concurrent_runs_of_one_attempt_stay_within_its_rate(
    committing_sessions: sessionmaker[Session],
) -> None:
    sessions = committing_sessions
    with sessions() as session:
        _, org = factories.owner(session, email="rate@example.com", org="Rate race")
        assessment = factories.coding_assessment(session, org)
        issued = factories.invitation(session, org, assessment)
        attempt = start_attempt(session, issued.invitation)
        item_id = next(i.id for i in assessment.items if i.question_version.type == QuestionType.CODING)
        attempt_id = attempt.id
        session.commit()

    start = threading.Barrier(REQUESTS)
    outcomes: list[str] = []

    def request() -> None:
        with sessions() as session:
            start.wait()
            try:
                attempt = invitation_for_token(session, issued.token).attempt
                assert attempt is not None
                run_samples(session, attempt, item_id, "x = 1", grace=GRACE, per_minute=PER_MINUTE)
                session.commit()
                outcomes.append("ran")
            except RateLimited:
                session.rollback()
                outcomes.append("refused")

    assert at_once(*[request] * REQUESTS) == []
    with sessions() as session:
        stored = session.scalar(select(func.count()).where(Submission.attempt_id == attempt_id))
    assert len(outcomes) == REQUESTS
    assert outcomes.count("ran") == PER_MINUTE == stored, (outcomes.count("ran"), stored)

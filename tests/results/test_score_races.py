"""Two changes to one attempt's score committing together, for real, on separate connections: each persists
the total computed under the attempt's row lock, so neither total misses the other's points, and neither
deadlocks the other (each takes the lock before writing a row that refers to the attempt)."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.principal import Principal
from app.assessments.service import create_assessment, publish_assessment
from app.models import Attempt, Invitation, Organization, QuestionType, Role, User
from app.questions.service import current_versions, spec_of
from app.results import scoring
from app.results import service as results_service
from app.results.service import score_written_answer
from tests import factories
from tests.races import at_once, meet

# How long a scorer waits for the other to compute at the same moment. Under the row lock the other cannot
# (it waits for the lock), so the wait runs out and the first commits; without the lock both compute from
# what each saw before the other committed.
RENDEZVOUS_SECONDS = 3


def test_two_written_answers_scored_at_once_both_count_in_the_persisted_score(
    committing_sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = committing_sessions
    with sessions() as session:
        user, org = factories.owner(session, email="race@example.com", org="Score race")
        written = current_versions(session, types=[QuestionType.WRITTEN])[:2]
        assert len(written) == 2, "the bank needs two written questions"
        draft = create_assessment(
            session,
            factories.operator(session, org),
            title="Essays",
            duration_minutes=30,
            question_version_ids=[v.id for v in written],
        )
        assessment = publish_assessment(session, factories.operator(session, draft), draft)
        items = list(assessment.items)
        invitation = factories.finished_attempt(
            session, org, assessment, "c@example.com", {i.id: {"text": "An answer."} for i in items}
        )
        full = {
            item.id: {c.id: c.points for c in spec_of(item.question_version).rubric}  # type: ignore[union-attr]
            for item in items
        }
        expected = sum(item.points for item in items)
        ids = (user.id, org.id, invitation.id)
        session.commit()

    written_both, computing = threading.Barrier(2), threading.Barrier(2)
    real_score_attempt, real_refresh = scoring.score_attempt, results_service.refresh_score

    def refresh_once_both_have_written(*args: Any) -> scoring.Score:
        meet(
            written_both, RENDEZVOUS_SECONDS
        )  # both manual scores written before either scores: the deadlock's set-up
        return real_refresh(*args)

    def score_at_the_same_moment(*args: Any) -> scoring.Scored:
        scored = real_score_attempt(*args)
        meet(computing, RENDEZVOUS_SECONDS)
        return scored

    monkeypatch.setattr(results_service, "refresh_score", refresh_once_both_have_written)
    monkeypatch.setattr(scoring, "score_attempt", score_at_the_same_moment)

    def score(item_id: int) -> None:
        with sessions() as session:
            user = session.get(User, ids[0])
            org = session.get(Organization, ids[1])
            invitation = session.get(Invitation, ids[2])
            assert user is not None and org is not None and invitation is not None
            principal = Principal(user=user, organization=org, role=Role.OWNER, session_id=0)
            score_written_answer(session, principal, invitation, item_id, full[item_id], "")
            session.commit()

    assert at_once(*[partial(score, item.id) for item in items]) == []

    with sessions() as session:
        invitation = session.get(Invitation, ids[2])
        assert invitation is not None
        attempt: Attempt | None = invitation.attempt
        assert attempt is not None
        assert (attempt.score, attempt.review_pending) == (expected, 0)

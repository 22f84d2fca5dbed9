"""The similarity check in the worker, on real gradings: a scored attempt's code is checked in the
background, a copy is flagged once (`result.flagged`, with the payload the API document declares), a check
whose message was lost is sent again by the reconciler, and a check that raises ends visibly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Event, QuestionType, SimilarityCheck, utcnow
from app.similarity import service, tasks
from app.similarity.service import for_attempt
from app.webhooks.schemas import EVENT_DATA
from tests import factories
from tests.similarity.population import INDEPENDENT, TASK, disguised


def test_a_copy_is_checked_after_scoring_and_flagged_once(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org, task=TASK)
    item = next(i for i in assessment.items if i.question_version.type == QuestionType.CODING)
    original = factories.finished_attempt(
        session, org, assessment, "ada@example.com", {item.id: {"source": INDEPENDENT["staged"]}}
    )
    copy = factories.finished_attempt(
        session,
        org,
        assessment,
        "bob@example.com",
        {item.id: {"source": disguised(INDEPENDENT["staged"], 7)}},
    )
    session.commit()
    run_jobs()  # two gradings, then the two checks their results announced
    session.expire_all()

    assert copy.attempt is not None and copy.attempt.scored_at is not None
    [found] = for_attempt(session, copy.attempt)
    assert found.status == "checked" and found.best is not None
    assert found.best.other_invitation.id == original.id and found.best.share >= 0.8
    flagged = session.scalars(
        select(Event).where(Event.organization_id == org.id, Event.type == "result.flagged")
    ).all()
    assert sorted(e.payload["invitation_id"] for e in flagged) == sorted([original.id, copy.id])
    for event in flagged:
        EVENT_DATA[event.type].model_validate(event.payload)

    # A second message for a check (a lost message re-sent while the first ran) changes nothing.
    assert found.check is not None
    tasks.check_similarity.fn(found.check.id)
    again = session.scalars(
        select(Event).where(Event.organization_id == org.id, Event.type == "result.flagged")
    )
    assert len(again.all()) == 2


def test_a_check_whose_message_was_lost_is_sent_again(session: Session, run_jobs: Callable[[], int]) -> None:
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org, task=TASK)
    check_id = factories.checked_code(
        session, org, assessment, "cy@example.com", INDEPENDENT["loops"], compare=False
    )
    check = session.get(SimilarityCheck, check_id)
    assert check is not None
    assert service.unfinished(session, older_than=timedelta(seconds=30)) == []
    check.created_at = utcnow() - timedelta(minutes=5)
    session.flush()
    assert service.unfinished(session, older_than=timedelta(seconds=30)) == [check.id]
    tasks.check_similarity.fn(check.id)
    session.refresh(check)
    assert (
        check.checked_at is not None and service.unfinished(session, older_than=timedelta(seconds=30)) == []
    )


def test_a_check_that_raises_ends_visibly(
    session: Session, run_jobs: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("similarity bug")

    monkeypatch.setattr(service, "run_check", broken)
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org, task=TASK)
    item = next(i for i in assessment.items if i.question_version.type == QuestionType.CODING)
    done = factories.finished_attempt(
        session, org, assessment, "ada@example.com", {item.id: {"source": INDEPENDENT["einsum"]}}
    )
    session.commit()
    run_jobs()
    session.expire_all()
    assert done.attempt is not None
    [found] = for_attempt(session, done.attempt)
    assert found.status == "failed"

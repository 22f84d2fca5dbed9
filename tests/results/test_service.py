"""A candidate's report describes every kind of answer, and says when code is still being graded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from app.attempts.service import close_attempt, save_answer, start_attempt
from app.models import CloseReason, QuestionType
from app.results.service import attempt_report
from tests import factories

GRACE = timedelta(seconds=30)


def test_numeric_and_code_answers_are_described_and_code_points_follow_grading(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org)
    issued = factories.invitation(session, org, assessment)
    attempt = start_attempt(session, issued.invitation)
    coding = next(i for i in assessment.items if i.question_version.type == QuestionType.CODING)
    save_answer(
        session,
        attempt,
        coding.id,
        {"source": "def batchnorm_forward_train(x, g, b, eps=1e-5):\n    return x"},
        grace=GRACE,
    )
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    session.commit()

    pending = next(r for r in attempt_report(session, org, issued.invitation.id).items if r.kind == "coding")
    assert pending.points is None and pending.state == "grading" and pending.code is not None
    assert pending.code.state == "grading" and pending.code.source.startswith("def batchnorm_forward_train")
    assert run_jobs() == 1
    session.expire_all()
    graded = next(r for r in attempt_report(session, org, issued.invitation.id).items if r.kind == "coding")
    assert graded.points == 0.0 and graded.state == "incorrect" and graded.code is not None
    assert graded.code.state == "graded" and graded.code.cases
    assert all(case.status != "passed" for case in graded.code.cases)


def test_a_numeric_answer_is_shown_as_typed(session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, types=(QuestionType.NUMERIC,), per_type=1)
    issued = factories.invitation(session, org, assessment)
    attempt = start_attempt(session, issued.invitation)
    save_answer(session, attempt, assessment.items[0].id, {"number": "3e-4"}, grace=GRACE)
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    report = attempt_report(session, org, issued.invitation.id)
    assert report.items[0].numeric is not None and report.items[0].numeric["given"] == "3e-4"

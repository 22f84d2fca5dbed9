"""Code submissions end to end on the real database and the real sandbox: queued after commit, claimed under
a lease, graded, stored once, credited to the attempt."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.service import (
    close_attempt,
    run_samples,
    save_answer,
    start_attempt,
    submit_code_for_grading,
)
from app.core.errors import RateLimited
from app.grading.service import Busy, Claim, candidate_view, claim_job, pending_gradings, store_result
from app.models import (
    AssessmentItem,
    Attempt,
    CloseReason,
    GradingJob,
    JobStatus,
    QuestionType,
    Submission,
    SubmissionKind,
    utcnow,
)
from grader import grade
from tests import factories

GRACE = timedelta(seconds=30)
RIGHT = """import numpy as np

def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    return gamma * (x - mean) / np.sqrt(x.var(axis=0) + eps) + beta
"""
# Divides by N - 1: the unbiased variance, one of the misconceptions the grader names.
UNBIASED = RIGHT.replace("x.var(axis=0)", "x.var(axis=0, ddof=1)")


@pytest.fixture
def attempt(session: Session) -> Attempt:
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org)
    issued = factories.invitation(session, org, assessment)
    started = start_attempt(session, issued.invitation)
    session.commit()
    return started


def _coding(attempt: Attempt) -> AssessmentItem:
    return next(
        i for i in attempt.invitation.assessment.items if i.question_version.type == QuestionType.CODING
    )


def test_a_sample_run_is_queued_after_commit_and_shows_visible_cases_only(
    session: Session, attempt: Attempt, run_jobs: Callable[[], int]
) -> None:
    run = run_samples(session, attempt, _coding(attempt).id, UNBIASED, grace=GRACE, per_minute=5)
    assert run_jobs() == 0, "nothing is sent before the transaction commits"
    session.commit()
    assert run_jobs() == 1
    session.refresh(run)
    assert run.job is not None and run.job.status == JobStatus.DONE and run.job.tries == 1
    view = candidate_view(run, show_score=False, show_diagnoses=True)
    assert view["status"] == "done"
    cases = view["result"]["cases"]
    assert cases and all(c["visible"] and c["shown"]["inputs"] for c in cases)
    assert view["result"]["diagnoses"][0]["code"] == "unbiased_variance"
    assert view["result"]["diagnoses"][0]["message"].startswith("Your code "), "the candidate reads it"
    hiring = candidate_view(run, show_score=False, show_diagnoses=False)
    assert hiring["result"]["diagnoses"] == [] and hiring["result"]["cases"] == cases
    assert run.result is not None and run.result.result["diagnoses"], "the stored result keeps them"


def test_a_rolled_back_request_sends_nothing(
    session: Session, attempt: Attempt, run_jobs: Callable[[], int]
) -> None:
    run_samples(session, attempt, _coding(attempt).id, RIGHT, grace=GRACE, per_minute=5)
    session.rollback()
    session.commit()
    assert run_jobs() == 0


def test_runs_are_rate_limited_per_attempt_with_the_wait_in_the_message(
    session: Session, attempt: Attempt
) -> None:
    item = _coding(attempt)
    for _ in range(3):
        run_samples(session, attempt, item.id, RIGHT, grace=GRACE, per_minute=3)
    with pytest.raises(RateLimited) as refused:
        run_samples(session, attempt, item.id, RIGHT, grace=GRACE, per_minute=3)
    assert "3 times a minute" in refused.value.message and 1 <= refused.value.retry_after <= 61


def test_a_job_is_claimed_once_per_lease_and_its_result_stored_once(
    session: Session, attempt: Attempt
) -> None:
    run = run_samples(session, attempt, _coding(attempt).id, RIGHT, grace=GRACE, per_minute=5)
    assert run.job is not None
    job_id = run.job.id
    claim = claim_job(session, job_id, timedelta(minutes=2))
    assert claim is not None and claim.visible_only and claim.seed == attempt.seed
    assert claim_job(session, job_id, timedelta(minutes=2)) is None, "another worker's lease still holds"
    result = grade(claim.task_id, claim.source, seed=claim.seed, visible_only=True)
    store_result(session, job_id, result)
    store_result(session, job_id, result)  # a redelivered message
    assert session.scalars(select(Submission).where(Submission.id == run.id)).one().result is not None
    assert claim_job(session, job_id, timedelta(minutes=2)) is None, "a finished job is never graded again"


def test_a_lapsed_lease_lets_another_worker_take_the_job(session: Session, attempt: Attempt) -> None:
    run = run_samples(session, attempt, _coding(attempt).id, RIGHT, grace=GRACE, per_minute=5)
    assert run.job is not None
    assert claim_job(session, run.job.id, timedelta(seconds=-1)) is not None
    again = claim_job(session, run.job.id, timedelta(minutes=2))
    assert again is not None and session.get(GradingJob, run.job.id).tries == 2  # type: ignore[union-attr]


def test_one_attempt_cannot_take_every_sandbox(session: Session, attempt: Attempt) -> None:
    """While one of its gradings runs, an attempt's other jobs wait (queued, offered again shortly); another
    candidate's job is claimed at once."""
    lease = timedelta(minutes=2)
    first, second = (
        run_samples(session, attempt, _coding(attempt).id, RIGHT, grace=GRACE, per_minute=5) for _ in range(2)
    )
    _, other_org = factories.owner(session, email="other@example.com", org="Other")
    other_attempt = start_attempt(
        session,
        factories.invitation(session, other_org, factories.coding_assessment(session, other_org)).invitation,
    )
    other = run_samples(session, other_attempt, _coding(other_attempt).id, RIGHT, grace=GRACE, per_minute=5)
    assert first.job and second.job and other.job
    assert isinstance(claim_job(session, first.job.id, lease), Claim)
    waiting = claim_job(session, second.job.id, lease)
    assert isinstance(waiting, Busy) and waiting.retry_after.total_seconds() <= 5
    assert second.job.status == JobStatus.QUEUED and second.job.tries == 0
    assert second.job.lease_until is not None and second.job.lease_until > utcnow()  # not re-sent meanwhile
    assert isinstance(claim_job(session, other.job.id, lease), Claim)
    assert isinstance(claim_job(session, second.job.id, lease, per_attempt=2), Claim)  # a larger share

    third = run_samples(session, attempt, _coding(attempt).id, RIGHT, grace=GRACE, per_minute=5)
    assert third.job is not None
    store_result(session, first.job.id, grade("bn-forward-train", RIGHT, visible_only=True))
    assert isinstance(claim_job(session, third.job.id, lease), Busy)  # the second still runs
    store_result(session, second.job.id, grade("bn-forward-train", RIGHT, visible_only=True))
    assert isinstance(claim_job(session, third.job.id, lease), Claim)


def test_the_saved_code_is_graded_on_hidden_cases_when_the_attempt_closes(
    session: Session, attempt: Attempt, run_jobs: Callable[[], int]
) -> None:
    item = _coding(attempt)
    save_answer(session, attempt, item.id, {"source": RIGHT}, grace=GRACE)
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    assert pending_gradings(session, attempt) == 1
    session.commit()
    assert run_jobs() == 2  # the final grading, then the similarity check its score announced
    session.refresh(attempt)
    final = session.scalars(select(Submission).where(Submission.kind == SubmissionKind.FINAL)).one()
    assert final.result is not None and final.result.verdict == "accepted"
    assert not any(c["shown"] for c in final.result.result["cases"] if not c["visible"])
    assert pending_gradings(session, attempt) == 0
    assert attempt.score == item.points  # the multiple-choice question was left unanswered
    assert attempt.grading_pending == 0
    answer = next(a for a in attempt.answers if a.item_id == item.id)
    assert answer.auto_points == item.points


def test_code_submitted_and_unchanged_is_not_graded_twice_but_edited_code_is(
    session: Session, attempt: Attempt, run_jobs: Callable[[], int]
) -> None:
    item = _coding(attempt)
    save_answer(session, attempt, item.id, {"source": UNBIASED}, grace=GRACE)
    submit_code_for_grading(session, attempt, item.id, grace=GRACE, per_minute=5)
    session.commit()
    run_jobs()
    answer = next(a for a in attempt.answers if a.item_id == item.id)
    session.refresh(answer)
    partial = answer.auto_points
    assert partial is not None and 0 <= partial < item.points

    save_answer(session, attempt, item.id, {"source": RIGHT}, grace=GRACE)
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    assert answer.auto_points is None, "the old submission's points no longer stand"
    session.commit()
    assert run_jobs() == 2  # the final grading, then the similarity check its score announced
    session.refresh(answer)
    session.refresh(attempt)
    assert answer.auto_points == item.points
    finals = session.scalars(select(Submission).where(Submission.kind == SubmissionKind.FINAL)).all()
    assert len(finals) == 2


def test_final_results_show_only_the_aggregate_and_only_when_allowed(
    session: Session, attempt: Attempt, run_jobs: Callable[[], int]
) -> None:
    item = _coding(attempt)
    save_answer(session, attempt, item.id, {"source": UNBIASED}, grace=GRACE)
    final = submit_code_for_grading(session, attempt, item.id, grace=GRACE, per_minute=5)
    session.commit()
    run_jobs()
    session.refresh(final)
    hidden = candidate_view(final, show_score=False, show_diagnoses=True)
    assert hidden["status"] == "done" and hidden["result"] is None
    shown = candidate_view(final, show_score=True, show_diagnoses=True)
    assert set(shown["result"]) == {"verdict", "score", "passed", "total"}
    assert 0 < shown["result"]["passed"] < shown["result"]["total"]
    assert final.result is not None
    assert final.result.result["diagnoses"][0]["message"].startswith("The candidate's code "), (
        "the hiring team reads a final result"
    )

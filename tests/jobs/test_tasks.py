"""The reconciler: work whose broker message was lost or whose worker died is sent again from its row, and
still ends with exactly one result."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.attempts.service import run_samples
from app.grading import tasks as grading_tasks
from app.grading.service import MAX_TRIES
from app.jobs.runtime import broker, send_after_commit
from app.jobs.tasks import reconcile_jobs
from app.models import (
    GradingJob,
    JobStatus,
    StoredGrade,
    Submission,
    utcnow,
)
from tests import factories

GRACE = timedelta(seconds=30)
CODE = "import numpy as np\n\ndef batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n    return x\n"


@pytest.fixture
def sample_run(session: Session, run_jobs: Callable[[], int]) -> Submission:
    """A sample run committed, whose job message is then lost (as when Redis restarts empty)."""
    attempt, item = factories.coding_attempt(session)
    run = run_samples(session, attempt, item.id, CODE, grace=GRACE, per_minute=5)
    session.commit()
    broker.flush_all()
    return run


def _age(session: Session, job: GradingJob, *, created: timedelta, lease: timedelta | None = None) -> None:
    job.created_at = utcnow() - created
    job.lease_until = None if lease is None else utcnow() - lease
    session.commit()


def _results(session: Session, submission: Submission) -> int:
    return session.scalar(
        select(func.count()).select_from(StoredGrade).where(StoredGrade.submission_id == submission.id)
    )


def test_a_queued_job_whose_message_was_lost_is_sent_again(
    session: Session, sample_run: Submission, run_jobs: Callable[[], int]
) -> None:
    job = sample_run.job
    assert job is not None
    reconcile_jobs.fn()
    assert run_jobs() == 0, "a job queued less than a lease ago may still be in the broker"
    _age(session, job, created=timedelta(minutes=10))
    reconcile_jobs.fn()
    assert run_jobs() == 1
    session.expire_all()
    assert job.status == JobStatus.DONE and job.tries == 1 and _results(session, sample_run) == 1


def test_a_job_whose_worker_died_is_handed_on_and_stored_once(
    session: Session, sample_run: Submission, run_jobs: Callable[[], int]
) -> None:
    job = sample_run.job
    assert job is not None
    job.status, job.tries = JobStatus.RUNNING, 1  # claimed by a worker that was then SIGKILLed
    _age(session, job, created=timedelta(minutes=10), lease=-timedelta(minutes=1))
    reconcile_jobs.fn()
    assert run_jobs() == 0, "its lease has not lapsed: the worker may still be grading"
    _age(session, job, created=timedelta(minutes=10), lease=timedelta(seconds=1))
    reconcile_jobs.fn()
    grading_tasks.grade_submission.send(job.id)  # the broker redelivers the dead worker's message too
    assert run_jobs() == 2
    session.expire_all()
    assert job.status == JobStatus.DONE and job.tries == 2
    assert _results(session, sample_run) == 1, "two messages, one result"


def test_a_job_that_keeps_killing_its_worker_fails_with_a_reason(
    session: Session, sample_run: Submission, run_jobs: Callable[[], int]
) -> None:
    job = sample_run.job
    assert job is not None
    job.status, job.tries = JobStatus.RUNNING, MAX_TRIES
    _age(session, job, created=timedelta(minutes=10), lease=timedelta(seconds=1))
    reconcile_jobs.fn()
    assert run_jobs() == 0
    session.expire_all()
    assert job.status == JobStatus.FAILED and "interrupted" in job.error


def test_a_stopping_worker_hands_back_what_it_holds(
    session: Session, sample_run: Submission, run_jobs: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = sample_run.job
    assert job is not None
    job.status, job.tries, job.lease_until = JobStatus.RUNNING, 1, utcnow() + timedelta(minutes=2)
    session.commit()
    monkeypatch.setattr(grading_tasks, "_held", {job.id})
    assert grading_tasks.release_held_jobs() == [job.id]
    session.expire_all()
    assert job.status == JobStatus.QUEUED
    assert run_jobs() == 1, "sent again at once, not after its lease"
    session.expire_all()
    assert job.status == JobStatus.DONE and _results(session, sample_run) == 1


def test_a_broker_that_is_down_does_not_fail_the_commit(
    session: Session,
    sample_run: Submission,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(*_args: object) -> None:
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(grading_tasks.grade_submission, "send", refuse)
    job = sample_run.job
    assert job is not None
    send_after_commit(session, "grade_submission", job.id)
    session.commit()  # the row is safe; its message is the reconciler's to send
    assert "the reconciler will retry" in caplog.text

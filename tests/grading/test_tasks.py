"""The grading actor when something goes wrong: the job ends failed with a reason (never left running), and a
failed grading can be retried."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.attempts.service import run_samples
from app.core.errors import Conflict
from app.grading import tasks
from app.grading.service import candidate_view, retry_grading
from app.models import JobStatus
from grader.sandbox import SandboxUnavailable
from tests import factories


@pytest.mark.parametrize("failure", [SandboxUnavailable("no user namespaces"), RuntimeError("grader bug")])
def test_a_failed_grading_is_reported_not_left_running(
    session: Session, run_jobs: Callable[[], int], monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(tasks, "grade", broken)
    attempt, item = factories.coding_attempt(session)
    run = run_samples(session, attempt, item.id, "x = 1", grace=timedelta(seconds=30), per_minute=5)
    session.commit()
    assert run_jobs() == 1
    session.refresh(run)
    assert run.job is not None and run.job.status == JobStatus.FAILED and run.job.error
    assert "try again" in candidate_view(run, show_score=False, show_diagnoses=False)["error"]


def test_a_result_that_cannot_be_stored_fails_the_job_visibly(
    session: Session, run_jobs: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unstorable(*_args: object, **_kwargs: object) -> None:
        raise ValueError("the database refused the result")

    monkeypatch.setattr(tasks, "grade", lambda *a, **k: object())
    monkeypatch.setattr(tasks.service, "store_result", unstorable)
    attempt, item = factories.coding_attempt(session)
    run = run_samples(session, attempt, item.id, "x = 1", grace=timedelta(seconds=30), per_minute=5)
    session.commit()
    assert run_jobs() == 1
    session.refresh(run)
    assert run.job is not None and run.job.status == JobStatus.FAILED
    assert run.job.error == "the result could not be stored; see the worker's log"


# Once, bytes like these crashed the grader's parser (an unbalanced .npy header in a forged frame), and the
# submission stayed "grading" forever. Now they are the submission's own invalid output.
FORGED_FRAME = """
import io, os, struct, zipfile

def batchnorm_forward(x, gamma, beta, bn_param):
    header = "{'descr': '<f8', 'shape': ((((".ljust(117) + "\\n"
    npy = b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(header)) + header.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("__meta__.npy", npy)
    data = buffer.getvalue()
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            os.write(fd, struct.pack("<Q", len(data)) + data)
        except OSError:
            pass
    return x, None
"""


def test_hostile_output_ends_graded_and_a_failed_grading_can_be_retried(
    session: Session, run_jobs: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempt, item = factories.coding_attempt(session)
    hostile = run_samples(session, attempt, item.id, FORGED_FRAME, grace=timedelta(seconds=30), per_minute=50)
    session.commit()
    assert run_jobs() == 1
    session.refresh(hostile)
    assert hostile.job is not None and hostile.job.status == JobStatus.DONE, hostile.job.error
    assert hostile.result is not None and hostile.result.verdict != "accepted"

    with monkeypatch.context() as patched:
        patched.setattr(tasks, "grade", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("grader bug")))
        run = run_samples(session, attempt, item.id, "x = 1", grace=timedelta(seconds=30), per_minute=50)
        session.commit()
        assert run_jobs() == 1
    session.refresh(run)
    assert run.job is not None and run.job.status == JobStatus.FAILED
    with pytest.raises(Conflict):
        retry_grading(
            session, factories.operator(session, attempt.invitation.assessment), hostile
        )  # only a failed grading is retried
    retry_grading(session, factories.operator(session, attempt.invitation.assessment), run)
    session.commit()
    session.refresh(run)
    assert run.job is not None and (run.job.status, run.job.tries, run.job.error) == (JobStatus.QUEUED, 0, "")
    assert run_jobs() == 1
    session.refresh(run)
    assert run.job is not None and run.job.status == JobStatus.DONE and run.result is not None

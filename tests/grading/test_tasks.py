"""The grading actor when the sandbox cannot run: the job fails with a message the candidate can act on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.attempts.service import run_samples
from app.grading import tasks
from app.grading.service import candidate_view
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
    assert "try again" in candidate_view(run, show_score=False)["error"]

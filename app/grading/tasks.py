"""The grading actor: claim a submission's job, grade it in the sandbox, store the result."""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq
from sqlalchemy.orm import Session

from app.grading import service
from app.models import AssessmentItem, Attempt, Submission, SubmissionKind
from app.worker import job_session, job_settings, send_after_commit
from grader import grade
from grader.sandbox import SandboxUnavailable

log = logging.getLogger("assay.grading")


@dramatiq.actor(queue_name="grading", max_retries=0)
def grade_submission(job_id: int) -> None:
    lease = timedelta(seconds=job_settings().grading_lease_seconds)
    with job_session() as session:
        claim = service.claim_job(session, job_id, lease)
    if claim is None:
        return  # done already, or another worker holds it
    try:
        result = grade(claim.task_id, claim.source, seed=claim.seed, visible_only=claim.visible_only)
    except SandboxUnavailable as exc:
        log.error("grading job %s: sandbox unavailable: %s", job_id, exc)
        with job_session() as session:
            service.fail_job(session, job_id, f"sandbox unavailable: {exc}")
        return
    except Exception:
        log.exception("grading job %s failed", job_id)
        with job_session() as session:
            service.fail_job(session, job_id, "the grader failed; see the worker's log")
        return
    with job_session() as session:
        service.store_result(session, job_id, result)


def queue_submission(
    session: Session, attempt: Attempt, item: AssessmentItem, kind: SubmissionKind, source: str
) -> Submission:
    """Record a submission and have it graded once this transaction commits."""
    submission = service.new_submission(session, attempt, item, kind, source)
    assert submission.job is not None
    send_after_commit(session, grade_submission, submission.job.id)
    return submission

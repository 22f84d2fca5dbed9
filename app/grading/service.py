"""Code submissions: sample runs during an attempt, final gradings, and storing what the grader found.

A submission's grading is a job row (queued → running → done | failed) with a lease; the actor in tasks.py
claims it, runs the grader outside any transaction (it takes seconds), then stores the result. Storing is
idempotent: a second run of the same job (a redelivered message) finds the result and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from app.accounts.principal import Actor
from app.audit.service import record
from app.core.errors import Conflict, NotFound, RateLimited
from app.events.service import record_event
from app.jobs.runtime import send_after_commit
from app.models import (
    Answer,
    AssessmentItem,
    Attempt,
    GradingJob,
    Invitation,
    JobStatus,
    StoredGrade,
    Submission,
    SubmissionKind,
    utcnow,
)
from app.questions.service import spec_of
from app.questions.spec import Coding
from app.results.scoring import refresh_score, score_summary
from grader import GradeResult

RATE_WINDOW = timedelta(minutes=1)
# A grading that took its worker down this many times is not tried again (the sandbox should make this
# impossible; the limit keeps one submission from cycling through every worker forever).
MAX_TRIES = 3
RECONCILE_BATCH = 500


def coding_task_of(item: AssessmentItem) -> str:
    spec = spec_of(item.question_version)
    if not isinstance(spec, Coding):
        raise NotFound("this question has no code to run")
    return spec.task


def check_run_rate(session: Session, attempt: Attempt, per_minute: int) -> None:
    """Sandboxes are shared by every candidate: one attempt gets `per_minute` runs (samples or submits).

    The attempt's row is locked first, so concurrent requests of one attempt count one after another, each
    seeing the runs the others committed (without it, 40 requests at once all counted the same few)."""
    session.execute(select(Attempt.id).where(Attempt.id == attempt.id).with_for_update())
    since = utcnow() - RATE_WINDOW
    recent = session.scalars(
        select(Submission.created_at)
        .where(Submission.attempt_id == attempt.id, Submission.created_at > since)
        .order_by(Submission.created_at)
    ).all()
    if len(recent) >= per_minute:
        wait = max(1, int((recent[0] + RATE_WINDOW - utcnow()).total_seconds()) + 1)
        raise RateLimited(
            f"You can run your code {per_minute} times a minute. Try again in {wait} seconds.",
            retry_after=wait,
        )


def new_submission(
    session: Session, attempt: Attempt, item: AssessmentItem, kind: SubmissionKind, source: str
) -> Submission:
    """A submission and its queued job; the caller sends the job's message after commit."""
    submission = Submission(
        attempt_id=attempt.id, item_id=item.id, kind=kind, task_id=coding_task_of(item), source=source
    )
    submission.job = GradingJob(status=JobStatus.QUEUED)
    session.add(submission)
    session.flush()
    return submission


def submission_of(session: Session, attempt: Attempt, submission_id: int) -> Submission:
    submission = session.get(Submission, submission_id)
    if submission is None or submission.attempt_id != attempt.id:
        raise NotFound("no such code run for this attempt")
    return submission


def latest_final(session: Session, attempt_id: int, item_id: int) -> Submission | None:
    return session.scalar(
        select(Submission)
        .where(
            Submission.attempt_id == attempt_id,
            Submission.item_id == item_id,
            Submission.kind == SubmissionKind.FINAL,
        )
        .order_by(Submission.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Claim:
    """What a worker needs to grade a job, read while it holds the lease."""

    job_id: int
    task_id: str
    source: str
    seed: int
    visible_only: bool


@dataclass(frozen=True)
class Busy:
    """The job's attempt already has its share of gradings running: the job waits, queued, and is offered
    again after `retry_after`; its lease covers the wait so the reconciler does not send it twice."""

    job_id: int
    retry_after: timedelta


BUSY_RETRY = timedelta(seconds=2)


def claim_job(
    session: Session, job_id: int, lease: timedelta, *, per_attempt: int = 1
) -> Claim | Busy | None:
    """Take the job's lease; None when it is finished or another worker holds a lease that has not lapsed;
    Busy when its attempt already has `per_attempt` gradings running, so that one candidate's slow code
    (or a burst of runs) cannot hold every sandbox while other candidates wait."""
    job = session.get(GradingJob, job_id, with_for_update=True)
    now = utcnow()
    if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
        return None
    if job.status == JobStatus.RUNNING and job.lease_until is not None and job.lease_until > now:
        return None
    submission = job.submission
    # Claims of one attempt's jobs go one after another (the attempt's row lock), so two workers cannot
    # both see a free share and both take it.
    attempt = session.get(Attempt, submission.attempt_id, with_for_update=True)
    assert attempt is not None  # the submission's foreign key
    running = session.scalar(
        select(func.count())
        .select_from(GradingJob)
        .join(Submission)
        .where(
            Submission.attempt_id == attempt.id,
            GradingJob.id != job.id,
            GradingJob.status == JobStatus.RUNNING,
            GradingJob.lease_until > now,
        )
    )
    if (running or 0) >= per_attempt:
        job.status, job.lease_until = JobStatus.QUEUED, now + max(lease, BUSY_RETRY)
        return Busy(job.id, BUSY_RETRY)
    job.status, job.lease_until, job.tries = JobStatus.RUNNING, now + lease, job.tries + 1
    job.started_at = job.started_at or now
    return Claim(
        job_id=job.id,
        task_id=submission.task_id,
        source=submission.source,
        seed=attempt.seed,
        visible_only=submission.kind == SubmissionKind.SAMPLE,
    )


def requeue_stale_jobs(session: Session, lease: timedelta) -> list[int]:
    """Jobs whose worker died (running, lease lapsed) or whose message may be lost (queued longer than a
    lease) go back to queued with a fresh lease; the caller sends their messages after commit. Sending one
    twice is harmless: `claim_job` lets one worker in, and `store_result` stores one result."""
    now = utcnow()
    stale = session.scalars(
        select(GradingJob)
        .where(
            GradingJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
            or_(
                GradingJob.lease_until < now,
                and_(GradingJob.lease_until.is_(None), GradingJob.created_at < now - lease),
            ),
        )
        .order_by(GradingJob.id)
        .limit(RECONCILE_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    requeued = []
    for job in stale:
        if job.tries >= MAX_TRIES:
            fail_job(session, job.id, f"grading was interrupted {job.tries} times; not trying again")
            continue
        job.status, job.lease_until = JobStatus.QUEUED, now + lease
        requeued.append(job.id)
    return requeued


def renew_lease(session: Session, job_id: int, lease: timedelta) -> None:
    """The worker grading this job is alive: push its lease forward."""
    session.execute(
        update(GradingJob)
        .where(GradingJob.id == job_id, GradingJob.status == JobStatus.RUNNING)
        .values(lease_until=utcnow() + lease)
    )


def release_jobs(session: Session, job_ids: list[int]) -> list[int]:
    """A stopping worker hands back the jobs it still holds: queued again, lease lapsed, for the caller to
    send again after commit."""
    released = []
    for job_id in job_ids:
        job = session.get(GradingJob, job_id, with_for_update=True)
        if job is not None and job.status == JobStatus.RUNNING:
            job.status, job.lease_until = JobStatus.QUEUED, utcnow()
            released.append(job_id)
    return released


def reopen_failed(session: Session, submission: Submission) -> GradingJob:
    """A failed grading queued again from scratch (its tries forgotten), for the caller to send after commit.
    Its lease has lapsed already, so a reconciler sends it too if that message is lost."""
    job = session.get(GradingJob, submission.job.id, with_for_update=True) if submission.job else None
    if job is None or job.status != JobStatus.FAILED:
        raise Conflict("only a grading that failed can be retried")
    job.status, job.tries, job.error = JobStatus.QUEUED, 0, ""
    job.finished_at, job.lease_until = None, utcnow()
    session.flush()
    return job


def failed_submissions(session: Session, organization_id: int | None = None) -> list[Submission]:
    """Submissions whose grading failed (final ones and sample runs), oldest first."""
    query = select(Submission).join(GradingJob).where(GradingJob.status == JobStatus.FAILED)
    if organization_id is not None:
        query = (
            query.join(Attempt, Attempt.id == Submission.attempt_id)
            .join(Invitation, Invitation.id == Attempt.invitation_id)
            .where(Invitation.organization_id == organization_id)
        )
    return list(session.scalars(query.order_by(Submission.id)))


def store_result(session: Session, job_id: int, result: GradeResult) -> None:
    job = session.get(GradingJob, job_id, with_for_update=True)
    if job is None or job.status == JobStatus.DONE:
        return
    submission = job.submission
    if submission.result is None:
        submission.result = StoredGrade(
            verdict=result.verdict, score=result.score, result=result.model_dump(mode="json")
        )
    job.status, job.finished_at, job.lease_until, job.error = JobStatus.DONE, utcnow(), None, ""
    session.flush()
    if submission.kind == SubmissionKind.FINAL:
        _credit_final(session, submission, result.score)
        _announce_when_scored(session, submission.attempt_id)


def fail_job(session: Session, job_id: int, error: str) -> None:
    job = session.get(GradingJob, job_id)
    if job is not None and job.status != JobStatus.DONE:
        job.status, job.finished_at, job.lease_until, job.error = JobStatus.FAILED, utcnow(), None, error
        session.flush()
        if job.submission.kind == SubmissionKind.FINAL:
            _announce_when_scored(session, job.submission.attempt_id)


def _announce_when_scored(session: Session, attempt_id: int) -> None:
    attempt = session.get(Attempt, attempt_id, with_for_update=True)
    if attempt is not None:
        announce_if_scored(session, attempt)


def announce_if_scored(session: Session, attempt: Attempt) -> None:
    """Once a closed attempt has no final grading left to finish, `result.scored` goes out, exactly once
    (the caller holds the attempt's row lock, so two gradings finishing together cannot both announce)."""
    if attempt.closed_at is None or attempt.scored_at is not None or pending_gradings(session, attempt):
        return
    attempt.scored_at = utcnow()
    record_event(
        session,
        attempt.invitation.organization_id,
        "result.scored",
        {"invitation_id": attempt.invitation_id, **score_summary(attempt)},
        once=f"result.scored:{attempt.id}",
    )


def _credit_final(session: Session, submission: Submission, score: float) -> None:
    """The newest final submission of an item sets its points; the attempt's score is computed again under
    its row lock, so two gradings finishing together cannot lose each other's points."""
    if latest_final(session, submission.attempt_id, submission.item_id) is not submission:
        return
    attempt = session.get(Attempt, submission.attempt_id, with_for_update=True)
    item = session.get(AssessmentItem, submission.item_id)
    assert attempt is not None and item is not None
    answer = session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.item_id == item.id))
    if answer is None:
        return
    answer.auto_points = round(item.points * score, 4)
    refresh_score(session, attempt)


def pending_gradings(session: Session, attempt: Attempt) -> int:
    """Final gradings of this attempt not finished yet (its score is not complete until they are)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(GradingJob)
            .join(Submission)
            .where(
                Submission.attempt_id == attempt.id,
                Submission.kind == SubmissionKind.FINAL,
                GradingJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
            )
        )
        or 0
    )


def candidate_view(submission: Submission, *, show_score: bool, show_diagnoses: bool) -> dict[str, Any]:
    """What the candidate may see of a run: of a sample run (it only has visible cases) its cases, their
    errors and what the code printed, and the diagnoses when the assessment shows them; of a final
    submission, only whether it was graded, and the aggregate when the recruiter allows it."""
    job = submission.job
    view: dict[str, Any] = {
        "id": submission.id,
        "kind": submission.kind.value,
        "status": job.status.value if job else JobStatus.QUEUED.value,
        "result": None,
    }
    if job is not None and job.status == JobStatus.FAILED:
        view["error"] = "Your code could not be graded just now. It is saved; please try again."
    stored = submission.result
    if stored is None:
        return view
    if submission.kind == SubmissionKind.SAMPLE:
        view["result"] = stored.result if show_diagnoses else {**stored.result, "diagnoses": []}
    elif show_score:
        cases = stored.result.get("cases", [])
        view["result"] = {
            "verdict": stored.verdict,
            "score": stored.score,
            "passed": sum(c["status"] == "passed" for c in cases),
            "total": len(cases),
        }
    return view


def retry_grading(session: Session, actor: Actor, submission: Submission) -> None:
    """Grade a submission whose grading failed again, once this transaction commits; audited."""
    job = reopen_failed(session, submission)
    send_after_commit(session, "grade_submission", job.id)
    attempt = session.get(Attempt, submission.attempt_id)
    assert attempt is not None  # the submission's foreign key
    detail = {"item_id": submission.item_id, "submission_id": submission.id}
    record(session, actor, "grading.retried", attempt.invitation, **detail)


def queue_submission(
    session: Session, attempt: Attempt, item: AssessmentItem, kind: SubmissionKind, source: str
) -> Submission:
    """Record a submission and have it graded once this transaction commits."""
    submission = new_submission(session, attempt, item, kind, source)
    assert submission.job is not None
    send_after_commit(session, "grade_submission", submission.job.id)
    return submission

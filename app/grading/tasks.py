"""The grading actor: claim a submission's job, grade it in the sandbox, store the result."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import dramatiq
from sqlalchemy.orm import Session

from app.core import metrics
from app.core.config import Settings
from app.grading import service
from app.jobs.runtime import job_session, job_settings, on_stop, reconciles, send_after_commit
from grader import grade
from grader.grading import sandboxes_ready
from grader.sandbox import SandboxUnavailable

log = logging.getLogger("assay.grading")

# Jobs this process has claimed and not finished: what a stopping worker hands back.
_held: set[int] = set()
_held_lock = threading.Lock()


@dramatiq.actor(queue_name="grading", max_retries=0)
def grade_submission(job_id: int) -> None:
    settings = job_settings()
    lease = timedelta(seconds=settings.grading_lease_seconds)
    with job_session() as session:
        claim = service.claim_job(session, job_id, lease, per_attempt=settings.gradings_per_attempt)
    if claim is None:
        return  # done already, or another worker holds it
    if isinstance(claim, service.Busy):
        # Its attempt has its share of sandboxes: offered again shortly, after other candidates' jobs.
        retry_ms = int(claim.retry_after.total_seconds() * 1000)
        grade_submission.send_with_options(args=(job_id,), delay=retry_ms)
        return
    with _held_lock:
        _held.add(job_id)
    try:
        with _lease_kept(job_id, lease):
            _grade(job_id, claim)
    finally:
        with _held_lock:
            _held.discard(job_id)
        metrics.SANDBOX_POOL.labels("ready").set(sandboxes_ready())


@contextmanager
def _lease_kept(job_id: int, lease: timedelta) -> Iterator[None]:
    """Renew the job's lease every third of it while grading, so the lease can be short (a dead worker's
    job is handed on quickly) without a slow grading being taken from a live one."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease.total_seconds() / 3):
            try:
                with job_session() as session:
                    service.renew_lease(session, job_id, lease)
            except Exception as exc:  # the next renewal may get through; the lease covers two misses
                log.warning("could not renew the lease of grading job %s: %s", job_id, exc)

    renewer = threading.Thread(target=renew, name=f"lease-{job_id}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()


def _grade(job_id: int, claim: service.Claim) -> None:
    """Grade and store; whatever goes wrong ends the job as failed with a reason the recruiter sees (and
    can retry), never as a job left running until its lease runs out."""
    kind = "sample" if claim.visible_only else "final"
    started = time.perf_counter()
    try:
        # A sample run's result is shown to the candidate; a final one goes to the hiring team's report.
        result = grade(
            claim.task_id,
            claim.source,
            seed=claim.seed,
            visible_only=claim.visible_only,
            audience="candidate" if claim.visible_only else "recruiter",
        )
    except SandboxUnavailable as exc:
        log.error("grading job %s: sandbox unavailable: %s", job_id, exc)
        _fail(job_id, kind, "sandbox_unavailable", f"sandbox unavailable: {exc}")
        return
    except Exception:
        log.exception("grading job %s failed", job_id)
        _fail(job_id, kind, "grader_error", "the grader failed; see the worker's log")
        return
    metrics.GRADING_SECONDS.labels(kind).observe(time.perf_counter() - started)
    try:
        with job_session() as session:
            service.store_result(session, job_id, result)
    except Exception:
        log.exception("grading job %s: the result could not be stored", job_id)
        _fail(job_id, kind, "store_error", "the result could not be stored; see the worker's log")
        return
    metrics.GRADING_VERDICTS.labels(kind, result.verdict).inc()


def _fail(job_id: int, kind: str, outcome: str, reason: str) -> None:
    metrics.GRADING_VERDICTS.labels(kind, outcome).inc()
    with job_session() as session:
        service.fail_job(session, job_id, reason)


@on_stop
def release_held_jobs() -> list[int]:
    """Hand back the jobs this process still holds (it is stopping): queued again and re-sent at once."""
    with _held_lock:
        held = sorted(_held)
    if not held:
        return []
    with job_session() as session:
        released = service.release_jobs(session, held)
        for job_id in released:
            send_after_commit(session, "grade_submission", job_id)
    log.warning("released %d grading job(s) still running at shutdown: %s", len(released), released)
    return released


@reconciles("grading job", "grade_submission")
def _stale_gradings(session: Session, settings: Settings) -> list[int]:
    return service.requeue_stale_jobs(session, timedelta(seconds=settings.grading_lease_seconds))

"""How long Assay takes to recover from each fault, on app + worker with PostgreSQL and a Redis of its own.

    .venv/bin/python bench/recovery.py            # the default settings
    .venv/bin/python bench/recovery.py --fast     # ASSAY_GRADING_LEASE_SECONDS=10, ASSAY_RECONCILE_SECONDS=5

Three faults, each measured from the moment it is over until the work it interrupted is done:
  * a worker SIGKILLed while grading, a new worker started at once: until every grading is stored;
  * Redis killed while gradings are queued and running, restarted empty 2 s later: until every grading is
    stored (its messages are gone; the reconciler re-sends from the database);
  * the app SIGKILLed and started again: until /readyz answers 200.
Each figure is printed in seconds and as a multiple of what governs it (the grading lease plus one
reconcile interval for the first two, the app's first start for the third), since the machine is noisy
and the bound is what the settings promise.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
from cluster import Processes, bench_database, free_port
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.config import Settings
from app.models import GradingJob, JobStatus
from tests import factories
from tests.redis_server import RedisServer

FAST = {"ASSAY_GRADING_LEASE_SECONDS": "10", "ASSAY_RECONCILE_SECONDS": "5"}


def until(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds until `condition` holds (checked every 0.1 s); exits when it never does."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            done = bool(condition())
        except Exception:  # not up yet: a later check will find it
            done = False
        if done:
            return time.monotonic() - started
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def graded_jobs(sessions: sessionmaker[Session], count: int) -> list[int]:
    """`count` candidates who handed in code: one final grading job each, committed."""
    with sessions() as session:
        _, org = factories.owner(session, email=f"owner-{time.monotonic_ns()}@example.com")
        assessment = factories.coding_assessment(session, org)
        jobs = factories.final_grading_jobs(
            session, org, assessment, factories.SLOW_RIGHT.format(pause=1.5), count
        )
        session.commit()
    return jobs


def statuses(sessions: sessionmaker[Session], jobs: list[int]) -> set[JobStatus]:
    with sessions() as session:
        return {job.status for job in session.scalars(select(GradingJob).where(GradingJob.id.in_(jobs)))}


def enqueue(redis: RedisServer, jobs: list[int]) -> None:
    """What the app sends once a submission commits, straight to this Redis."""
    broker = RedisBroker(url=redis.url)  # type: ignore[no-untyped-call]
    for job_id in jobs:
        broker.enqueue(
            Message(
                queue_name="grading", actor_name="grade_submission", args=(job_id,), kwargs={}, options={}
            )
        )
    broker.close()


def kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--fast", action="store_true", help="shorter lease and reconcile interval: " + str(FAST)
    )
    parser.add_argument("--jobs", type=int, default=3, help="gradings in flight at each fault")
    options = parser.parse_args()
    overrides = FAST if options.fast else {}
    settings = Settings(_env_file=None, **{k.removeprefix("ASSAY_").lower(): v for k, v in overrides.items()})  # type: ignore[arg-type]
    bound = settings.grading_lease_seconds + settings.reconcile_seconds
    worker_args = ("worker", "--processes", "1", "--threads", "2", "--metrics-port", "0")
    folder = Path(tempfile.mkdtemp(prefix="assay-recovery-"))
    redis = RedisServer(folder)
    redis.start()
    with bench_database() as (url, sessions):
        processes = Processes(url, redis.url, folder, settings=overrides)
        try:
            print(
                f"settings: grading lease {settings.grading_lease_seconds} s, reconcile every "
                f"{settings.reconcile_seconds:g} s, outbox sweep every {settings.outbox_sweep_seconds:g} s"
            )
            jobs = graded_jobs(sessions, options.jobs)
            worker = processes.start("worker", *worker_args)
            enqueue(redis, jobs)
            until(lambda: JobStatus.RUNNING in statuses(sessions, jobs), 120, "a grading to start")
            kill(worker)
            processes.start("worker", *worker_args)
            crash = until(
                lambda: statuses(sessions, jobs) == {JobStatus.DONE}, 30 * bound, "gradings after a crash"
            )
            print(
                f"worker SIGKILLed mid-grading: every grading stored {crash:.1f} s later "
                f"({crash / bound:.2f}x lease + reconcile = {bound:g} s)"
            )

            jobs = graded_jobs(sessions, options.jobs)
            enqueue(redis, jobs)
            until(lambda: JobStatus.RUNNING in statuses(sessions, jobs), 120, "a grading to start")
            redis.stop()
            time.sleep(2)
            redis.start()
            outage = until(
                lambda: statuses(sessions, jobs) == {JobStatus.DONE}, 30 * bound, "gradings after Redis"
            )
            print(
                f"Redis killed and restarted empty: every grading stored {outage:.1f} s after it was back "
                f"({outage / bound:.2f}x lease + reconcile = {bound:g} s)"
            )

            port = free_port()
            started = time.monotonic()
            base = processes.serve(port, 1)
            first = time.monotonic() - started
            kill(processes.running[-1])
            processes.start("app", "serve", "--port", str(port), "--workers", "1")
            back = until(
                lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, 90, "the app again"
            )
            print(
                f"app SIGKILLed and started again: ready {back:.1f} s later "
                f"({back / first:.2f}x its first start, {first:.1f} s)"
            )
        finally:
            processes.stop()
            redis.stop()


if __name__ == "__main__":
    main()

"""500 simulated candidates take an assessment at once, on app + workers with PostgreSQL and Redis.

    .venv/bin/python bench/load.py [--candidates 500] [--spawn-rate 25] [--run-seconds 240]

Starts `assay serve --workers 2` and `assay worker` on a fresh PostgreSQL database and Redis, then runs
locust (bench/locustfile.py) on loopback, bounded in time: each candidate starts, autosaves answers, runs
the sample tests, submits code and finishes. Afterwards it waits for the grading queue to drain and checks
the database: every acknowledged answer is stored exactly as last sent, every submission has exactly one
result. It prints the 5xx count (target 0), autosave latency and the grading queue delay.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
import redis
from cluster import (
    REDIS_URL,
    ROOT,
    Processes,
    bench_database,
    free_port,
    invite_candidates,
    percentile,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.security import token_digest
from app.models import Answer, Attempt, GradingJob, Invitation, JobStatus, StoredGrade, Submission


def wait_for_gradings(sessions: sessionmaker[Session], timeout: float) -> float:
    """Seconds until no grading is queued or running (or the timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with sessions() as session:
            waiting = session.scalar(
                select(func.count())
                .select_from(GradingJob)
                .where(GradingJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
            )
        if not waiting:
            break
        time.sleep(1)
    return time.monotonic() - started


def wait_for_a_worker(base: str) -> None:
    """The app's /readyz counts the workers whose heartbeat Redis has seen."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if httpx.get(f"{base}/readyz", timeout=5).json()["checks"].get("workers", 0) >= 1:
            return
        time.sleep(0.5)
    raise SystemExit("no worker came up; see its log")


def check_answers(session: Session, acknowledged: dict[str, dict[str, object]]) -> list[str]:
    """Every answer the server acknowledged is in the database exactly as last sent."""
    problems = []
    for token, items in acknowledged.items():
        attempt_id = session.scalar(
            select(Attempt.id).join(Invitation).where(Invitation.token_hash == token_digest(token))
        )
        stored = {
            str(item_id): value
            for item_id, value in session.execute(
                select(Answer.item_id, Answer.value).where(Answer.attempt_id == attempt_id)
            )
        }
        for item_id, value in items.items():
            if stored.get(item_id) != value:
                problems.append(
                    f"{token[:8]}… item {item_id}: acknowledged {value!r}, stored {stored.get(item_id)!r}"
                )
    return problems


def check_results(session: Session) -> tuple[int, list[str]]:
    """(submissions, problems): each submission has exactly one stored result."""
    counts = session.execute(
        select(Submission.id, func.count(StoredGrade.id))
        .outerjoin(StoredGrade, StoredGrade.submission_id == Submission.id)
        .group_by(Submission.id)
    ).all()
    problems = [f"submission {sid}: {n} results" for sid, n in counts if n != 1]
    return len(counts), problems


def grading_times(session: Session) -> tuple[list[float], list[float]]:
    """Seconds from each grading job's creation to a worker starting it, and from then to its result."""
    rows = session.execute(
        select(GradingJob.created_at, GradingJob.started_at, GradingJob.finished_at).where(
            GradingJob.finished_at.is_not(None)
        )
    ).all()
    waited = [(started - created).total_seconds() for created, started, _ in rows]
    ran = [(finished - started).total_seconds() for _, started, finished in rows]
    return waited, ran


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--spawn-rate", type=float, default=25)
    parser.add_argument("--run-seconds", type=int, default=240)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="assay-load-"))
    redis.Redis.from_url(REDIS_URL).flushdb()

    with bench_database() as (url, sessions):
        candidates = invite_candidates(sessions, args.candidates, coding_task="bn-forward-train")
        tokens = folder / "tokens.json"
        tokens.write_text(json.dumps([{"token": c.token, "items": c.items} for c in candidates]))
        processes = Processes(url, broker_url=REDIS_URL, folder=folder)
        try:
            base = processes.serve(free_port(), args.web_workers)
            processes.start("worker", "worker", "--threads", str(args.worker_threads), "--metrics-port", "0")
            wait_for_a_worker(base)
            results = folder / "results.json"
            began = time.monotonic()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(ROOT / "bench" / "locustfile.py"),
                    "--headless",
                    "--only-summary",
                    "--host",
                    base,
                    "-u",
                    str(args.candidates),
                    "-r",
                    str(args.spawn_rate),
                    "-t",
                    f"{args.run_seconds}s",
                    "--stop-timeout",
                    "30",
                    "--csv",
                    str(folder / "locust"),
                ],
                env=os.environ | {"ASSAY_LOAD_TOKENS": str(tokens), "ASSAY_LOAD_RESULTS": str(results)},
                check=False,
            )
            load_seconds = time.monotonic() - began
            drained = wait_for_gradings(sessions, timeout=300)
        finally:
            processes.stop()

        outcome = json.loads(results.read_text())
        with sessions() as session:
            answer_problems = check_answers(session, outcome["acknowledged"])
            submissions, result_problems = check_results(session)
            delays, durations = grading_times(session)
            finished = session.scalar(
                select(func.count()).select_from(Attempt).where(Attempt.closed_at.is_not(None))
            )

    autosave = outcome["autosave_ms"]
    print()
    print(
        f"{args.candidates} candidates, spawned at {args.spawn_rate:g}/s; app: {args.web_workers} uvicorn "
        f"workers; 1 grading worker with {args.worker_threads} threads; PostgreSQL + Redis on this machine"
    )
    print(f"load phase: {load_seconds:.0f} s; grading queue drained {drained:.0f} s after it")
    print(f"attempts finished: {finished} of {args.candidates}")
    print(f"5xx answers: {len(outcome['server_errors'])} (target 0)")
    p50, p99 = percentile(autosave, 0.5), percentile(autosave, 0.99)
    print(f"autosaves: {len(autosave)}, p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    print(
        f"gradings: {len(delays)}; queue delay p50 {percentile(delays, 0.5):.1f} s, p99 "
        f"{percentile(delays, 0.99):.1f} s, max {max(delays, default=float('nan')):.1f} s; "
        f"claim to result p50 {percentile(durations, 0.5):.2f} s"
    )
    print(
        f"acknowledged answers checked: {sum(len(v) for v in outcome['acknowledged'].values())}; "
        f"mismatches: {len(answer_problems)}"
    )
    print(
        f"submissions: {submissions}; without exactly one result: {len(result_problems)}; "
        f"gradings still unfinished when candidates stopped polling: {len(outcome['unfinished'])}"
    )
    for problem in (answer_problems + result_problems + outcome["server_errors"])[:20]:
        print("  ", problem)
    print(f"logs and locust CSVs: {folder}")
    if answer_problems or result_problems or outcome["server_errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

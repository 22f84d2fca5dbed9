"""The shared schedule: each periodic firing is claimed in the database by exactly one process."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.jobs.schedule import Periodic
from app.jobs.service import backlog, claim_tick
from app.models import ScheduleTick, utcnow

MINUTE = timedelta(minutes=1)


def test_a_tick_is_claimed_once_per_interval(session: Session) -> None:
    assert claim_tick(session, "sweep", MINUTE), "the first caller fires"
    assert not claim_tick(session, "sweep", MINUTE), "a second process in the same interval does not"
    assert claim_tick(session, "other", MINUTE), "each job has its own schedule"
    tick = session.get(ScheduleTick, "sweep")
    assert tick is not None
    tick.due_at = utcnow() - timedelta(seconds=1)
    assert claim_tick(session, "sweep", MINUTE), "once the interval has passed, one caller fires again"
    assert not claim_tick(session, "sweep", MINUTE)


def test_a_process_waking_slightly_early_still_takes_its_turn(session: Session) -> None:
    assert claim_tick(session, "sweep", MINUTE)
    tick = session.get(ScheduleTick, "sweep")
    assert tick is not None
    tick.due_at = utcnow() + timedelta(seconds=3)  # within a tenth of the interval
    assert claim_tick(session, "sweep", MINUTE)


class _Recorder:
    actor_name = "recorder"

    def __init__(self) -> None:
        self.sent = 0

    def send(self) -> None:
        self.sent += 1


def test_several_schedulers_fire_a_job_once(session_factory: sessionmaker[Session]) -> None:
    """Three processes' schedulers wake together, as replicas of a worker do: the job fires once."""
    actor = _Recorder()
    schedulers = [Periodic(actor, 60, session_factory) for _ in range(3)]
    fired = [periodic.fire_if_due() for periodic in schedulers]
    assert fired.count(True) == 1 and actor.sent == 1


def test_a_failing_tick_does_not_end_the_schedule(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    class Flaky(_Recorder):
        def send(self) -> None:
            super().send()
            if self.sent == 1:
                raise ConnectionError("Redis is restarting")

    actor = Flaky()
    periodic = Periodic(actor, 0.05, session_factory)
    periodic.start()
    try:
        deadline = time.monotonic() + 10
        while actor.sent < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        periodic.stop()
    assert actor.sent >= 2, "the schedule went on after the broker error"
    assert "could not fire recorder" in caplog.text


def test_backlog_counts_waiting_work_and_its_age(session: Session) -> None:
    rows = {(row.kind, row.status): row for row in backlog(session)}
    assert set(rows) == {
        ("grading", "queued"),
        ("grading", "running"),
        ("email", "pending"),
        ("webhook", "pending"),
        ("partner_callback", "pending"),
    }
    assert all(row.count >= 0 and row.oldest_age >= 0 for row in rows.values())


def test_the_schedule_is_what_the_actors_declare_at_the_intervals_the_settings_give(
    session_factory: sessionmaker[Session],
) -> None:
    from app.core.config import Settings
    from app.jobs.schedule import Scheduler
    from app.worker import load_actors

    load_actors()  # as every process that runs jobs does
    settings = Settings(
        reconcile_seconds=11, deadline_sweep_seconds=12, reminder_sweep_seconds=13, outbox_sweep_seconds=14
    )
    declared = {p.actor.actor_name: p.interval for p in Scheduler(settings, session_factory).periodic}
    assert declared == {
        "reconcile_jobs": 11,
        "close_overdue_attempts": 12,
        "send_due_reminders": 13,
        "expire_invitations": 13,
        "send_due_outbox": 14,
    }


def test_the_reconciler_knows_every_kind_of_work_whose_message_can_be_lost() -> None:
    from app.jobs.runtime import RECONCILERS
    from app.worker import load_actors

    load_actors()
    assert {(r.kind, r.actor_name) for r in RECONCILERS} == {
        ("grading job", "grade_submission"),
        ("similarity check", "check_similarity"),  # tests/similarity/test_tasks.py
    }, "outbox kinds are the outbox sweep's (tests/outbox)"

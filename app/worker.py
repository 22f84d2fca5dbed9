"""The Dramatiq broker and everything jobs share: Redis when ASSAY_BROKER_URL is set (scale-out), otherwise
in-process (embedded).

`assay worker` runs `dramatiq app.actors` against the Redis broker. In the embedded default the app
process runs a Dramatiq worker on a StubBroker (see `AppJobs`), so one process does everything.

A job message only says "look at row N": the row is the truth. Messages are sent after the transaction that
created their row commits (`send_after_commit`), so a worker never looks for a row it cannot see yet, and a
rolled-back request sends nothing. A message that cannot be sent (Redis is down) is not an error for the
request that committed the row: the reconciler (app.jobs) sends it again from the row once Redis is back.

Periodic jobs run wherever jobs run (the embedded app, every `assay worker` process); each firing is
claimed in the database first (`schedule_ticks`), so several processes never fire the same one twice.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory, session_scope

log = logging.getLogger("assay.worker")


def build_broker(broker_url: str) -> dramatiq.Broker:
    if broker_url:
        # Timeouts, so that a Redis that stops answering fails a send quickly instead of hanging a request.
        client = redis.Redis.from_url(broker_url, socket_timeout=10, socket_connect_timeout=3)
        return RedisBroker(client=client)  # type: ignore[no-untyped-call]
    return StubBroker()


broker = build_broker(get_settings().broker_url)
broker.add_middleware(CurrentMessage())  # job ids in log lines (app.logs)
dramatiq.set_broker(broker)

_PENDING = "assay.pending_messages"


def send_after_commit(session: Session, actor: Any, *args: Any) -> None:
    """Send `actor(*args)` once `session` commits; a rollback drops it."""
    session.info.setdefault(_PENDING, []).append((actor, args))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for actor, args in session.info.pop(_PENDING, []):
        try:
            actor.send(*args)
        except Exception as exc:  # the row is committed; the reconciler sends it again from the row
            log.warning(
                "could not enqueue %s%r (%s); the reconciler will retry it", actor.actor_name, args, exc
            )


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


_job_sessions: sessionmaker[Session] | None = None
_job_settings: Settings | None = None
_job_sessions_lock = threading.Lock()


def use_job_context(settings: Settings | None, factory: sessionmaker[Session] | None) -> None:
    """The settings and database actors use: the app's own in the embedded worker, a test's in tests;
    by default (a separate worker process) the environment's."""
    global _job_sessions, _job_settings
    _job_settings, _job_sessions = settings, factory


def job_settings() -> Settings:
    return _job_settings or get_settings()


def job_session_factory() -> sessionmaker[Session]:
    """Actors' sessions: on the database the settings name unless told otherwise."""
    global _job_sessions
    with _job_sessions_lock:
        if _job_sessions is None:
            _job_sessions = make_session_factory(make_engine(job_settings()))
        return _job_sessions


@contextmanager
def job_session() -> Iterator[Session]:
    """One unit of work inside an actor."""
    with session_scope(job_session_factory()) as session:
        yield session


class Periodic:
    """Sends an actor's message every `interval` seconds from a daemon thread, until stopped; each firing is
    claimed in the database first, so other processes running the same schedule skip it."""

    def __init__(self, actor: Any, interval: float, factory: sessionmaker[Session]) -> None:
        self.actor, self.interval, self._factory = actor, interval, factory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"periodic-{actor.actor_name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def fire_if_due(self) -> bool:
        from app.jobs.service import claim_tick

        with session_scope(self._factory) as session:
            claimed = claim_tick(session, self.actor.actor_name, timedelta(seconds=self.interval))
        if claimed:
            self.actor.send()
        return claimed

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.fire_if_due()
            except Exception as exc:  # a database or broker hiccup must not end the schedule
                log.warning("could not fire %s: %s", self.actor.actor_name, exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Scheduler:
    """Every periodic job, at the interval the settings give it."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        from app.attempts.tasks import close_overdue_attempts
        from app.integrations.tasks import send_due_callbacks
        from app.invitations.tasks import expire_invitations, send_due_reminders
        from app.jobs.tasks import reconcile_jobs
        from app.webhooks.tasks import send_due_webhooks

        self.periodic = [
            Periodic(reconcile_jobs, settings.reconcile_seconds, factory),
            Periodic(close_overdue_attempts, settings.deadline_sweep_seconds, factory),
            Periodic(send_due_reminders, settings.reminder_sweep_seconds, factory),
            Periodic(send_due_webhooks, settings.webhook_sweep_seconds, factory),
            Periodic(send_due_callbacks, settings.webhook_sweep_seconds, factory),
            Periodic(expire_invitations, settings.reminder_sweep_seconds, factory),
        ]

    def start(self) -> None:
        for periodic in self.periodic:
            periodic.start()

    def stop(self) -> None:
        for periodic in self.periodic:
            periodic.stop()


def release_held_work() -> None:
    """Hand back what this process claimed and did not finish, so another worker takes it at once."""
    from app.grading.tasks import release_held_jobs

    try:
        release_held_jobs()
    except Exception as exc:  # its leases then lapse and the reconciler hands it on
        log.warning("could not release held jobs: %s", exc)


class AppJobs:
    """What the embedded app (no broker URL) runs in the background: Dramatiq worker threads on the
    StubBroker and the scheduler, so one process does everything. With Redis, `assay worker` processes
    run both and the app only sends messages."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        load_actors()
        use_job_context(settings, factory)
        self._worker: dramatiq.Worker | None = None
        self._scheduler: Scheduler | None = None
        if not settings.uses_external_broker:
            configure_sandbox_pool(settings.worker_threads)
            self._worker = dramatiq.Worker(broker, worker_threads=settings.worker_threads, worker_timeout=100)
            self._scheduler = Scheduler(settings, factory)

    def start(self) -> None:
        if self._worker is not None:
            self._worker.start()
        if self._scheduler is not None:
            self._scheduler.start()

    def stop(self, timeout: float = 30) -> None:
        """Stop scheduling, let running jobs finish for up to `timeout` seconds, release what is left."""
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._worker is not None:
            self._worker.stop(timeout=int(timeout * 1000))
            release_held_work()


def configure_sandbox_pool(slots: int) -> None:
    """Keep as many sandboxes warm as jobs run at once, so each concurrent grading has one ready."""
    from app.metrics import SANDBOX_POOL
    from grader.grading import configure_default_runner

    configure_default_runner(warm=slots)
    SANDBOX_POOL.labels("target").set(slots)


class WorkerLifecycle(dramatiq.Middleware):
    """In each `assay worker` process: the sandbox pool sized to the threads, the scheduler running while
    the worker does, and held jobs handed back when it stops."""

    def __init__(self) -> None:
        self._scheduler: Scheduler | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        settings = job_settings()
        configure_sandbox_pool(settings.worker_threads)
        self._scheduler = Scheduler(settings, job_session_factory())
        self._scheduler.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        release_held_work()


# Actor modules register themselves on import; each domain's tasks.py is listed here. They are imported when
# jobs start (`AppJobs`, or `dramatiq app.actors` for `assay worker`), not with this module: services import
# their tasks, and the tasks import this module for the broker.
ACTOR_MODULES: tuple[str, ...] = (
    "app.grading.tasks",
    "app.attempts.tasks",
    "app.emails.tasks",
    "app.invitations.tasks",
    "app.webhooks.tasks",
    "app.integrations.tasks",
    "app.jobs.tasks",
)


def load_actors() -> None:
    for module in ACTOR_MODULES:
        importlib.import_module(module)

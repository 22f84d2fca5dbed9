"""The Dramatiq broker and everything jobs share: Redis when ASSAY_BROKER_URL is set (scale-out), otherwise
in-process (embedded).

`assay worker` runs `dramatiq app.actors` against the Redis broker. In the embedded default the app
process runs a Dramatiq worker on a StubBroker (see `AppJobs`), so one process does everything.

A job message only says "look at row N": the row is the truth. Messages are sent after the transaction that
created their row commits (`send_after_commit`), so a worker never looks for a row it cannot see yet, and a
rolled-back request sends nothing.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory, session_scope

log = logging.getLogger("assay.worker")


def build_broker(broker_url: str) -> dramatiq.Broker:
    if broker_url:
        return RedisBroker(url=broker_url)  # type: ignore[no-untyped-call]
    return StubBroker()


broker = build_broker(get_settings().broker_url)
dramatiq.set_broker(broker)

_PENDING = "assay.pending_messages"


def send_after_commit(session: Session, actor: Any, *args: Any) -> None:
    """Send `actor(*args)` once `session` commits; a rollback drops it."""
    session.info.setdefault(_PENDING, []).append((actor, args))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for actor, args in session.info.pop(_PENDING, []):
        actor.send(*args)


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


@contextmanager
def job_session() -> Iterator[Session]:
    """One unit of work inside an actor, on the database the settings name unless told otherwise."""
    global _job_sessions
    with _job_sessions_lock:
        if _job_sessions is None:
            _job_sessions = make_session_factory(make_engine(job_settings()))
        factory = _job_sessions
    with session_scope(factory) as session:
        yield session


class Periodic:
    """Sends an actor's message every `interval` seconds from a daemon thread, until stopped."""

    def __init__(self, actor: Any, interval: float) -> None:
        self.actor, self.interval = actor, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"periodic-{actor.actor_name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.actor.send()
            except Exception:  # a broker hiccup must not end the schedule
                log.exception("could not send %s", self.actor.actor_name)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class AppJobs:
    """What the app process runs in the background. Embedded (no broker URL): Dramatiq worker threads on the
    StubBroker, so one process does everything. Always: the periodic senders (closing attempts whose time
    is up, reminding candidates); with Redis, their messages go to the `assay worker` processes. Several app
    replicas each send them; the jobs are idempotent and skip rows another worker holds."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        load_actors()
        from app.attempts.tasks import close_overdue_attempts
        from app.integrations.tasks import send_due_callbacks
        from app.invitations.tasks import expire_invitations, send_due_reminders
        from app.webhooks.tasks import send_due_webhooks

        use_job_context(settings, factory)
        self._worker = (
            None
            if settings.uses_external_broker
            else dramatiq.Worker(broker, worker_threads=settings.worker_threads, worker_timeout=100)
        )
        self._periodic = [
            Periodic(close_overdue_attempts, settings.deadline_sweep_seconds),
            Periodic(send_due_reminders, settings.reminder_sweep_seconds),
            Periodic(send_due_webhooks, settings.webhook_sweep_seconds),
            Periodic(send_due_callbacks, settings.webhook_sweep_seconds),
            Periodic(expire_invitations, settings.reminder_sweep_seconds),
        ]

    def start(self) -> None:
        if self._worker is not None:
            self._worker.start()
        for periodic in self._periodic:
            periodic.start()

    def stop(self) -> None:
        for periodic in self._periodic:
            periodic.stop()
        if self._worker is not None:
            self._worker.stop(timeout=10_000)


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
)


def load_actors() -> None:
    for module in ACTOR_MODULES:
        importlib.import_module(module)

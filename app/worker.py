"""The composition root of background work: which modules hold actors, and how they run. In the embedded
default (no ASSAY_BROKER_URL) the app process runs Dramatiq worker threads on the in-process broker and the
scheduler (`AppJobs`), so one process does everything; with Redis, `assay worker` runs `dramatiq app.actors`
(`WorkerLifecycle`) and the app only sends messages. The runtime every job shares (broker, sending after
commit, job sessions, the registries of periodic jobs and reconcilers) is `app.jobs.runtime`; the
schedule is `app.jobs.schedule`.
"""

from __future__ import annotations

import importlib
import logging

import dramatiq
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.jobs.runtime import ON_STOP, broker, job_session_factory, job_settings, use_job_context
from app.jobs.schedule import Scheduler

log = logging.getLogger("assay.worker")


def release_held_work() -> None:
    """Hand back what this process claimed and did not finish, so another worker takes it at once."""
    for release in ON_STOP:
        try:
            release()
        except Exception as exc:  # its leases then lapse and the reconciler hands it on
            log.warning("could not release held work (%s): %s", getattr(release, "__name__", release), exc)


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
    from app.core.metrics import SANDBOX_POOL
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


# Actor modules register themselves (and their periodic jobs, reconcilers and release hooks) on import; each
# domain's tasks.py is listed here and loaded by every process that runs or sends jobs.
ACTOR_MODULES: tuple[str, ...] = (
    "app.grading.tasks",
    "app.attempts.tasks",
    "app.emails.tasks",
    "app.invitations.tasks",
    "app.webhooks.tasks",
    "app.integrations.tasks",
    "app.similarity.tasks",
    "app.outbox.tasks",
    "app.jobs.tasks",
)


def load_actors() -> None:
    for module in ACTOR_MODULES:
        importlib.import_module(module)

"""The job runtime: the Dramatiq broker (Redis when ASSAY_BROKER_URL is set, for scale-out; otherwise
in-process), sending jobs by actor name after a commit, the settings and sessions actors use, and the
registries domains declare their jobs in. It imports no domain: each domain's `tasks.py` registers itself
here, and the composition roots (`app/main.py`, `app/worker.py`, `app/cli.py`) load those modules.

A job message only says "look at row N": the row is the truth. Messages are sent after the transaction that
created their row commits (`send_after_commit`), so a worker never looks for a row it cannot see yet, and a
rolled-back request sends nothing. A message that cannot be sent (Redis is down) is not an error for the
request that committed the row: the reconciler (or, for what is sent out, the outbox sweep) sends it again
from the row once Redis is back.

Services name the actor they enqueue (`send_after_commit(session, "grade_submission", job_id)`, as Polar's
`enqueue_job`), so no service imports a `tasks.py`: the actor only has to be loaded when the message is
sent, which `send_after_commit` checks at once, inside the request, rather than after the commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ActorNotFound
from dramatiq.middleware import CurrentMessage
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_session_factory, session_scope

log = logging.getLogger("assay.worker")


def build_broker(broker_url: str) -> dramatiq.Broker:
    if broker_url:
        # Timeouts, so that a Redis that stops answering fails a send quickly instead of hanging a request.
        client = redis.Redis.from_url(broker_url, socket_timeout=10, socket_connect_timeout=3)
        return RedisBroker(client=client)  # type: ignore[no-untyped-call]
    return StubBroker()


broker = build_broker(get_settings().broker_url)
broker.add_middleware(CurrentMessage())  # job ids in log lines (app.core.logs)
dramatiq.set_broker(broker)

_PENDING = "assay.pending_messages"


class ActorNotLoaded(RuntimeError):
    """A job was enqueued by a name no loaded actor has: its module is missing from app.worker's list, or
    this process never called `app.worker.load_actors()`."""


def send_after_commit(session: Session, actor_name: str, *args: Any) -> None:
    """Send the actor named `actor_name` the message `args` once `session` commits; a rollback drops it."""
    try:
        broker.get_actor(actor_name)
    except ActorNotFound:
        raise ActorNotLoaded(f"no actor named {actor_name!r} is loaded in this process") from None
    session.info.setdefault(_PENDING, []).append((actor_name, args))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for actor_name, args in session.info.pop(_PENDING, []):
        try:
            broker.get_actor(actor_name).send(*args)
        except Exception as exc:  # the row is committed; the reconciler sends it again from the row
            log.warning("could not enqueue %s%r (%s); the reconciler will retry it", actor_name, args, exc)


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


# ------------------------------------------------------------------------------------------------ registries

Actor = TypeVar("Actor", bound=dramatiq.Actor[Any, Any])


@dataclass(frozen=True)
class PeriodicJob:
    actor: dramatiq.Actor[Any, Any]
    every: Callable[[Settings], float]  # seconds between firings, from the settings


@dataclass(frozen=True)
class Reconciler:
    """Work of one kind whose message may have been lost: `stale` marks it queued again and returns the row
    ids to send `actor_name` again."""

    kind: str
    actor_name: str
    stale: Callable[[Session, Settings], list[int]]


PERIODIC: list[PeriodicJob] = []
RECONCILERS: list[Reconciler] = []
ON_STOP: list[Callable[[], object]] = []  # run when a worker stops: hand back what it holds


def periodic(every: Callable[[Settings], float]) -> Callable[[Actor], Actor]:
    """Declare an actor periodic (above `@dramatiq.actor`): the scheduler sends it every `every(settings)`
    seconds."""

    def register(actor: Actor) -> Actor:
        PERIODIC.append(PeriodicJob(actor, every))
        return actor

    return register


def reconciles(kind: str, actor_name: str) -> Callable[[Callable[[Session, Settings], list[int]]], Any]:
    """Declare what the reconciler re-sends of one kind of work (see Reconciler)."""

    def register(stale: Callable[[Session, Settings], list[int]]) -> Callable[[Session, Settings], list[int]]:
        RECONCILERS.append(Reconciler(kind, actor_name, stale))
        return stale

    return register


def on_stop(release: Callable[[], object]) -> Callable[[], object]:
    """Declare work a stopping worker hands back, so another worker takes it at once."""
    ON_STOP.append(release)
    return release

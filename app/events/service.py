"""Events: every announced change is an `events` row written in the same transaction as the change, handed
to the subscribers (webhook endpoints, ATS partners) in that transaction too, so what they send goes out
(through app.outbox) only once the change commits. The scoring core announces; it does not know who
listens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.errors import NotFound
from app.core.security import new_token
from app.models import Event, Organization

EVENT_ID_PREFIX = "evt_"
Subscriber = Callable[[Session, Event], None]
SUBSCRIBERS: dict[str, Subscriber] = {}


class SubscribersNotLoaded(RuntimeError):
    """An event was recorded in a process that loaded no subscriber: its changes would be announced to
    nobody. Every process that changes data calls `app.worker.load_actors()`, which loads them."""


def subscribes(subscriber: Subscriber) -> Subscriber:
    """Register a function called with every event recorded, inside the event's transaction."""
    SUBSCRIBERS[f"{subscriber.__module__}.{subscriber.__qualname__}"] = subscriber
    return subscriber


def record_event(
    session: Session,
    organization_id: int,
    event_type: str,
    payload: dict[str, Any],
    *,
    once: str | None = None,
) -> Event | None:
    """Record and hand to the subscribers. `once` names a one-time transition ("invitation.completed:42"):
    its event is recorded at most once, the database refusing a second (None is returned then, and nothing
    is announced), so two requests that both made it cannot announce it twice with two event ids."""
    event = Event(
        public_id=f"{EVENT_ID_PREFIX}{new_token(15)}",
        organization_id=organization_id,
        type=event_type,
        payload=payload,
        transition_key=once,
    )
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        if once is None:
            raise
        return None
    if not SUBSCRIBERS:
        raise SubscribersNotLoaded(f"no subscriber is loaded for {event_type}")
    for subscriber in SUBSCRIBERS.values():
        subscriber(session, event)
    return event


def events_stmt(org: Organization, event_type: str | None) -> Select[Event]:
    stmt = select(Event).where(Event.organization_id == org.id)
    return stmt.where(Event.type == event_type) if event_type else stmt


def event_by_public_id(session: Session, org: Organization, public_id: str) -> Event:
    event = session.scalar(select(Event).where(Event.organization_id == org.id, Event.public_id == public_id))
    if event is None:
        raise NotFound("event not found")
    return event

"""The outbox: every announced change is an `events` row written in the same transaction as the change,
with a webhook delivery for each subscribed endpoint, sent once the transaction commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.core.errors import NotFound
from app.core.security import new_token
from app.jobs.runtime import send_after_commit
from app.models import Event, Organization
from app.webhooks.service import fan_out

EVENT_ID_PREFIX = "evt_"


def record_event(session: Session, organization_id: int, event_type: str, payload: dict[str, Any]) -> Event:
    event = Event(
        public_id=f"{EVENT_ID_PREFIX}{new_token(15)}",
        organization_id=organization_id,
        type=event_type,
        payload=payload,
    )
    session.add(event)
    session.flush()
    for delivery in fan_out(session, event):
        send_after_commit(session, "deliver_webhook", delivery.id)
    return event


def events_stmt(org: Organization, event_type: str | None) -> Select[Event]:
    stmt = select(Event).where(Event.organization_id == org.id)
    return stmt.where(Event.type == event_type) if event_type else stmt


def event_by_public_id(session: Session, org: Organization, public_id: str) -> Event:
    event = session.scalar(select(Event).where(Event.organization_id == org.id, Event.public_id == public_id))
    if event is None:
        raise NotFound("event not found")
    return event

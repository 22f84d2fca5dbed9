"""The outbox: every announced change is an `events` row written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import Event
from app.security import new_token


def record_event(session: Session, organization_id: int, event_type: str, payload: dict[str, Any]) -> Event:
    event = Event(
        public_id=f"evt_{new_token(15)}",
        organization_id=organization_id,
        type=event_type,
        payload=payload,
    )
    session.add(event)
    return event

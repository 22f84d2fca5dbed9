"""Keeping background work moving across processes: the shared schedule of periodic jobs, and what the
reconciler and the metrics read about work waiting in the database (the truth, whatever the broker holds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.core.db import upsert_insert
from app.models import (
    DeliveryStatus,
    EmailMessage,
    GradingJob,
    JobStatus,
    PartnerCallback,
    ScheduleTick,
    WebhookDelivery,
    utcnow,
)

# A process that wakes a little early still takes its turn: without slack, two processes whose timers drift
# apart could each find the tick not quite due and let a whole interval pass.
EARLY_SLACK = 0.1


def claim_tick(session: Session, name: str, interval: timedelta) -> bool:
    """True for exactly one caller per `interval` among every process sharing the database: the one whose
    conditional update moved `due_at` forward."""
    now = utcnow()
    insert = upsert_insert(session)
    session.execute(insert(ScheduleTick).values(name=name, due_at=now).on_conflict_do_nothing())
    claimed = session.execute(
        update(ScheduleTick)
        .where(ScheduleTick.name == name, ScheduleTick.due_at <= now + interval * EARLY_SLACK)
        .values(due_at=now + interval)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Backlog:
    """Work of one kind not finished yet: how many rows, and how long the oldest has waited (seconds)."""

    kind: str
    status: str
    count: int
    oldest_age: float


def backlog(session: Session) -> list[Backlog]:
    """Gradings queued and running, emails and webhook or partner deliveries waiting to be sent."""
    now = utcnow()
    sources = [
        ("grading", GradingJob.status, GradingJob.created_at, (JobStatus.QUEUED, JobStatus.RUNNING)),
        ("email", EmailMessage.status, EmailMessage.created_at, (DeliveryStatus.PENDING,)),
        ("webhook", WebhookDelivery.status, WebhookDelivery.created_at, (DeliveryStatus.PENDING,)),
        ("partner_callback", PartnerCallback.status, PartnerCallback.created_at, (DeliveryStatus.PENDING,)),
    ]
    rows: list[Backlog] = []
    for kind, status, created_at, waiting in sources:
        counts = {
            found: (count, oldest)
            for found, count, oldest in session.execute(
                select(status, func.count(), func.min(created_at)).where(status.in_(waiting)).group_by(status)
            )
        }
        for state in waiting:
            count, oldest = counts.get(state, (0, None))
            age = (now - oldest).total_seconds() if oldest is not None else 0.0
            rows.append(Backlog(kind, state.value, count, max(age, 0.0)))
    return rows

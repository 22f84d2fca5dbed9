"""The outbox: everything Assay sends out (webhook deliveries, partner callbacks, emails) is a row written in
the transaction of the change that causes it, then sent by a job, and retried on one schedule kept in the
row itself (`RetriedSend`), so a broker that loses its messages (Redis flushed, restarted or down) loses
nothing: the sweeper sends every due row that no worker holds.

One machine for every kind: a worker claims a due row's lease (committed before sending, so no transaction
stays open while a slow receiver answers), the kind's `Sender` prepares the request inside that
transaction, the request goes out with no transaction open, and the outcome is recorded in a new one
(`settle`): success, a retry at the next step of `RETRY_SCHEDULE` (later if the receiver asks with
`Retry-After`), or failure for good when the schedule is used up or the receiver says never again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from app.core import metrics
from app.core.config import Settings
from app.core.db import storable, update_if
from app.models import DeliveryStatus, EmailMessage, PartnerCallback, WebhookDelivery, utcnow

log = logging.getLogger("assay.outbox")

# After the first try; the sum is about three days, so a receiver or mail server down over a weekend still
# gets what was sent on Friday.
RETRY_SCHEDULE = tuple(timedelta(seconds=s) for s in (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 72000))
JITTER = 0.2
MAX_RETRY_AFTER = timedelta(hours=24)
# How long one worker holds a row it is sending: longer than any one request may take (HTTP and SMTP
# timeouts), so a lapsed lease means the worker died and another may send it.
LEASE = timedelta(minutes=2)
ERROR_CHARS = 2000

Outgoing = WebhookDelivery | PartnerCallback | EmailMessage
Row = TypeVar("Row", bound=Outgoing)


@dataclass(frozen=True)
class Outcome:
    """What one try came to."""

    succeeded: bool
    status_code: int | None = None
    latency_ms: int = 0
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None  # seconds the receiver asked us to wait
    gone: bool = False  # the receiver said never again (HTTP 410, a mail server refusing the recipient)


def failure(exc: BaseException, *, latency_ms: int = 0, gone: bool = False) -> Outcome:
    """A try that raised before an answer came back (network, TLS, SMTP)."""
    error = storable(f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
    return Outcome(False, latency_ms=latency_ms, error=error, gone=gone)


# What the worker does to send one row: returns the request to make outside the transaction, or None when the
# row was settled without sending (an email held for want of a mail server, a disabled endpoint).
Prepare = Callable[[Session, Settings, Row], Callable[[], Outcome] | None]
# What else the outcome changes (the webhook's attempt log, disabling an endpoint); True: failed for good.
AfterSettle = Callable[[Session, Row, Outcome, bool], None]


def _nothing_more(session: Session, row: Any, outcome: Outcome, gave_up: bool) -> None:
    return None


@dataclass(frozen=True)
class Sender(Generic[Row]):
    """One kind of outgoing row, and the actor that sends it."""

    kind: str  # in metrics and logs
    model: type[Row]
    actor_name: str
    prepare: Prepare[Row]
    after_settle: AfterSettle[Row] = _nothing_more


SENDERS: dict[str, Sender[Any]] = {}


def sends(sender: Sender[Row]) -> Sender[Row]:
    """Register a kind with the sweeper (each domain's tasks.py does, beside its actor)."""
    SENDERS[sender.kind] = sender
    return sender


def _due(model: type[Row], now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        model.status == DeliveryStatus.PENDING,
        model.next_attempt_at <= now,
        or_(model.lease_until.is_(None), model.lease_until < now),
    )


def claim(session: Session, model: type[Row], row_id: int, lease: timedelta = LEASE) -> bool:
    """Take the row's lease if it is pending, due, and nobody holds it: one worker sends it at a time."""
    now = utcnow()
    return update_if(session, model, row_id, *_due(model, now), lease_until=now + lease)


def due_ids(session: Session, model: type[Row], limit: int = 500) -> list[int]:
    """Pending rows whose time has come (a retry, or a first message that was lost) that no worker holds."""
    return list(
        session.scalars(select(model.id).where(*_due(model, utcnow())).order_by(model.id).limit(limit))
    )


def next_retry(attempt_count: int, retry_after: float | None) -> timedelta | None:
    """When to try again after `attempt_count` failed tries, or None when the schedule is used up."""
    if attempt_count > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[attempt_count - 1]
    delay = base * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - spreading load, not security
    if retry_after is not None:
        delay = max(delay, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
    return delay


def settle(row: Outgoing, outcome: Outcome, now: datetime, kind: str) -> bool:
    """Count the try and schedule what comes next; True when the row failed for good."""
    row.attempt_count += 1
    row.lease_until = None
    row.last_status_code = outcome.status_code
    row.last_error = outcome.error
    if outcome.succeeded:
        row.status, row.delivered_at, row.next_attempt_at = DeliveryStatus.SUCCEEDED, now, None
        metrics.OUTBOUND_DELIVERIES.labels(kind, "delivered").inc()
        return False
    delay = None if outcome.gone else next_retry(row.attempt_count, outcome.retry_after)
    if delay is not None:
        row.next_attempt_at = now + delay
        metrics.OUTBOUND_DELIVERIES.labels(kind, "will_retry").inc()
        return False
    row.status, row.next_attempt_at = DeliveryStatus.FAILED, None
    metrics.OUTBOUND_DELIVERIES.labels(kind, "gave_up").inc()
    log.error("%s %s failed for good after %d tries: %s", kind, row.id, row.attempt_count, row.last_error)
    return True


def give_up(row: Outgoing, reason: str) -> None:
    """Settle a row as failed without sending it."""
    row.status, row.next_attempt_at, row.lease_until, row.last_error = (
        DeliveryStatus.FAILED,
        None,
        None,
        reason,
    )


def hold(row: Outgoing) -> None:
    """Keep a row without sending it (an email while no mail server is configured)."""
    row.status, row.next_attempt_at, row.lease_until = DeliveryStatus.HELD, None, None


def send_again(row: Outgoing) -> None:
    """Due at once with a fresh schedule (a person asked for it to be sent again)."""
    row.status, row.next_attempt_at, row.lease_until, row.attempt_count = (
        DeliveryStatus.PENDING,
        utcnow(),
        None,
        0,
    )


def being_sent(row: Outgoing) -> bool:
    return row.status == DeliveryStatus.PENDING and row.lease_until is not None and row.lease_until > utcnow()

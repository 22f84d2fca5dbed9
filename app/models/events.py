"""The outbox of domain events, webhook endpoints and their deliveries, the audit trail, idempotency keys
and outgoing email."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, CreatedMixin, IdMixin, OrgOwned, enum_column


class Event(OrgOwned, CreatedMixin, Base):
    """Written in the same transaction as the change it announces: nothing uncommitted is announced."""

    __tablename__ = "events"
    # A transition announced at most once, by the database's word rather than a check that races: an event
    # that announces a one-time transition (an attempt closed, an invitation cancelled…) carries its key.
    __table_args__ = (UniqueConstraint("organization_id", "transition_key"),)

    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(80), index=True)
    payload: Mapped[dict[str, Any]]
    dispatched_at: Mapped[datetime | None]
    transition_key: Mapped[str | None] = mapped_column(String(120))


class WebhookEndpoint(OrgOwned, CreatedMixin, Base):
    """Where events are posted: the organization's endpoints hear every invitation's events; an
    invitation's own callback (given when it was created, as HackerRank's test_result_url) hears only its
    invitation's."""

    __tablename__ = "webhook_endpoints"

    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), unique=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(300), default="")
    secret: Mapped[str] = mapped_column(String(200))
    # After a rotation the old secret signs too, until it lapses, so receivers can switch without a gap.
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None]
    event_types: Mapped[list[Any]]
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str] = mapped_column(String(300), default="")


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    HELD = "held"  # kept and never sent: an email while no mail server is configured


class RetriedSend:
    """Something sent out (a webhook, a partner callback, an email) until it succeeds or its retries run
    out: pending until then, due at `next_attempt_at` (empty: not due), held by one worker until
    `lease_until`. The schedule lives here, in the row, so a broker that loses its messages loses nothing
    (app.outbox)."""

    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus), default=DeliveryStatus.PENDING, index=True
    )
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None]


class WebhookDelivery(RetriedSend, IdMixin, CreatedMixin, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "event_id"),)

    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)

    endpoint: Mapped[WebhookEndpoint] = relationship()
    event: Mapped[Event] = relationship()
    attempts: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery", order_by="WebhookAttempt.id", cascade="all, delete-orphan"
    )


class WebhookAttempt(IdMixin, Base):
    """One HTTP request of a delivery: what came back and how long it took."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempts")


class PartnerCallback(RetriedSend, OrgOwned, CreatedMixin, Base):
    """An ATS partner's "tell me when it is done" URL for one invitation (Greenhouse sends one with each
    test). Called with an empty PATCH when the candidate's score is final (not due before), and again
    whenever the final score changes; retried like a webhook delivery."""

    __tablename__ = "partner_callbacks"

    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), unique=True)
    partner: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(2000))
    # The partner's key, to authenticate the callback as the partner's own example does; sealed with the
    # install's secret key (app.core.sealing), never stored in the clear.
    credentials: Mapped[str | None] = mapped_column(Text)


class AuditEntry(OrgOwned, Base):
    __tablename__ = "audit_log"

    at: Mapped[datetime]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(80))
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(40), default="")
    detail: Mapped[dict[str, Any]]
    ip: Mapped[str] = mapped_column(String(64), default="")


class IdempotencyKey(IdMixin, CreatedMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class EmailMessage(RetriedSend, IdMixin, CreatedMixin, Base):
    """Every email Assay sends, retried like a webhook; without SMTP configured it is held here, and owners
    read it instead."""

    __tablename__ = "email_messages"

    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)

"""Webhook endpoints and the delivery of events to them, signed per Standard Webhooks.

Every event row gets one delivery row per subscribed endpoint in the event's own transaction; the outbox
(app.outbox) sends it after commit and retries it on its schedule (about three days in all). 2xx is
success; 410 Gone disables the endpoint; an endpoint with no success for `DISABLE_AFTER` is disabled and
its organization's owners are emailed.
Each request is logged; any delivery can be sent again with the same `webhook-id`, so receivers that
deduplicate by it see it once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.principal import Actor
from app.accounts.service import list_members
from app.audit.service import record
from app.core.config import Settings
from app.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.core.tenancy import get_owned
from app.events.service import subscribes
from app.jobs.runtime import send_after_commit
from app.models import (
    Event,
    Invitation,
    Organization,
    Role,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from app.outbox.http import check_url
from app.outbox.service import Outcome, being_sent, send_again

EVENT_TYPES: dict[str, str] = {
    "invitation.created": "A candidate was invited (by a person, the API or an ATS).",
    "invitation.started": "The candidate opened the link and started the assessment.",
    "invitation.completed": "The candidate finished, or their time ran out.",
    "invitation.expired": "The link expired before the candidate started.",
    "invitation.cancelled": "A recruiter withdrew the invitation.",
    "invitation.resent": "The link was emailed again, valid until `expires_at`.",
    "invitation.reminded": "A reminder went to a candidate who had not started; the link expires soon.",
    "result.scored": "Every automatic score of a completed attempt is in (code included).",
    "result.updated": "A recruiter scored or re-scored a written answer.",
    "result.flagged": "A candidate's code is alike another's over the organization's similarity threshold: "
    "for a person to review, never a verdict.",
    "assessment.published": "A draft was published and can be sent to candidates.",
    "assessment.archived": "An assessment was archived (or replaced by a newer version).",
}
# What an invitation's own callback may hear: what happens to that invitation and its result.
INVITATION_EVENT_TYPES = [
    t for t in EVENT_TYPES if t.startswith(("invitation.", "result.")) and t != "invitation.created"
]
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format marker, not a secret
ROTATION_OVERLAP = timedelta(hours=24)
DISABLE_AFTER = timedelta(days=3)
MAX_DESCRIPTION = 300


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, the key being the secret's base64 part."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and during a rotation's overlap the previous one too."""
    found = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(endpoint.previous_secret)
    return found


def event_body(event: Event) -> bytes:
    """The thin payload: what happened, when, and the ids to fetch the details with."""
    return json.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.payload},
        separators=(",", ":"),
    ).encode()


def signed_headers(endpoint: WebhookEndpoint, event: Event, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "webhook-id": event.public_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, event.public_id, timestamp, body) for secret in signing_secrets(endpoint, now)
        ),
    }


def _event_types(requested: list[str] | None, known: list[str], field: str = "event_types") -> list[str]:
    """Empty means every event type."""
    chosen = list(dict.fromkeys(requested or []))
    unknown = [t for t in chosen if t not in known]
    if unknown:
        raise ValidationFailed(
            f"Unknown event types: {', '.join(unknown)}.",
            errors=[FieldError(field, f"choose from: {', '.join(known)}")],
        )
    return chosen


def _description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION:
        raise ValidationFailed(
            "The description is too long.",
            errors=[FieldError("description", f"at most {MAX_DESCRIPTION} characters")],
        )
    return text.strip()


def create_endpoint(
    session: Session,
    actor: Actor,
    *,
    url: str,
    settings: Settings,
    description: str = "",
    event_types: list[str] | None = None,
) -> WebhookEndpoint:
    check_url(url, settings)
    endpoint = WebhookEndpoint(
        organization_id=actor.organization.id,
        url=url,
        description=_description(description),
        secret=new_secret(),
        event_types=_event_types(event_types, list(EVENT_TYPES)),
    )
    session.add(endpoint)
    session.flush()
    record(session, actor, "webhook_endpoint.created", endpoint, url=endpoint.url)
    return endpoint


def add_invitation_callback(
    session: Session,
    actor: Actor,
    invitation: Invitation,
    *,
    url: str,
    settings: Settings,
    event_types: list[str] | None = None,
) -> WebhookEndpoint:
    """The invitation's own callback: signed and retried as every webhook, but it hears only this
    invitation's events (by default all of them: started, completed, expired, cancelled, resent, reminded,
    scored, updated). Its deliveries are listed under its endpoint id."""
    check_url(url, settings, field="callback_url")
    endpoint = WebhookEndpoint(
        organization_id=invitation.organization_id,
        invitation_id=invitation.id,
        url=url,
        description=f"Callback of invitation {invitation.id}",
        secret=new_secret(),
        event_types=_event_types(event_types, INVITATION_EVENT_TYPES, "callback_events")
        or INVITATION_EVENT_TYPES,
    )
    session.add(endpoint)
    session.flush()
    session.refresh(invitation, ["callback"])
    record(
        session, actor, "webhook_endpoint.created", endpoint, url=endpoint.url, invitation_id=invitation.id
    )
    return endpoint


def endpoints_stmt(org: Organization) -> Select[WebhookEndpoint]:
    return select(WebhookEndpoint).where(WebhookEndpoint.organization_id == org.id)


def list_endpoints(session: Session, org: Organization) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == org.id)
            .order_by(WebhookEndpoint.id)
        )
    )


def get_endpoint(session: Session, org: Organization, endpoint_id: int) -> WebhookEndpoint:
    return get_owned(session, WebhookEndpoint, org, endpoint_id)


def update_endpoint(
    session: Session,
    actor: Actor,
    endpoint: WebhookEndpoint,
    *,
    settings: Settings,
    url: str | None = None,
    description: str | None = None,
    event_types: list[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    if url is not None:
        check_url(url, settings)
        endpoint.url = url
    if description is not None:
        endpoint.description = _description(description)
    if event_types is not None:
        known = INVITATION_EVENT_TYPES if endpoint.invitation_id else list(EVENT_TYPES)
        endpoint.event_types = _event_types(event_types, known)
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        endpoint.disabled_reason = "" if enabled else "disabled through the API"
    given = {"url": url, "description": description, "event_types": event_types, "enabled": enabled}
    record(
        session,
        actor,
        "webhook_endpoint.updated",
        endpoint,
        fields=sorted(k for k, v in given.items() if v is not None),
    )
    session.flush()
    return endpoint


def delete_endpoint(session: Session, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """The endpoint goes with its delivery log."""
    record(session, actor, "webhook_endpoint.deleted", endpoint, url=endpoint.url)
    session.delete(endpoint)
    session.flush()


def rotate_secret(session: Session, actor: Actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret signs from now on; the old one also signs for `ROTATION_OVERLAP`."""
    endpoint.previous_secret, endpoint.secret = endpoint.secret, new_secret()
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    record(session, actor, "webhook_endpoint.secret_rotated", endpoint)
    session.flush()
    return endpoint


def fan_out(session: Session, event: Event) -> list[WebhookDelivery]:
    """A delivery for each enabled endpoint of the event's organization that subscribes to its type: the
    organization's own, and the callback of the invitation the event is about."""
    endpoints = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.organization_id == event.organization_id,
            WebhookEndpoint.enabled.is_(True),
            or_(
                WebhookEndpoint.invitation_id.is_(None),
                WebhookEndpoint.invitation_id == event.payload.get("invitation_id"),
            ),
        )
    ).all()
    deliveries = [
        WebhookDelivery(endpoint=endpoint, event=event, next_attempt_at=utcnow())
        for endpoint in endpoints
        if not endpoint.event_types or event.type in endpoint.event_types
    ]
    session.add_all(deliveries)
    session.flush()
    return deliveries


@subscribes
def deliver_to_endpoints(session: Session, event: Event) -> None:
    for delivery in fan_out(session, event):
        send_after_commit(session, "deliver_webhook", delivery.id)


def record_attempt(session: Session, delivery: WebhookDelivery, outcome: Outcome, gave_up: bool) -> bool:
    """Log one request of a delivery the outbox has settled; True when its endpoint is disabled because of
    it (410 Gone, or the delivery failed for good with no success at the endpoint for `DISABLE_AFTER`)."""
    now = utcnow()
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            at=now,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt,
            error=outcome.error,
        )
    )
    if not gave_up:
        return False
    endpoint = delivery.endpoint
    if outcome.gone:
        return _disable(endpoint, "the receiver answered 410 Gone")
    if not _succeeded_since(session, endpoint, now - DISABLE_AFTER):
        return _disable(endpoint, f"no successful delivery for {DISABLE_AFTER.days} days")
    return False


def _succeeded_since(session: Session, endpoint: WebhookEndpoint, since: datetime) -> bool:
    return (
        session.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.delivered_at >= since)
            .limit(1)
        )
        is not None
    )


def _disable(endpoint: WebhookEndpoint, reason: str) -> bool:
    if not endpoint.enabled:
        return False
    endpoint.enabled, endpoint.disabled_reason = False, reason
    return True


def owner_addresses(session: Session, org: Organization) -> list[str]:
    return [m.user.email for m in list_members(session, org) if m.role == Role.OWNER and m.user.is_active]


def list_deliveries_stmt(endpoint: WebhookEndpoint) -> Select[WebhookDelivery]:
    return (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .options(selectinload(WebhookDelivery.event), selectinload(WebhookDelivery.attempts))
    )


def get_delivery(session: Session, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    delivery = session.scalar(list_deliveries_stmt(endpoint).where(WebhookDelivery.id == delivery_id))
    if delivery is None:
        raise NotFound("delivery not found")
    return delivery


def redeliver(session: Session, actor: Actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the same event again (same `webhook-id`) as soon as possible, with a fresh retry schedule."""
    if not delivery.endpoint.enabled:
        raise Conflict("This endpoint is disabled; enable it before redelivering.")
    if being_sent(delivery):
        raise Conflict("This delivery is being sent right now.")
    send_again(delivery)
    record(session, actor, "webhook_delivery.redelivered", delivery, event=delivery.event.public_id)
    session.flush()
    send_after_commit(session, "deliver_webhook", delivery.id)
    return delivery

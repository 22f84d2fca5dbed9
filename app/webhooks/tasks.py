"""Sending webhook deliveries through the outbox: signed at send time (so a rotated secret signs retries),
each request logged, and the organization's owners emailed when their endpoint gets disabled."""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.emails.service import queue_email
from app.models import Organization, WebhookDelivery, utcnow
from app.outbox import http
from app.outbox.service import Outcome, Sender, give_up, sends
from app.outbox.tasks import deliver
from app.webhooks import service

log = logging.getLogger("assay.webhooks")


def _signed_request(
    session: Session, settings: Settings, delivery: WebhookDelivery
) -> Callable[[], Outcome] | None:
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        give_up(delivery, f"endpoint disabled: {endpoint.disabled_reason}")
        return None
    body = service.event_body(delivery.event)
    headers = service.signed_headers(endpoint, delivery.event, body, utcnow())
    url = endpoint.url
    return lambda: http.send("POST", url, body=body, headers=headers, settings=settings)


def _after_settle(session: Session, delivery: WebhookDelivery, outcome: Outcome, gave_up: bool) -> None:
    if not service.record_attempt(session, delivery, outcome, gave_up):
        return
    endpoint = delivery.endpoint
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, endpoint.disabled_reason)
    org = session.get(Organization, endpoint.organization_id)
    assert org is not None  # the endpoint's foreign key
    for address in service.owner_addresses(session, org):
        queue_email(
            session,
            to=address,
            template="webhook_disabled",
            context={
                "url": endpoint.url,
                "endpoint_id": endpoint.id,
                "reason": endpoint.disabled_reason,
                "company": org.name,
                "last_error": delivery.last_error,
            },
            organization=org,
        )


WEBHOOKS = sends(Sender("webhook", WebhookDelivery, "deliver_webhook", _signed_request, _after_settle))


@dramatiq.actor(queue_name="webhooks", max_retries=0)
def deliver_webhook(delivery_id: int) -> None:
    deliver(WEBHOOKS, delivery_id)

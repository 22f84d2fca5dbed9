"""Sending webhook deliveries: each after the commit that created it, and again when a retry is due.

The lease is taken and committed before the request, and the outcome recorded in a new transaction after
it, so no database transaction stays open while a slow receiver answers.
"""

from __future__ import annotations

import logging

import dramatiq
from sqlalchemy.orm import selectinload

from app.emails.service import queue_email
from app.jobs.runtime import job_session, job_settings, periodic
from app.models import Organization, WebhookDelivery, utcnow
from app.webhooks import outbound, service

log = logging.getLogger("assay.webhooks")


@dramatiq.actor(queue_name="webhooks", max_retries=0)
def deliver_webhook(delivery_id: int) -> None:
    settings = job_settings()
    with job_session() as session:
        delivery = service.claim_delivery(session, delivery_id)
        if delivery is None:  # already sent, not due yet, or another worker holds it
            return
        if not delivery.endpoint.enabled:
            service.give_up_on_disabled(delivery)
            return
        body = service.event_body(delivery.event)
        headers = service.signed_headers(delivery.endpoint, delivery.event, body, utcnow())
        url = delivery.endpoint.url
    outcome = outbound.send("POST", url, body=body, headers=headers, settings=settings)
    with job_session() as session:
        delivery = session.get(
            WebhookDelivery,
            delivery_id,
            options=[selectinload(WebhookDelivery.endpoint)],
            populate_existing=True,
        )
        if delivery is None:  # the endpoint was deleted meanwhile
            return
        settled = service.record_attempt(session, delivery, outcome)
        if settled.endpoint_disabled:
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


@periodic(lambda settings: settings.webhook_sweep_seconds)
@dramatiq.actor(queue_name="periodic", max_retries=0)
def send_due_webhooks() -> None:
    """Periodic: every delivery whose retry time has come (or whose first message was lost) is sent."""
    with job_session() as session:
        due = service.due_ids(session, WebhookDelivery)
    for delivery_id in due:
        deliver_webhook.send(delivery_id)

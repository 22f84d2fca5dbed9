"""Calling ATS partners back: an empty PATCH to the URL Greenhouse gave, once the candidate's result is in,
retried on the webhooks' schedule."""

from __future__ import annotations

import dramatiq

from app.integrations import service
from app.jobs.runtime import job_session, job_settings, periodic
from app.models import PartnerCallback
from app.webhooks import outbound
from app.webhooks.outbound import Outcome
from app.webhooks.service import claim_due, due_ids


@dramatiq.actor(queue_name="webhooks", max_retries=0)
def call_partner(callback_id: int) -> None:
    settings = job_settings()
    with job_session() as session:
        if not claim_due(session, PartnerCallback, callback_id):
            return
        callback = session.get(PartnerCallback, callback_id, populate_existing=True)
        assert callback is not None  # just claimed
        url = callback.url
    if service.callback_host_allowed(url, settings):
        outcome = outbound.send("PATCH", url, body=b"", headers={}, settings=settings)
    else:  # the allow-list changed since the callback was kept
        outcome = Outcome(None, 0, error="the callback host is no longer allow-listed")
    with job_session() as session:
        callback = session.get(PartnerCallback, callback_id, populate_existing=True)
        if callback is not None:
            service.settle_callback(callback, outcome)


@periodic(lambda settings: settings.webhook_sweep_seconds)
@dramatiq.actor(queue_name="periodic", max_retries=0)
def send_due_callbacks() -> None:
    with job_session() as session:
        due = due_ids(session, PartnerCallback)
    for callback_id in due:
        call_partner.send(callback_id)

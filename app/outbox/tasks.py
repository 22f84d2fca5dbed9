"""Sending outbox rows: each kind's actor hands its row to `deliver`, and one periodic sweep sends every due
row of every kind, which covers both retries and first messages the broker lost."""

from __future__ import annotations

from typing import Any

import dramatiq

from app.jobs.runtime import job_session, job_settings, periodic, send_after_commit
from app.models import utcnow
from app.outbox.service import SENDERS, Outcome, Row, Sender, claim, due_ids, settle


def deliver(sender: Sender[Row], row_id: int) -> Outcome | None:
    """Send one row if it is due and no worker holds it; the outcome, or None when nothing was sent."""
    settings = job_settings()
    with job_session() as session:
        if not claim(session, sender.model, row_id):
            return None  # already sent, not due yet, or another worker holds it
        row = session.get(sender.model, row_id, populate_existing=True)
        assert row is not None  # just claimed
        request = sender.prepare(session, settings, row)
    if request is None:
        return None
    outcome = request()
    with job_session() as session:
        found = session.get(sender.model, row_id, populate_existing=True)
        if found is not None:  # not deleted meanwhile (with its endpoint or organization)
            gave_up = settle(found, outcome, utcnow(), sender.kind)
            sender.after_settle(session, found, outcome, gave_up)
    return outcome


@periodic(lambda settings: settings.outbox_sweep_seconds)
@dramatiq.actor(queue_name="periodic", max_retries=0)
def send_due_outbox() -> None:
    """Every row whose retry time has come, or whose first message was lost, is sent."""
    with job_session() as session:
        sender: Sender[Any]
        for sender in SENDERS.values():
            for row_id in due_ids(session, sender.model):
                send_after_commit(session, sender.actor_name, row_id)

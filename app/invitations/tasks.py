"""Reminding candidates whose link is about to expire and who have not started."""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq

from app.invitations import service
from app.jobs.runtime import job_session, job_settings, periodic

log = logging.getLogger("assay.invitations")


@periodic(lambda settings: settings.reminder_sweep_seconds)
@dramatiq.actor(queue_name="periodic", max_retries=0)
def send_due_reminders() -> None:
    settings = job_settings()
    if not settings.reminder_hours_before_expiry:
        return
    with job_session() as session:
        sent = service.send_due_reminders(
            session,
            before_expiry=timedelta(hours=settings.reminder_hours_before_expiry),
            secret_key=settings.secret_key.get_secret_value(),
            base_url=settings.base_url,
        )
    if sent:
        log.info("sent %d invitation reminder(s)", sent)


@periodic(lambda settings: settings.reminder_sweep_seconds)
@dramatiq.actor(queue_name="periodic", max_retries=0)
def expire_invitations() -> None:
    with job_session() as session:
        expired = service.expire_due_invitations(session)
    if expired:
        log.info("marked %d invitation(s) expired", expired)

"""Closing attempts whose time is up, whether or not the candidate's page is still open."""

from __future__ import annotations

import logging

import dramatiq

from app.attempts import service
from app.jobs.runtime import job_session, job_settings, periodic

log = logging.getLogger("assay.attempts")


@periodic(lambda settings: settings.deadline_sweep_seconds)
@dramatiq.actor(queue_name="periodic", max_retries=0)
def close_overdue_attempts() -> None:
    grace = job_settings().autosave_grace
    with job_session() as session:
        closed = service.close_overdue_attempts(session, grace=grace)
    if closed:
        log.info("closed %d attempt(s) at their deadline", closed)

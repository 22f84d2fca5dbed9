"""The reconciler: work whose message was lost (Redis restarted or was down when the row committed) or whose
worker died (its lease lapsed) is sent again from its row."""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq

from app.emails.service import requeue_stale_messages
from app.emails.tasks import deliver_email
from app.grading.service import requeue_stale_jobs
from app.grading.tasks import grade_submission
from app.worker import job_session, job_settings, send_after_commit

log = logging.getLogger("assay.jobs")


@dramatiq.actor(queue_name="periodic", max_retries=0)
def reconcile_jobs() -> None:
    lease = timedelta(seconds=job_settings().grading_lease_seconds)
    with job_session() as session:
        gradings = requeue_stale_jobs(session, lease)
        for job_id in gradings:
            send_after_commit(session, grade_submission, job_id)
        emails = requeue_stale_messages(session)
        for message_id in emails:
            send_after_commit(session, deliver_email, message_id)
    if gradings or emails:
        log.warning(
            "re-sent %d grading job(s) and %d email(s) whose lease lapsed", len(gradings), len(emails)
        )

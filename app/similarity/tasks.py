"""The similarity check: index a scored submission's fingerprints, then compare it with the submissions that
share the most of them (app/similarity/service.py). A message lost with Redis is sent again by the
reconciler from the check's row; a check run twice stores the same pairs and flags once."""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.jobs.runtime import job_session, reconciles
from app.similarity import service

log = logging.getLogger("assay.similarity")


@dramatiq.actor(queue_name="similarity", max_retries=0)
def check_similarity(check_id: int) -> None:
    # Two transactions: the fingerprints are committed before the index is read, so of two submissions
    # checked at the same moment the later one always finds the earlier.
    try:
        with job_session() as session:
            if not service.index_once(session, check_id):
                return
        with job_session() as session:
            service.run_check(session, check_id)
    except Exception:
        log.exception("similarity check %s failed", check_id)
        with job_session() as session:
            service.give_up(session, check_id)


@reconciles("similarity check", "check_similarity")
def _unfinished_checks(session: Session, settings: Settings) -> list[int]:
    return service.unfinished(session, older_than=timedelta(seconds=settings.reconcile_seconds))

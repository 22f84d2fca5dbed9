"""The reconciler: work whose message was lost (Redis restarted or was down when the row committed) or whose
worker died (its lease lapsed) is sent again from its row. What counts as stale is each domain's to say
(`app.jobs.runtime.reconciles`)."""

from __future__ import annotations

import logging

import dramatiq

from app.jobs.runtime import RECONCILERS, job_session, job_settings, periodic, send_after_commit

log = logging.getLogger("assay.jobs")


@periodic(lambda settings: settings.reconcile_seconds)
@dramatiq.actor(queue_name="periodic", max_retries=0)
def reconcile_jobs() -> None:
    settings = job_settings()
    resent: dict[str, int] = {}
    with job_session() as session:
        for reconciler in RECONCILERS:
            stale = reconciler.stale(session, settings)
            for row_id in stale:
                send_after_commit(session, reconciler.actor_name, row_id)
            resent[reconciler.kind] = len(stale)
    if any(resent.values()):
        counts = ", ".join(f"{count} {kind}(s)" for kind, count in resent.items() if count)
        log.warning("re-sent %s whose lease lapsed", counts)

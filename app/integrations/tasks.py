"""Calling ATS partners back through the outbox: an empty PATCH to the URL Greenhouse gave, once the
candidate's result is in (`service.call_back_when_scored` makes it due), retried on the outbox's schedule."""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.integrations import service
from app.models import PartnerCallback
from app.outbox import http
from app.outbox.service import Outcome, Sender, sends
from app.outbox.tasks import deliver


def _patch(session: Session, settings: Settings, callback: PartnerCallback) -> Callable[[], Outcome]:
    url = callback.url
    if not service.callback_host_allowed(url, settings):  # the allow-list changed since it was kept
        return lambda: Outcome(False, error="the callback host is no longer allow-listed")
    return lambda: http.send("PATCH", url, body=b"", headers={}, settings=settings)


CALLBACKS = sends(Sender("partner_callback", PartnerCallback, "call_partner", _patch))


@dramatiq.actor(queue_name="webhooks", max_retries=0)
def call_partner(callback_id: int) -> None:
    deliver(CALLBACKS, callback_id)

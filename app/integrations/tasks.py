"""Calling ATS partners back through the outbox: an empty PATCH to the URL Greenhouse gave, authenticated with
the partner's key as Greenhouse's documentation shows (HTTP Basic, the key as the user name), once the
candidate's score is final and whenever it changes after (`service.call_back_when_final` makes it due),
retried on the outbox's schedule."""

from __future__ import annotations

import base64
from collections.abc import Callable

import dramatiq
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.sealing import SealBroken, unseal
from app.integrations import service
from app.models import PartnerCallback
from app.outbox import http
from app.outbox.service import Outcome, Sender, sends
from app.outbox.tasks import deliver


def _patch(session: Session, settings: Settings, callback: PartnerCallback) -> Callable[[], Outcome]:
    url = callback.url
    if not service.callback_host_allowed(url, settings):  # the allow-list changed since it was kept
        return lambda: Outcome(False, error="the callback host is no longer allow-listed")
    headers: dict[str, str] = {}
    if callback.credentials:
        try:
            key = unseal(callback.credentials, settings.secret_key.get_secret_value())
        except SealBroken as broken:  # trying again cannot help: the key must be sent anew
            failed = Outcome(False, error=f"{broken}; Greenhouse must send the test again", gone=True)
            return lambda: failed
        headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    return lambda: http.send("PATCH", url, body=b"", headers=headers, settings=settings)


CALLBACKS = sends(Sender("partner_callback", PartnerCallback, "call_partner", _patch))


@dramatiq.actor(queue_name="webhooks", max_retries=0)
def call_partner(callback_id: int) -> None:
    deliver(CALLBACKS, callback_id)

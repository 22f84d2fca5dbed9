"""One outbox for every kind: each kind is registered with the sweep, a row whose job message was lost
(Redis flushed or down when it committed) goes at the next sweep whatever its kind, and only one worker
sends a row at a time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from app.emails.service import queue_email
from app.events import service as events
from app.events.service import SubscribersNotLoaded, record_event
from app.jobs.runtime import broker
from app.models import DeliveryStatus, EmailMessage, utcnow
from app.outbox.service import LEASE, SENDERS, claim
from app.outbox.tasks import send_due_outbox
from app.worker import load_actors
from tests import factories


def test_every_kind_is_registered_with_the_sweep_and_its_actor_is_loaded() -> None:
    load_actors()
    assert {kind: sender.actor_name for kind, sender in SENDERS.items()} == {
        "webhook": "deliver_webhook",
        "partner_callback": "call_partner",
        "email": "deliver_email",
    }
    for sender in SENDERS.values():
        assert broker.get_actor(sender.actor_name)


def test_an_email_whose_message_was_lost_goes_at_the_next_sweep(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    _, org = factories.owner(session)
    message = queue_email(
        session, to="c@example.com", template="password_reset", context={"link": "L"}, organization=org
    )
    session.commit()
    broker.flush_all()  # the message is lost, as when Redis restarts empty
    send_due_outbox.fn()
    assert run_jobs() == 1, "sent at the next sweep, not after a lease of minutes"
    session.expire_all()
    assert message.status == DeliveryStatus.HELD  # no SMTP in tests: held in the outbox


def test_a_row_one_worker_holds_is_not_sent_by_another(session: Session, run_jobs: Callable[[], int]) -> None:
    _, org = factories.owner(session)
    message = queue_email(
        session, to="c@example.com", template="password_reset", context={"link": "L"}, organization=org
    )
    session.commit()
    broker.flush_all()
    assert claim(session, EmailMessage, message.id)
    assert not claim(session, EmailMessage, message.id), "held: a second claim fails"
    session.commit()
    send_due_outbox.fn()
    assert run_jobs() == 0, "held by a worker: the sweep leaves it alone"
    message.lease_until = utcnow() - LEASE  # that worker died: its lease lapsed
    session.commit()
    send_due_outbox.fn()
    assert run_jobs() == 1
    session.expire_all()
    assert message.status == DeliveryStatus.HELD


def test_an_event_recorded_where_no_subscriber_is_loaded_is_refused(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, org = factories.owner(session)
    monkeypatch.setattr(events, "SUBSCRIBERS", {})
    with pytest.raises(SubscribersNotLoaded):
        record_event(session, org.id, "invitation.created", {"invitation_id": 1})

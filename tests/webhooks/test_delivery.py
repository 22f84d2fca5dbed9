"""Webhook deliveries against a real local receiver: signatures checked by the Standard Webhooks reference
library, retries with backoff and Retry-After, 410 and days of failure disabling the endpoint, the
delivery log, redelivery with the same id, and a loopback receiver refused without the allow-list."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from app.core.config import Settings
from app.events.service import record_event
from app.models import DeliveryStatus, EmailMessage, Organization, WebhookDelivery, WebhookEndpoint, utcnow
from app.outbox.service import RETRY_SCHEDULE
from app.outbox.tasks import send_due_outbox
from app.webhooks import service
from tests import factories
from tests.webhooks.conftest import Receiver

RunJobs = Callable[[], int]


def _endpoint(
    session: Session, org: Organization, settings: Settings, url: str, **kw: object
) -> WebhookEndpoint:
    actor = factories.owner_of(session, org)
    endpoint = service.create_endpoint(session, actor, url=url, settings=settings, **kw)  # type: ignore[arg-type]
    session.commit()
    return endpoint


def _announce(session: Session, org: Organization, event_type: str = "invitation.created") -> str:
    event = record_event(session, org.id, event_type, {"invitation_id": 7})
    session.commit()
    return event.public_id


def _deliveries(session: Session, endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    session.expire_all()
    return list(
        session.query(WebhookDelivery).filter_by(endpoint_id=endpoint.id).order_by(WebhookDelivery.id)
    )


def _make_due(session: Session) -> None:
    session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    session.commit()


def test_a_delivery_is_signed_as_the_reference_library_verifies(
    session: Session, org: Organization, allowed: Settings, receiver: Receiver, run_jobs: RunJobs
) -> None:
    endpoint = _endpoint(session, org, allowed, receiver.url)
    event_id = _announce(session, org)
    run_jobs()
    (got,) = receiver.received
    assert got.headers["webhook-id"] == event_id and got.headers["content-type"] == "application/json"
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert payload["type"] == "invitation.created" and payload["data"] == {"invitation_id": 7}
    assert set(payload) == {"type", "timestamp", "data"}
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(service.new_secret()).verify(got.body, got.headers)
    (delivery,) = _deliveries(session, endpoint)
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts[0].status_code == 200


def test_during_a_rotation_both_secrets_sign(
    session: Session, org: Organization, allowed: Settings, receiver: Receiver, run_jobs: RunJobs
) -> None:
    endpoint = _endpoint(session, org, allowed, receiver.url)
    old = endpoint.secret
    service.rotate_secret(session, factories.owner_of(session, org), endpoint)
    session.commit()
    _announce(session, org)
    run_jobs()
    got = receiver.received[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, endpoint.secret):
        Webhook(secret).verify(got.body, got.headers)
    endpoint.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    _announce(session, org)
    run_jobs()
    assert len(receiver.received[-1].headers["webhook-signature"].split(" ")) == 1


def test_failures_are_retried_with_backoff_and_logged_until_one_succeeds(
    session: Session, org: Organization, allowed: Settings, receiver: Receiver, run_jobs: RunJobs
) -> None:
    receiver.script = [(500, {}), (503, {"Retry-After": "7200"})]
    endpoint = _endpoint(session, org, allowed, receiver.url)
    event_id = _announce(session, org)
    run_jobs()
    (delivery,) = _deliveries(session, endpoint)
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 500
    first_wait = delivery.next_attempt_at - utcnow()  # type: ignore[operator]
    assert timedelta(seconds=3) < first_wait < timedelta(seconds=7), "5 s, with jitter"
    send_due_outbox.send()
    run_jobs()
    assert len(receiver.received) == 1, "not due yet: nothing sent"
    _make_due(session)
    send_due_outbox.send()
    run_jobs()
    (delivery,) = _deliveries(session, endpoint)
    assert delivery.next_attempt_at - utcnow() > timedelta(seconds=7100), "Retry-After beats the 5 min step"  # type: ignore[operator]
    _make_due(session)
    send_due_outbox.send()
    run_jobs()
    (delivery,) = _deliveries(session, endpoint)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [a.status_code for a in delivery.attempts] == [500, 503, 200]
    assert (
        all(a.latency_ms >= 0 for a in delivery.attempts) and delivery.attempts[-1].response_excerpt == "ok"
    )
    assert {r.headers["webhook-id"] for r in receiver.received} == {event_id}, "the same id on every try"


def test_a_reply_with_a_nul_character_is_logged_not_fatal(
    session: Session, org: Organization, allowed: Settings, receiver: Receiver, run_jobs: RunJobs
) -> None:
    """A receiver's reply is stored to show; PostgreSQL cannot store a NUL, so it is shown as \ufffd."""
    receiver.body = b"accepted\x00 thanks"
    endpoint = _endpoint(session, org, allowed, receiver.url)
    _announce(session, org)
    run_jobs()
    (delivery,) = _deliveries(session, endpoint)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts[-1].response_excerpt == "accepted\ufffd thanks"


def test_redirects_are_failures_not_followed(
    session: Session, org: Organization, allowed: Settings, receiver: Receiver, run_jobs: RunJobs
) -> None:
    receiver.script = [(302, {"Location": "http://169.254.169.254/latest/meta-data/"})]
    endpoint = _endpoint(session, org, allowed, receiver.url)
    _announce(session, org)
    run_jobs()
    (delivery,) = _deliveries(session, endpoint)
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 302
    assert len(receiver.received) == 1


def test_410_disables_the_endpoint_and_emails_the_owners(
    session: Session, org: Organization, allowed: Settings, receiver: Receiver, run_jobs: RunJobs
) -> None:
    receiver.script = [(410, {})]
    endpoint = _endpoint(session, org, allowed, receiver.url)
    _announce(session, org)
    run_jobs()
    session.expire_all()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    (mail,) = session.query(EmailMessage).filter_by(to_address="owner@example.com").all()
    assert receiver.url in mail.text_body and "410" in mail.text_body
    _announce(session, org)
    run_jobs()
    assert len(receiver.received) == 1 and len(_deliveries(session, endpoint)) == 1


def test_an_endpoint_failing_for_days_is_disabled_when_its_retries_run_out(
    session: Session, org: Organization, allowed: Settings, receiver: Receiver, run_jobs: RunJobs
) -> None:
    receiver.script = [(500, {})] * 3
    endpoint = _endpoint(session, org, allowed, receiver.url)
    _announce(session, org)
    run_jobs()
    # Skip ahead to the last retry of the schedule (about three days later).
    session.execute(update(WebhookDelivery).values(attempt_count=len(RETRY_SCHEDULE)))
    _make_due(session)
    send_due_outbox.send()
    run_jobs()
    (delivery,) = _deliveries(session, endpoint)
    assert delivery.status == DeliveryStatus.FAILED and not delivery.endpoint.enabled
    assert "no successful delivery for 3 days" in delivery.endpoint.disabled_reason
    assert session.query(EmailMessage).filter_by(to_address="owner@example.com").count() == 1


def test_a_failed_delivery_of_an_endpoint_that_recently_worked_does_not_disable_it(
    session: Session, org: Organization, allowed: Settings, receiver: Receiver, run_jobs: RunJobs
) -> None:
    endpoint = _endpoint(session, org, allowed, receiver.url)
    _announce(session, org)
    run_jobs()
    receiver.script = [(500, {})] * 2
    _announce(session, org)
    run_jobs()
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING)
        .values(attempt_count=len(RETRY_SCHEDULE))
    )
    _make_due(session)
    send_due_outbox.send()
    run_jobs()
    statuses = [d.status for d in _deliveries(session, endpoint)]
    assert statuses == [DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED] and endpoint.enabled


def test_only_subscribed_event_types_are_delivered(
    session: Session, org: Organization, allowed: Settings, receiver: Receiver, run_jobs: RunJobs
) -> None:
    _endpoint(session, org, allowed, receiver.url, event_types=["result.scored"])
    _announce(session, org, "invitation.created")
    _announce(session, org, "result.scored")
    run_jobs()
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["result.scored"]


def test_a_loopback_receiver_gets_nothing_without_the_allow_list(
    session: Session, org: Organization, settings: Settings, receiver: Receiver, run_jobs: RunJobs
) -> None:
    endpoint = _endpoint(
        session, org, settings.model_copy(update={"outbound_allow_list": ["127.0.0.1"]}), receiver.url
    )
    _announce(session, org)
    run_jobs()  # jobs run with the test settings: no allow-list
    (delivery,) = _deliveries(session, endpoint)
    assert receiver.received == [] and delivery.last_status_code is None
    assert "private or local" in delivery.attempts[0].error

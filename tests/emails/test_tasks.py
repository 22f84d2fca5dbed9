"""Email leaves through a real SMTP conversation (aiosmtpd on loopback), retried on the outbox's schedule, or
is held in the outbox when no mail server is configured."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.emails.service import queue_email
from app.emails.tasks import deliver_email
from app.jobs.runtime import use_job_context
from app.models import DeliveryStatus, utcnow
from app.outbox.service import RETRY_SCHEDULE
from tests import factories
from tests.ports import free_port
from tests.smtp import Inbox


def _with_smtp(settings_for: Callable[..., Settings], backend: str, port: int) -> Settings:
    return settings_for(backend, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)


def test_an_email_is_delivered_once_as_html_and_text(
    session: Session,
    session_factory,
    settings_for,
    backend: str,
    smtp_server: tuple[Inbox, int],
    run_jobs: Callable[[], int],
) -> None:
    inbox, port = smtp_server
    use_job_context(_with_smtp(settings_for, backend, port), session_factory)
    _, org = factories.owner(session)
    message = queue_email(
        session,
        to="ada@example.com",
        template="password_reset",
        context={"email": "ada@example.com", "minutes": 60, "link": "http://x/password/reset/abc<script>"},
        organization=org,
    )
    session.commit()
    assert run_jobs() == 1
    deliver_email.fn(message.id)  # delivered twice to the worker: emailed once
    assert len(inbox.messages) == 1
    envelope, received = inbox.messages[0]
    assert envelope.rcpt_tos == ["ada@example.com"]
    assert received["Subject"] == "Reset your Assay password"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in received.walk()
        if not part.is_multipart()
    }
    assert "http://x/password/reset/abc<script>" in parts["text/plain"]
    assert "abc&lt;script&gt;" in parts["text/html"] and "<script>" not in parts["text/html"]
    session.refresh(message)
    assert message.status == DeliveryStatus.SUCCEEDED and message.delivered_at is not None
    assert message.attempt_count == 1


def test_without_smtp_the_message_stays_in_the_outbox(session: Session, run_jobs: Callable[[], int]) -> None:
    _, org = factories.owner(session)
    message = queue_email(
        session, to="a@example.com", template="password_reset", context={"link": "L"}, organization=org
    )
    session.commit()
    run_jobs()
    session.refresh(message)
    assert message.status == DeliveryStatus.HELD


def test_a_refused_connection_is_recorded_and_retried_on_the_schedule_until_it_gives_up(
    session: Session, session_factory, settings_for, backend: str
) -> None:
    use_job_context(_with_smtp(settings_for, backend, free_port()), session_factory)  # nobody listens
    _, org = factories.owner(session)
    message = queue_email(
        session, to="a@example.com", template="password_reset", context={}, organization=org
    )
    session.commit()
    deliver_email.fn(message.id)
    session.refresh(message)
    assert message.status == DeliveryStatus.PENDING and "ConnectionRefusedError" in message.last_error
    wait = message.next_attempt_at - utcnow()  # type: ignore[operator]
    assert timedelta(seconds=3) < wait < timedelta(seconds=7), "the schedule's first step, with jitter"
    deliver_email.fn(message.id)  # not due yet: not tried
    session.refresh(message)
    assert message.attempt_count == 1
    # The last step of the schedule, about three days on: the try after it is the last.
    message.attempt_count, message.next_attempt_at = len(RETRY_SCHEDULE), utcnow()
    session.commit()
    deliver_email.fn(message.id)
    session.refresh(message)
    assert message.status == DeliveryStatus.FAILED and message.next_attempt_at is None
    use_job_context(None, None)


def test_a_recipient_the_server_refuses_is_not_tried_again(
    session: Session, session_factory, settings_for, backend: str, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    inbox.refused = ("nobody@example.com",)
    use_job_context(_with_smtp(settings_for, backend, port), session_factory)
    _, org = factories.owner(session)
    message = queue_email(
        session, to="nobody@example.com", template="password_reset", context={}, organization=org
    )
    session.commit()
    deliver_email.fn(message.id)
    session.refresh(message)
    assert (message.status, message.attempt_count) == (DeliveryStatus.FAILED, 1)
    assert "SMTPRecipientsRefused" in message.last_error and inbox.messages == []
    use_job_context(None, None)

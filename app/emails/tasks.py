"""Sending stored emails through SMTP (a real client: smtplib, with STARTTLS and login when configured), by
the outbox: a failed try is retried on the outbox's schedule, a recipient the server refuses is not."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage as MimeMessage

import dramatiq
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.emails import service
from app.models import EmailMessage
from app.outbox.service import Outcome, Sender, failure, hold, sends
from app.outbox.tasks import deliver

SMTP_TIMEOUT_SECONDS = 30


def smtp_send(settings: Settings, mime: MimeMessage) -> Outcome:
    started = time.monotonic()
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(mime)
    except smtplib.SMTPRecipientsRefused as refused:  # the address itself: trying again will not help
        return failure(refused, gone=True)
    except (OSError, smtplib.SMTPException) as exc:  # network, TLS, login, a busy server: tried again later
        return failure(exc)
    return Outcome(True, latency_ms=round((time.monotonic() - started) * 1000))


def _mail(session: Session, settings: Settings, message: EmailMessage) -> Callable[[], Outcome] | None:
    if not settings.smtp_host:
        hold(message)
        return None
    mime = service.mime_message(message, settings.mail_from)
    return lambda: smtp_send(settings, mime)


EMAILS = sends(Sender("email", EmailMessage, "deliver_email", _mail))


@dramatiq.actor(queue_name="email", max_retries=0)
def deliver_email(message_id: int) -> None:
    deliver(EMAILS, message_id)

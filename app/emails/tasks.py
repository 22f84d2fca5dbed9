"""Delivering stored emails through SMTP (a real client: smtplib, with STARTTLS and login when configured)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage as MimeMessage

import dramatiq
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.emails import service
from app.jobs.runtime import job_session, job_settings, reconciles
from app.models import EmailStatus

log = logging.getLogger("assay.emails")


def smtp_send(settings: Settings, mime: MimeMessage) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(mime)


class DeliveryFailed(Exception):
    """Raised so that Dramatiq retries the message with backoff; the row keeps the reason."""


@dramatiq.actor(queue_name="email", max_retries=service.MAX_TRIES, min_backoff=5_000, max_backoff=600_000)
def deliver_email(message_id: int) -> None:
    settings = job_settings()
    with job_session() as session:
        status = service.deliver(session, settings, message_id, lambda mime: smtp_send(settings, mime))
    if status == EmailStatus.QUEUED:
        raise DeliveryFailed(f"email {message_id} could not be sent yet; will retry")
    if status == EmailStatus.FAILED:
        log.error("email %s failed for good after %d tries", message_id, service.MAX_TRIES)


@reconciles("email", "deliver_email")
def _stale_emails(session: Session, settings: Settings) -> list[int]:
    return service.requeue_stale_messages(session)

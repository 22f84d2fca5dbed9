"""Delivering stored emails through SMTP (a real client: smtplib, with STARTTLS and login when configured)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage as MimeMessage
from typing import Any

import dramatiq
from sqlalchemy.orm import Session

from app.config import Settings
from app.emails import service
from app.models import EmailMessage, EmailStatus, Organization, utcnow
from app.worker import job_session, job_settings, send_after_commit

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


def queue_email(
    session: Session, *, to: str, template: str, context: dict[str, Any], organization: Organization | None
) -> EmailMessage:
    """Store the message; it is sent (or kept in the outbox) once this transaction commits."""
    subject, text, html = service.render(template, context)
    message = EmailMessage(
        organization_id=organization.id if organization else None,
        to_address=to,
        subject=subject,
        text_body=text,
        html_body=html,
        lease_until=utcnow() + service.EMAIL_LEASE,
    )
    session.add(message)
    session.flush()
    send_after_commit(session, deliver_email, message.id)
    return message

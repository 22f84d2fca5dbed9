"""Outgoing email: rendered from templates (HTML and plain text), stored in the `email_messages` outbox in the
same transaction as the change that causes it, and delivered by a job once that transaction commits.

Without SMTP configured (the embedded default) nothing leaves the machine: messages stay in the outbox,
which owners read in the app, so an invitation link is never lost for want of a mail server.
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import storable
from app.core.errors import FieldError, NotFound, ValidationFailed
from app.jobs.runtime import send_after_commit
from app.models import EmailMessage, EmailStatus, Organization, utcnow

MAX_TRIES = 5
# Longer than the job's longest retry backoff (10 minutes): a queued message whose lease lapses has lost its
# broker message, and the reconciler sends it again.
EMAIL_LEASE = timedelta(minutes=15)
TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates" / "email"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def valid_address(raw: str, refusal: str = "The email address is not valid.") -> str:
    """An email address checked for form (not deliverability) and normalized, or `refusal` with the reason."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(refusal, errors=[FieldError("email", str(exc))]) from None


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) from `email/<template>.txt` (its first line is the subject) and `.html`."""
    subject, _, text = _env.get_template(f"{template}.txt").render(context).partition("\n")
    html = _env.get_template(f"{template}.html").render({**context, "subject": subject.strip()})
    return subject.strip(), text.strip() + "\n", html


def mime_message(message: EmailMessage, sender: str) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> ") or None)
    mime.set_content(message.text_body)
    mime.add_alternative(message.html_body, subtype="html")
    return mime


def outbox(session: Session, org: Organization, *, limit: int = 200) -> list[EmailMessage]:
    return list(
        session.scalars(
            select(EmailMessage)
            .where(EmailMessage.organization_id == org.id)
            .order_by(EmailMessage.created_at.desc(), EmailMessage.id.desc())
            .limit(limit)
        )
    )


def deliver(session: Session, settings: Settings, message_id: int, send: Any) -> EmailStatus | None:
    """Send one stored message through `send(mime)`, or keep it in the outbox when SMTP is not configured.
    Already sent: nothing happens, so a message delivered twice to the worker is emailed once."""
    message = session.get(EmailMessage, message_id, with_for_update=True)
    if message is None or message.status in (EmailStatus.SENT, EmailStatus.OUTBOX_ONLY):
        return None
    if not settings.smtp_host:
        message.status = EmailStatus.OUTBOX_ONLY
        return message.status
    message.tries += 1
    try:
        send(mime_message(message, settings.mail_from))
    except Exception as exc:  # any SMTP or network failure: recorded, retried by the job
        message.last_error = storable(f"{type(exc).__name__}: {exc}"[:2000])
        message.status = EmailStatus.FAILED if message.tries >= MAX_TRIES else EmailStatus.QUEUED
        message.lease_until = utcnow() + EMAIL_LEASE
        return message.status
    message.status, message.sent_at, message.last_error = EmailStatus.SENT, utcnow(), ""
    return message.status


def requeue_stale_messages(session: Session) -> list[int]:
    """Queued messages whose lease lapsed (their job message was lost) get a fresh lease; the caller sends
    them again after commit. `deliver` sends a message at most once, whatever arrives twice."""
    now = utcnow()
    stale = session.scalars(
        select(EmailMessage)
        .where(EmailMessage.status == EmailStatus.QUEUED, EmailMessage.lease_until < now)
        .order_by(EmailMessage.id)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    for message in stale:
        message.lease_until = now + EMAIL_LEASE
    return [message.id for message in stale]


def outbox_message_of(session: Session, org: Organization, message_id: int) -> EmailMessage:
    message = session.get(EmailMessage, message_id)
    if message is None or message.organization_id != org.id:
        raise NotFound("message not found")
    return message


def queue_email(
    session: Session, *, to: str, template: str, context: dict[str, Any], organization: Organization | None
) -> EmailMessage:
    """Store the message; it is sent (or kept in the outbox) once this transaction commits."""
    subject, text, html = render(template, context)
    message = EmailMessage(
        organization_id=organization.id if organization else None,
        to_address=to,
        subject=subject,
        text_body=text,
        html_body=html,
        lease_until=utcnow() + EMAIL_LEASE,
    )
    session.add(message)
    session.flush()
    send_after_commit(session, "deliver_email", message.id)
    return message

"""Outgoing email: rendered from templates (HTML and plain text), stored in the `email_messages` table in
the same transaction as the change that causes it, and sent through the outbox (app.outbox) once that
transaction commits, retried on its schedule.

Without SMTP configured (the embedded default) nothing leaves the machine: messages are held, and owners
read them in the app, so an invitation link is never lost for want of a mail server.
"""

from __future__ import annotations

from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import FieldError, NotFound, ValidationFailed
from app.core.markdown import render_markdown
from app.jobs.runtime import send_after_commit
from app.models import DeliveryStatus, EmailMessage, Organization, utcnow
from app.outbox.service import hold

TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates" / "email"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_env.filters["markdown"] = render_markdown  # instructions a recruiter wrote, sanitized


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


def outbox_message_of(session: Session, org: Organization, message_id: int) -> EmailMessage:
    message = session.get(EmailMessage, message_id)
    if message is None or message.organization_id != org.id:
        raise NotFound("message not found")
    return message


def queue_email(
    session: Session, *, to: str, template: str, context: dict[str, Any], organization: Organization | None
) -> EmailMessage:
    """Store the message; it is sent (or kept in the outbox) once this transaction commits. An organization's
    test data sends no email."""
    subject, text, html = render(template, context)
    message = EmailMessage(
        organization_id=organization.id if organization else None,
        to_address=to,
        subject=subject,
        text_body=text,
        html_body=html,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    if organization is not None and organization.is_test:
        hold(message)  # test data (an `ak_test_` key's invitations): kept to read, never sent to anyone
    session.flush()
    if message.status != DeliveryStatus.HELD:
        send_after_commit(session, "deliver_email", message.id)
    return message

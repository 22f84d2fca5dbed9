"""Report links: a candidate's report (page and PDF) opened without an Assay login, for an HR system to show
beside the candidate. The link is signed with the install's secret, names the invitation and its
organization, and carries its own expiry; nothing is stored, so changing the secret key ends every link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from app.accounts.principal import Actor
from app.audit.service import record
from app.core.errors import Gone, NotFound
from app.invitations.service import get_invitation
from app.models import Invitation, Organization, utcnow

SALT = "assay.report-link"  # a signature made for anything else never opens a report
DEFAULT_DAYS = 14
MAX_DAYS = 90


@dataclass(frozen=True)
class ReportLink:
    url: str
    pdf_url: str
    expires_at: datetime


def _signer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def share_report(
    session: Session, actor: Actor, invitation: Invitation, *, days: int, base_url: str, secret: str
) -> ReportLink:
    """A link to the invitation's report valid for `days` (1 to MAX_DAYS) from now; recorded in the audit
    trail, since whoever holds it reads the candidate's answers."""
    expires_at = (utcnow() + timedelta(days=days)).replace(microsecond=0)
    token = _signer(secret).dumps([invitation.organization_id, invitation.id, int(expires_at.timestamp())])
    record(session, actor, "report_link.created", invitation, expires_at=expires_at.isoformat())
    url = f"{base_url}/reports/{token}"
    return ReportLink(url=url, pdf_url=f"{url}/pdf", expires_at=expires_at)


def shared_invitation(session: Session, token: str, secret: str) -> tuple[Organization, Invitation]:
    """The invitation a report link opens: NotFound for a link we did not sign (or whose invitation is
    gone), Gone once it has expired."""
    try:
        org_id, invitation_id, expires = _signer(secret).loads(token)
    except (BadSignature, TypeError, ValueError) as exc:
        raise NotFound("This report link is not valid; ask the hiring team for a new one.") from exc
    expires_at = datetime.fromtimestamp(expires, tz=UTC)
    if expires_at <= utcnow():
        raise Gone(
            f"This report link expired on {expires_at:%Y-%m-%d %H:%M} UTC; ask the hiring team for a new one."
        )
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound("This report is no longer available.")
    return org, get_invitation(session, org, invitation_id)

"""Candidates and invitations: creating links and checking them when a candidate arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.errors import Conflict, FieldError, Gone, NotFound, ValidationFailed
from app.models import (
    Assessment,
    AssessmentStatus,
    Attempt,
    Candidate,
    Invitation,
    InvitationStatus,
    Organization,
    User,
    utcnow,
)
from app.security import new_token, token_digest
from app.tenancy import get_owned

INVITATION_PATH = "/i/"


@dataclass(frozen=True)
class IssuedInvitation:
    """The plain token exists only here, at creation: the database keeps its digest."""

    invitation: Invitation
    token: str

    def link(self, base_url: str) -> str:
        return f"{base_url}{INVITATION_PATH}{self.token}"


def get_or_create_candidate(
    session: Session, org: Organization, *, email: str, first_name: str = "", last_name: str = ""
) -> Candidate:
    try:
        email = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(
            "The candidate's email is not valid.", errors=[FieldError("email", str(exc))]
        ) from None
    candidate = session.scalar(
        select(Candidate).where(Candidate.organization_id == org.id, Candidate.email == email)
    )
    if candidate is None:
        candidate = Candidate(organization_id=org.id, email=email)
        session.add(candidate)
    if first_name.strip():
        candidate.first_name = first_name.strip()[:120]
    if last_name.strip():
        candidate.last_name = last_name.strip()[:120]
    session.flush()
    return candidate


def create_invitation(
    session: Session,
    org: Organization,
    assessment: Assessment,
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    ttl: timedelta,
    extra_time_pct: int = 0,
    expires_at: datetime | None = None,
    external_ref: str | None = None,
    created_by: User | None = None,
) -> IssuedInvitation:
    if assessment.organization_id != org.id:
        raise NotFound("assessment not found")
    if assessment.status != AssessmentStatus.PUBLISHED:
        raise Conflict("publish the assessment before inviting candidates")
    if not 0 <= extra_time_pct <= 200:
        raise ValidationFailed(
            "Extra time is out of range.", errors=[FieldError("extra_time_pct", "must be between 0 and 200")]
        )
    now = utcnow()
    expires_at = expires_at or now + ttl
    if expires_at <= now:
        raise ValidationFailed(
            "The expiry is in the past.", errors=[FieldError("expires_at", "must be in the future")]
        )
    candidate = get_or_create_candidate(session, org, email=email, first_name=first_name, last_name=last_name)
    token = new_token()
    invitation = Invitation(
        organization_id=org.id,
        assessment_id=assessment.id,
        candidate=candidate,
        token_hash=token_digest(token),
        expires_at=expires_at,
        extra_time_pct=extra_time_pct,
        external_ref=external_ref,
        created_by_id=created_by.id if created_by else None,
        sent_at=now,
    )
    session.add(invitation)
    session.flush()
    return IssuedInvitation(invitation=invitation, token=token)


def invitation_for_token(session: Session, token: str) -> Invitation:
    """The invitation a candidate's link points to, whatever its state (pages explain each state)."""
    if not token or len(token) > 100:
        raise NotFound("This invitation link is not valid. Check that you copied the whole link.")
    invitation = session.scalar(
        select(Invitation)
        .where(Invitation.token_hash == token_digest(token))
        .options(selectinload(Invitation.assessment), selectinload(Invitation.candidate))
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid. Check that you copied the whole link.")
    if invitation.status == InvitationStatus.SENT and invitation.expires_at <= utcnow():
        invitation.status = InvitationStatus.EXPIRED
    return invitation


def ensure_can_start(invitation: Invitation) -> None:
    messages = {
        InvitationStatus.EXPIRED: (
            "This invitation has expired. Ask the recruiter who invited you for a new link."
        ),
        InvitationStatus.CANCELLED: "This invitation was withdrawn by the recruiter.",
        InvitationStatus.COMPLETED: "You have already completed this assessment. Thank you!",
    }
    if invitation.status in messages:
        raise Gone(messages[invitation.status])


def list_invitations(session: Session, org: Organization, assessment: Assessment) -> list[Invitation]:
    return list(
        session.scalars(
            select(Invitation)
            .where(Invitation.organization_id == org.id, Invitation.assessment_id == assessment.id)
            .options(selectinload(Invitation.candidate), selectinload(Invitation.attempt))
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
    )


def get_invitation(session: Session, org: Organization, invitation_id: int) -> Invitation:
    return get_owned(
        session,
        Invitation,
        org,
        invitation_id,
        selectinload(Invitation.candidate),
        selectinload(Invitation.assessment),
        selectinload(Invitation.attempt).selectinload(Attempt.answers),
    )

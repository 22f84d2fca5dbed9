"""Candidates and the invitations that let them take an assessment."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, ForeignKey, String, UniqueConstraint, and_, case, literal
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.assessments import Assessment
from app.models.base import Base, CreatedMixin, OrgOwned, enum_column, utcnow

if TYPE_CHECKING:
    from app.models.attempts import Attempt
    from app.models.events import WebhookEndpoint


class Candidate(OrgOwned, CreatedMixin, Base):
    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str] = mapped_column(String(120), default="")
    last_name: Mapped[str] = mapped_column(String(120), default="")
    # Set when an owner erased this person's data: the row stays (with a placeholder address) so scores
    # still count in the assessment's statistics, attached to nobody.
    erased_at: Mapped[datetime | None]

    @property
    def full_name(self) -> str:
        if self.erased_at is not None:
            return f"Erased candidate #{self.id}"
        return f"{self.first_name} {self.last_name}".strip() or self.email


class InvitationStatus(enum.StrEnum):
    SENT = "sent"
    STARTED = "started"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Invitation(OrgOwned, CreatedMixin, Base):
    """The link a candidate receives; only its token's SHA-256 is stored, so a leaked DB opens nothing."""

    __tablename__ = "invitations"
    # One invitation per partner request: an ATS that sends the same test for the same application again
    # (a retry) gets the invitation it already has.
    __table_args__ = (UniqueConstraint("organization_id", "partner_ref"),)

    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="RESTRICT"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The link's token is HMAC(secret key, nonce): reminders can rebuild the link, while the database alone
    # (a leaked backup) opens nothing. Links made before nonces existed have none and get no reminders.
    token_nonce: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[InvitationStatus] = mapped_column(
        enum_column(InvitationStatus), default=InvitationStatus.SENT
    )
    expires_at: Mapped[datetime]
    extra_time_pct: Mapped[int] = mapped_column(default=0)
    external_ref: Mapped[str | None] = mapped_column(String(200), index=True)
    partner_ref: Mapped[str | None] = mapped_column(String(64))  # digest of the partner's request identity
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    assessment: Mapped[Assessment] = relationship()
    candidate: Mapped[Candidate] = relationship()
    # The invitation's own callback URL, when the API call that made it gave one.
    callback: Mapped[WebhookEndpoint | None] = relationship(viewonly=True)

    @property
    def minutes_allowed(self) -> float:
        """The assessment's time limit with this candidate's extra time."""
        return self.assessment.duration_minutes * (1 + self.extra_time_pct / 100)

    @hybrid_property
    def current_status(self) -> InvitationStatus:
        """The status as of now: a link past its expiry reads as expired before the sweep has marked it.
        The one rule, for rows in Python and in queries alike (`where(Invitation.current_status == …)`)."""
        if self.status == InvitationStatus.SENT and self.expires_at <= utcnow():
            return InvitationStatus.EXPIRED
        return self.status

    @current_status.inplace.expression
    @classmethod
    def _current_status_in_sql(cls) -> ColumnElement[InvitationStatus]:
        lapsed = and_(cls.status == InvitationStatus.SENT, cls.expires_at <= utcnow())
        expired = literal(InvitationStatus.EXPIRED, cls.__table__.c.status.type)
        return case((lapsed, expired), else_=cls.status)

    attempt: Mapped[Attempt | None] = relationship(back_populates="invitation")

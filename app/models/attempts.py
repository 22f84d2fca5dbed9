"""One timed attempt per invitation, with the answers saved during it and what happened along the way."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.accounts import User
from app.models.assessments import AssessmentItem
from app.models.base import Base, IdMixin, enum_column, utcnow
from app.models.candidates import Invitation


class CloseReason(enum.StrEnum):
    SUBMITTED = "submitted"
    DEADLINE = "deadline"
    CANCELLED = "cancelled"


class Attempt(IdMixin, Base):
    __tablename__ = "attempts"

    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), unique=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[CloseReason | None] = mapped_column(enum_column(CloseReason))
    # Seeds per-candidate variants: option order, numeric parameters, hidden coding cases.
    seed: Mapped[int]
    # The score summary, written only by app.results.scoring after every change that moves it: points
    # earned so far (set once the attempt closes), the maximum, and how many answers still wait for a person
    # (written) or for the grader (code). Every reader (report, API, webhooks, Greenhouse, exports) reads it.
    score: Mapped[float | None]
    max_score: Mapped[float | None]
    review_pending: Mapped[int] = mapped_column(default=0)
    grading_pending: Mapped[int] = mapped_column(default=0)
    # Set once every automatic score is in (code graded after closing included): `result.scored` is
    # announced exactly when this goes from empty to set.
    scored_at: Mapped[datetime | None]

    invitation: Mapped[Invitation] = relationship(back_populates="attempt")
    answers: Mapped[list[Answer]] = relationship(back_populates="attempt", cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Answer(IdMixin, Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("attempt_id", "item_id"),)

    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("assessment_items.id", ondelete="RESTRICT"))
    value: Mapped[dict[str, Any]]
    # Counts accepted saves; a page that knows revision N knows whether what it shows is current.
    revision: Mapped[int] = mapped_column(default=1)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    flagged: Mapped[bool] = mapped_column(default=False)
    auto_points: Mapped[float | None]
    # The browser tab whose save made the current value, and that save's number. Checked under the row's
    # lock, so a retry racing its own newer save (both in flight at once) cannot overwrite it; the
    # revisions alone are read as of the statement's start and would miss a save committed meanwhile.
    last_client_id: Mapped[str | None] = mapped_column(String(64))
    last_client_seq: Mapped[int | None] = mapped_column(BigInteger)

    attempt: Mapped[Attempt] = relationship(back_populates="answers")
    item: Mapped[AssessmentItem] = relationship()
    revisions: Mapped[list[AnswerRevision]] = relationship(
        back_populates="answer", order_by="AnswerRevision.revision", cascade="all, delete-orphan"
    )


class AnswerRevision(IdMixin, Base):
    """Every accepted save, so a dispute about what a candidate wrote can be settled.

    A browser tab saves with its own client id and an increasing sequence number; the highest number stored
    for (answer, client) is how a late, older save from that tab is recognised and ignored. Saves from the
    plain-HTML form carry neither and apply in the order they arrive.
    """

    __tablename__ = "answer_revisions"
    __table_args__ = (Index("ix_answer_revisions_answer_client", "answer_id", "client_id", "client_seq"),)

    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    value: Mapped[dict[str, Any]]
    revision: Mapped[int]
    client_id: Mapped[str | None] = mapped_column(String(64))
    client_seq: Mapped[int | None] = mapped_column(BigInteger)  # a tab's counter may reach 2**53
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)

    answer: Mapped[Answer] = relationship(back_populates="revisions")


class ManualScore(IdMixin, Base):
    __tablename__ = "manual_scores"
    __table_args__ = (UniqueConstraint("attempt_id", "item_id"),)

    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("assessment_items.id", ondelete="RESTRICT"))
    points: Mapped[float]
    rubric: Mapped[dict[str, Any]]
    comment: Mapped[str] = mapped_column(Text, default="")
    scorer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)

    scorer: Mapped[User | None] = relationship()


class PageSignal(IdMixin, Base):
    """What the candidate's page reports beside the answers (focus lost, a paste, a reload…): the report's
    integrity timeline and time per question are read from these."""

    __tablename__ = "integrity_events"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]]

"""Assessments, their sections and items; a published assessment is frozen."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, CreatedMixin, IdMixin, OrgOwned, enum_column, utcnow
from app.models.questions import QuestionVersion


class AssessmentStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Assessment(OrgOwned, CreatedMixin, Base):
    __tablename__ = "assessments"

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    role: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[AssessmentStatus] = mapped_column(
        enum_column(AssessmentStatus), default=AssessmentStatus.DRAFT
    )
    # Editing a published assessment creates a new row with version + 1 and previous_version_id set.
    version: Mapped[int] = mapped_column(default=1)
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id", ondelete="SET NULL"))
    duration_minutes: Mapped[int] = mapped_column(default=60)
    pass_mark_pct: Mapped[float | None]
    show_score_to_candidate: Mapped[bool] = mapped_column(default=False)
    shuffle_items: Mapped[bool] = mapped_column(default=False)
    shuffle_options: Mapped[bool] = mapped_column(default=True)
    # Whether a sample run tells the candidate what the grader diagnosed (a practice test) or only which
    # sample cases passed (a hiring test: the diagnoses would coach the candidate towards the hidden cases).
    sample_run_diagnoses: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]

    sections: Mapped[list[AssessmentSection]] = relationship(
        back_populates="assessment", order_by="AssessmentSection.position", cascade="all, delete-orphan"
    )
    items: Mapped[list[AssessmentItem]] = relationship(
        back_populates="assessment", order_by="AssessmentItem.position", cascade="all, delete-orphan"
    )

    @property
    def max_points(self) -> float:
        return sum(item.points for item in self.items)


class AssessmentSection(IdMixin, Base):
    __tablename__ = "assessment_sections"
    __table_args__ = (UniqueConstraint("assessment_id", "position"),)

    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))

    assessment: Mapped[Assessment] = relationship(back_populates="sections")


class AssessmentItem(IdMixin, Base):
    __tablename__ = "assessment_items"
    __table_args__ = (UniqueConstraint("assessment_id", "position"),)

    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("assessment_sections.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[int]
    points: Mapped[float]
    question_version_id: Mapped[int] = mapped_column(
        ForeignKey("question_versions.id", ondelete="RESTRICT"), index=True
    )

    assessment: Mapped[Assessment] = relationship(back_populates="items")
    section: Mapped[AssessmentSection | None] = relationship()
    question_version: Mapped[QuestionVersion] = relationship()

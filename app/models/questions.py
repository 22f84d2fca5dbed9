"""The question bank as stored: a question is a stable identity, each edit a new immutable version."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, CreatedMixin, IdMixin, enum_column


class QuestionType(enum.StrEnum):
    MCQ_SINGLE = "mcq_single"
    MCQ_MULTI = "mcq_multi"
    NUMERIC = "numeric"
    WRITTEN = "written"
    CODING = "coding"


class Question(IdMixin, CreatedMixin, Base):
    __tablename__ = "questions"

    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    pack: Mapped[str] = mapped_column(String(80), index=True)
    slug: Mapped[str] = mapped_column(String(120))
    retired_at: Mapped[datetime | None]

    versions: Mapped[list[QuestionVersion]] = relationship(
        back_populates="question", order_by="QuestionVersion.number"
    )


class QuestionVersion(IdMixin, CreatedMixin, Base):
    """Immutable: attempts and published assessments point here, so a bank edit never changes them."""

    __tablename__ = "question_versions"
    __table_args__ = (UniqueConstraint("question_id", "number"),)

    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="RESTRICT"), index=True)
    number: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[QuestionType] = mapped_column(enum_column(QuestionType))
    title: Mapped[str] = mapped_column(String(300))
    topic: Mapped[str] = mapped_column(String(80), index=True)
    difficulty: Mapped[int]
    roles: Mapped[list[Any]]
    points: Mapped[float]
    time_estimate_s: Mapped[int]
    spec: Mapped[dict[str, Any]]

    question: Mapped[Question] = relationship(back_populates="versions")

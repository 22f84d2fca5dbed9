"""Code submissions, the job row that tracks their grading, and the stored result."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, CreatedMixin, IdMixin, enum_column

if TYPE_CHECKING:
    from app.models.attempts import Attempt


class SubmissionKind(enum.StrEnum):
    SAMPLE = "sample"
    FINAL = "final"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Submission(IdMixin, CreatedMixin, Base):
    __tablename__ = "submissions"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("assessment_items.id", ondelete="RESTRICT"))
    kind: Mapped[SubmissionKind] = mapped_column(enum_column(SubmissionKind))
    task_id: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(Text)

    attempt: Mapped[Attempt] = relationship()
    job: Mapped[GradingJob | None] = relationship(back_populates="submission")
    result: Mapped[StoredGrade | None] = relationship(back_populates="submission")


class GradingJob(IdMixin, CreatedMixin, Base):
    """The database, not the broker, is the source of truth: a lapsed lease means the job is re-enqueued."""

    __tablename__ = "grading_jobs"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus), default=JobStatus.QUEUED, index=True)
    tries: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(Text, default="")

    submission: Mapped[Submission] = relationship(back_populates="job")


class StoredGrade(IdMixin, CreatedMixin, Base):
    """The grader's result for one submission (grader.GradeResult), as stored: the verdict and score to query
    by, and the whole result as JSON."""

    __tablename__ = "grade_results"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    verdict: Mapped[str] = mapped_column(String(40))
    score: Mapped[float]
    result: Mapped[dict[str, Any]]

    submission: Mapped[Submission] = relationship(back_populates="result")

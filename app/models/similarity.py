"""Similarity between coding submissions: a check per counted final submission, its fingerprints (the index
that finds which other submissions share code without comparing every pair), how many of a task's
submissions hold each fingerprint (so the pool's common idioms can be told from copying), and the pairs of
submissions found alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, CreatedMixin, IdMixin
from app.models.grading import Submission


class SimilarityCheck(IdMixin, CreatedMixin, Base):
    """One counted final submission, or one known solution the organization added (a reference: say, a
    public repository's answer to the task), compared with the organization's other code for the task."""

    __tablename__ = "similarity_checks"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    task_id: Mapped[str] = mapped_column(String(80))
    # A reference's name (where it comes from) and code; empty for a submission.
    reference_name: Mapped[str | None] = mapped_column(String(200))
    reference_source: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None]
    # Characters of the candidate's own code as compared (normalised, starter code left out): below a few
    # lines there is too little to tell a copy from the obvious answer.
    own_length: Mapped[int | None]

    submission: Mapped[Submission | None] = relationship()

    @property
    def is_reference(self) -> bool:
        return self.submission_id is None

    @property
    def source(self) -> str:
        return self.submission.source if self.submission is not None else self.reference_source or ""


class CodeFingerprint(Base):
    """The index: which checks hold a fingerprint, looked up by organization, task and hash."""

    __tablename__ = "code_fingerprints"
    __table_args__ = (Index("ix_code_fingerprints_scope_hash", "organization_id", "task_id", "hash"),)

    check_id: Mapped[int] = mapped_column(
        ForeignKey("similarity_checks.id", ondelete="CASCADE"), primary_key=True
    )
    hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(80))


class FingerprintCount(Base):
    """How many of an organization's submissions to a task hold a fingerprint: read instead of counting the
    index, so telling an idiom from a copy costs the same with 100 submissions as with 10,000."""

    __tablename__ = "fingerprint_counts"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int]


class SimilarityPair(IdMixin, CreatedMixin, Base):
    """Two submissions found alike (the lower check id first): how much of each is found in the other, and
    where (character ranges of each source, for the side-by-side view)."""

    __tablename__ = "similarity_pairs"
    __table_args__ = (UniqueConstraint("first_check_id", "second_check_id"),)

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    first_check_id: Mapped[int] = mapped_column(ForeignKey("similarity_checks.id", ondelete="CASCADE"))
    second_check_id: Mapped[int] = mapped_column(
        ForeignKey("similarity_checks.id", ondelete="CASCADE"), index=True
    )
    first_share: Mapped[float]
    second_share: Mapped[float]
    first_ranges: Mapped[list[Any]]
    second_ranges: Mapped[list[Any]]

    first: Mapped[SimilarityCheck] = relationship(foreign_keys=[first_check_id])
    second: Mapped[SimilarityCheck] = relationship(foreign_keys=[second_check_id])

    def share_of(self, check_id: int) -> float:
        return self.first_share if check_id == self.first_check_id else self.second_share

    def other_than(self, check_id: int) -> SimilarityCheck:
        return self.second if check_id == self.first_check_id else self.first

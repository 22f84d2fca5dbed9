"""The API's assessment objects."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.api.schemas import ListQuery, RequestBody
from app.assessments.service import MAX_MINUTES, MIN_MINUTES
from app.core.ids import ObjectId
from app.models import Assessment, AssessmentStatus, QuestionType, QuestionVersion
from app.questions.spec import JobRole, Topic


class AssessmentOut(BaseModel):
    id: int
    object: Literal["assessment"] = "assessment"
    title: str
    description: str
    role: str = Field(description="The job role it is built for, or empty.")
    status: AssessmentStatus
    version: int
    previous_version_id: int | None
    duration_minutes: int
    pass_mark_pct: float | None
    show_score_to_candidate: bool
    shuffle_items: bool
    shuffle_options: bool
    sample_run_diagnoses: bool = Field(
        description="Whether candidates see the grader's diagnoses after running the sample tests."
    )
    question_count: int
    max_score: float
    created_at: datetime
    published_at: datetime | None
    archived_at: datetime | None

    @classmethod
    def of(cls, assessment: Assessment) -> AssessmentOut:
        return cls(
            id=assessment.id,
            title=assessment.title,
            description=assessment.description,
            role=assessment.role,
            status=assessment.status,
            version=assessment.version,
            previous_version_id=assessment.previous_version_id,
            duration_minutes=assessment.duration_minutes,
            pass_mark_pct=assessment.pass_mark_pct,
            show_score_to_candidate=assessment.show_score_to_candidate,
            shuffle_items=assessment.shuffle_items,
            shuffle_options=assessment.shuffle_options,
            sample_run_diagnoses=assessment.sample_run_diagnoses,
            question_count=len(assessment.items),
            max_score=assessment.max_points,
            created_at=assessment.created_at,
            published_at=assessment.published_at,
            archived_at=assessment.archived_at,
        )


class AssessmentQuery(ListQuery):
    status: AssessmentStatus | None = Field(default=None, description="Only assessments in this state.")


class AssessmentCreate(RequestBody):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000, description="Instructions shown to candidates.")
    role: JobRole | Literal[""] = ""
    duration_minutes: int = Field(default=60, ge=MIN_MINUTES, le=MAX_MINUTES)
    pass_mark_pct: float | None = Field(default=None, ge=0, le=100)
    question_version_ids: list[ObjectId] = Field(
        default_factory=list, max_length=200, description="Bank question versions, in order; may be empty."
    )


class AssessmentUpdate(RequestBody):
    """Only a draft can change; fields left out keep their value."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    role: JobRole | Literal[""] | None = None
    duration_minutes: int | None = Field(default=None, ge=MIN_MINUTES, le=MAX_MINUTES)
    pass_mark_pct: float | None = Field(default=None, ge=0, le=100)
    show_score_to_candidate: bool | None = None
    shuffle_items: bool | None = None
    shuffle_options: bool | None = None
    sample_run_diagnoses: bool | None = None

    @model_validator(mode="after")
    def _only_the_pass_mark_clears(self) -> AssessmentUpdate:
        for name in self.model_fields_set - {"pass_mark_pct"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep its value")
        return self


class QuestionQuery(BaseModel):
    """Every filter given must match; none lists the whole bank."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(
        default=None, max_length=200, description="Words that must all be in the title or prompt."
    )
    type: QuestionType | None = None
    topic: Topic | None = None
    role: JobRole | None = None
    difficulty: int | None = Field(default=None, ge=1, le=3, description="1 easy, 2 medium, 3 hard.")


class QuestionOut(BaseModel):
    """A bank question's current version: its id goes in an assessment's `question_version_ids`."""

    id: int
    object: Literal["question"] = "question"
    title: str
    type: QuestionType
    topic: str
    difficulty: int
    roles: list[str]
    points: float
    time_estimate_s: int

    @classmethod
    def of(cls, version: QuestionVersion) -> QuestionOut:
        return cls(
            id=version.id,
            title=version.title,
            type=version.type,
            topic=version.topic,
            difficulty=version.difficulty,
            roles=list(version.roles),
            points=version.points,
            time_estimate_s=version.time_estimate_s,
        )

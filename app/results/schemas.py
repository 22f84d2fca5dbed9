"""The API's result object: the score of a candidate's attempt, its parts, and what the grader found."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.results.report import AttemptReport
from app.results.scoring import Part, round_points


class PartOut(BaseModel):
    name: str
    score: float
    max_score: float = Field(description="Points of the items already scored.")
    pending: int = Field(description="Items whose points are not known yet.")

    @classmethod
    def of(cls, part: Part) -> PartOut:
        return cls(
            name=part.name,
            score=round_points(part.earned),
            max_score=round_points(part.max_points),
            pending=part.pending,
        )


class DiagnosisOut(BaseModel):
    item_id: int
    code: str = Field(
        description="The misconception the grader recognised, e.g. `uses_batch_stats_at_inference`."
    )
    message: str
    confidence: float


class ResultOut(BaseModel):
    object: Literal["result"] = "result"
    invitation_id: int
    status: Literal["not_started", "in_progress", "grading", "needs_review", "scored"] = Field(
        description="`scored` once every point is known; `needs_review` while written answers await a person."
    )
    score: float | None = Field(description="Points earned so far, to two decimals as every page shows them.")
    max_score: float | None
    percent: float | None
    passed: bool | None = Field(description="Null until the score is complete or when no pass mark is set.")
    needs_manual_review: bool
    sections: list[PartOut]
    topics: list[PartOut]
    diagnoses: list[DiagnosisOut]
    started_at: datetime | None
    completed_at: datetime | None
    report_url: str = Field(description="The full report in Assay (for signed-in teammates).")

    @classmethod
    def of(cls, report: AttemptReport, base_url: str) -> ResultOut:
        attempt, score = report.attempt, report.score
        status: Literal["not_started", "in_progress", "grading", "needs_review", "scored"]
        if attempt is None or score is None:
            status = "not_started"
        elif attempt.closed_at is None:
            status = "in_progress"
        elif score.grading:
            status = "grading"
        elif score.needs_review:
            status = "needs_review"
        else:
            status = "scored"
        return cls(
            invitation_id=report.invitation.id,
            status=status,
            score=round_points(score.earned) if score else None,
            max_score=round_points(score.max_points) if score else None,
            percent=round(score.percent, 2) if score and score.percent is not None else None,
            passed=score.passed if score else None,
            needs_manual_review=report.needs_manual_review,
            sections=[PartOut.of(p) for p in report.sections],
            topics=[PartOut.of(p) for p in report.topics],
            diagnoses=[
                DiagnosisOut(item_id=item.item.id, code=d.code, message=d.message, confidence=d.confidence)
                for item in report.items
                if item.code is not None
                for d in item.code.diagnoses
            ],
            started_at=attempt.started_at if attempt else None,
            completed_at=attempt.closed_at if attempt else None,
            report_url=f"{base_url}/invitations/{report.invitation.id}",
        )

"""The document a candidate's data is exported as: everything Assay holds on the person, readable by them and
by a machine. Hidden test cases stay hidden (a count of how many passed, never their names or data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel


class CandidateData(BaseModel):
    id: int
    email: str
    first_name: str
    last_name: str
    created_at: datetime


class AnswerRevisionData(BaseModel):
    revision: int
    value: dict[str, Any]
    saved_at: datetime


class AnswerData(BaseModel):
    item_id: int
    question: str
    value: dict[str, Any]
    saved_at: datetime
    flagged: bool
    automatic_points: float | None
    revisions: list[AnswerRevisionData]


class ManualScoreData(BaseModel):
    item_id: int
    points: float
    rubric: dict[str, Any]
    comment: str
    scored_at: datetime


class SampleCaseData(BaseModel):
    name: str
    status: str
    message: str


class GradingData(BaseModel):
    verdict: str
    score: float
    sample_cases: list[SampleCaseData]
    hidden_cases_passed: int
    hidden_cases: int
    diagnoses: list[str]


class SubmissionData(BaseModel):
    item_id: int
    kind: Literal["sample", "final"]
    submitted_at: datetime
    source: str
    grading: GradingData | None


class PageEventData(BaseModel):
    kind: str
    at: datetime
    detail: dict[str, Any]


class AttemptData(BaseModel):
    started_at: datetime
    deadline_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    score: float | None  # points earned, scored by hand included
    max_score: float | None
    pending_review: int  # written answers not scored yet
    pending_grading: int  # code answers still with the grader
    answers: list[AnswerData]
    manual_scores: list[ManualScoreData]
    submissions: list[SubmissionData]
    page_events: list[PageEventData]


class InvitationData(BaseModel):
    id: int
    assessment_id: int
    assessment_title: str
    status: str
    invited_at: datetime
    expires_at: datetime
    extra_time_pct: int
    external_ref: str | None
    attempt: AttemptData | None


class EmailData(BaseModel):
    """Emails sent to the person. Bodies are left out: they carry the sign-in link of an invitation."""

    subject: str
    to: str
    created_at: datetime
    sent_at: datetime | None
    status: str


class CandidateExport(BaseModel):
    format: Literal["assay.candidate-export/1"] = "assay.candidate-export/1"
    exported_at: datetime
    organization: str
    candidate: CandidateData
    invitations: list[InvitationData]
    emails: list[EmailData]

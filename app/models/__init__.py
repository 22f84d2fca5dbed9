"""Every table, imported here so Alembic and the mappers see the whole schema."""

from app.models.accounts import (
    ApiKey,
    Membership,
    Organization,
    Role,
    User,
    UserSession,
    UserToken,
    UserTokenKind,
)
from app.models.assessments import Assessment, AssessmentItem, AssessmentSection, AssessmentStatus
from app.models.attempts import Answer, AnswerRevision, Attempt, CloseReason, ManualScore, PageSignal
from app.models.base import Base, utcnow
from app.models.candidates import Candidate, Invitation, InvitationStatus
from app.models.events import (
    AuditEntry,
    DeliveryStatus,
    EmailMessage,
    Event,
    IdempotencyKey,
    PartnerCallback,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.models.grading import GradingJob, JobStatus, StoredGrade, Submission, SubmissionKind
from app.models.jobs import ScheduleTick
from app.models.questions import Question, QuestionType, QuestionVersion
from app.models.similarity import CodeFingerprint, FingerprintCount, SimilarityCheck, SimilarityPair

__all__ = [
    "Answer",
    "AnswerRevision",
    "ApiKey",
    "Assessment",
    "AssessmentItem",
    "AssessmentSection",
    "AssessmentStatus",
    "Attempt",
    "AuditEntry",
    "Base",
    "Candidate",
    "CloseReason",
    "CodeFingerprint",
    "DeliveryStatus",
    "EmailMessage",
    "Event",
    "FingerprintCount",
    "GradingJob",
    "IdempotencyKey",
    "Invitation",
    "InvitationStatus",
    "JobStatus",
    "ManualScore",
    "Membership",
    "Organization",
    "PageSignal",
    "PartnerCallback",
    "Question",
    "QuestionType",
    "QuestionVersion",
    "Role",
    "ScheduleTick",
    "SimilarityCheck",
    "SimilarityPair",
    "StoredGrade",
    "Submission",
    "SubmissionKind",
    "User",
    "UserSession",
    "UserToken",
    "UserTokenKind",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "utcnow",
]

"""Small builders for test data, going through the real services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.principal import Operator, Principal
from app.accounts.service import create_owner, create_user
from app.assessments.service import create_assessment, publish_assessment
from app.attempts.service import close_attempt, save_answer, start_attempt
from app.core.config import TEST_SECRET_KEY
from app.invitations.service import IssuedInvitation, create_invitation
from app.models import (
    Assessment,
    AssessmentItem,
    Attempt,
    CloseReason,
    GradingJob,
    Invitation,
    Membership,
    Organization,
    QuestionType,
    Role,
    Submission,
    User,
)
from app.questions.service import current_versions, spec_of

PASSWORD = "correct horse battery"
SECRET_KEY = TEST_SECRET_KEY  # what the test settings use


def owner(session: Session, email: str = "owner@acme.test", org: str = "Acme") -> tuple[User, Organization]:
    return create_owner(session, email=email, password=PASSWORD, org_name=org)


def principal(user: User, org: Organization, role: Role = Role.OWNER) -> Principal:
    """The user acting in the organization, as a signed-in page request would."""
    return Principal(user=user, organization=org, role=role, session_id=0)


def operator(session: Session, of: Organization | Assessment) -> Operator:
    """The host's operator acting in an organization (or an assessment's): for setting up test data."""
    if isinstance(of, Assessment):
        found = session.get(Organization, of.organization_id)
        assert found is not None
        of = found
    return Operator(of)


def owner_of(session: Session, org: Organization) -> Principal:
    """The organization's owner, acting."""
    membership = session.scalars(
        select(Membership).where(Membership.organization_id == org.id, Membership.role == Role.OWNER)
    ).first()
    assert membership is not None, "the organization has no owner"
    return principal(membership.user, org)


def published_assessment(
    session: Session,
    org: Organization,
    *,
    types: tuple[QuestionType, ...] | None = None,
    minutes: int = 30,
    per_type: int | None = None,
) -> Assessment:
    """Every current bank question of the given types, or the first `per_type` of each."""
    versions = current_versions(session, types=list(types) if types else None)
    if per_type is not None:
        versions = [
            version
            for kind in types or tuple(QuestionType)
            for version in [v for v in versions if v.type == kind][:per_type]
        ]
    assessment = create_assessment(
        session,
        operator(session, org),
        title="Screen",
        duration_minutes=minutes,
        question_version_ids=[v.id for v in versions],
    )
    return publish_assessment(session, operator(session, assessment), assessment)


def coding_assessment(
    session: Session, org: Organization, *, task: str = "bn-forward-train", minutes: int = 30
) -> Assessment:
    """One single-answer question and the coding question of `task`."""
    mcq = current_versions(session, types=[QuestionType.MCQ_SINGLE])[0]
    coding = next(
        v
        for v in current_versions(session, types=[QuestionType.CODING])
        if spec_of(v).task == task  # type: ignore[union-attr]
    )
    assessment = create_assessment(
        session,
        operator(session, org),
        title="Code screen",
        duration_minutes=minutes,
        question_version_ids=[mcq.id, coding.id],
    )
    return publish_assessment(session, operator(session, assessment), assessment)


def invitation(
    session: Session, org: Organization, assessment: Assessment, email: str = "cand@example.com"
) -> IssuedInvitation:
    return create_invitation(
        session,
        org,
        assessment,
        email=email,
        first_name="Ada",
        last_name="Byron",
        ttl=timedelta(days=3),
        secret_key=SECRET_KEY,
    )


def member(session: Session, org: Organization, email: str, role: Role) -> User:
    user = create_user(session, email=email, password=PASSWORD)
    session.add(Membership(organization=org, user=user, role=role))
    session.flush()
    return user


def finished_attempt(
    session: Session,
    org: Organization,
    assessment: Assessment,
    email: str,
    answers: dict[int, dict[str, Any]],
) -> Invitation:
    """An invitation whose candidate saved `answers` (item id -> value) and submitted."""
    issued = invitation(session, org, assessment, email=email)
    finish(session, issued.invitation, answers)
    return issued.invitation


def finish(session: Session, invited: Invitation, answers: dict[int, dict[str, Any]]) -> None:
    """The candidate starts, saves `answers` (item id -> value) and submits."""
    attempt = start_attempt(session, invited)
    for item_id, value in answers.items():
        save_answer(session, attempt, item_id, value, grace=timedelta(seconds=30))
    close_attempt(session, attempt, CloseReason.SUBMITTED)


def coding_attempt(session: Session) -> tuple[Attempt, AssessmentItem]:
    """A started attempt at a fresh organization's coding assessment, and its coding question."""
    _, org = owner(session)
    issued = invitation(session, org, coding_assessment(session, org))
    attempt = start_attempt(session, issued.invitation)
    item = next(
        i for i in attempt.invitation.assessment.items if i.question_version.type == QuestionType.CODING
    )
    return attempt, item


# Right, but slow to load (under the sandbox's 3 s limit for loading a module): a grading of it is surely
# running when a test or bench pulls the plug.
SLOW_RIGHT = """import time
import numpy as np
time.sleep({pause})

def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    return gamma * (x - mean) / np.sqrt(x.var(axis=0) + eps) + beta
"""


def final_grading_jobs(
    session: Session, org: Organization, assessment: Assessment, source: str, count: int
) -> list[int]:
    """`count` candidates who saved `source` for the coding question and submitted: the id of each one's
    final grading job (queued, not yet committed)."""
    item = next(i for i in assessment.items if i.question_version.type == QuestionType.CODING)
    jobs = []
    for number in range(count):
        invited = finished_attempt(
            session, org, assessment, f"c{number}@example.com", {item.id: {"source": source}}
        )
        assert invited.attempt is not None
        jobs.append(
            session.scalars(
                select(GradingJob.id).join(Submission).where(Submission.attempt_id == invited.attempt.id)
            ).one()
        )
    return jobs


def variance_round(session: Session, org: Organization) -> Assessment:
    """The concept question about which variance normalizes a training batch (one option stands for the
    unbiased variance), then the training forward pass to code."""
    concept = next(
        v
        for v in current_versions(session, types=[QuestionType.MCQ_SINGLE])
        if spec_of(v).title == "Which variance normalizes a training batch"
    )
    coding = next(
        v
        for v in current_versions(session, types=[QuestionType.CODING])
        if spec_of(v).task == "bn-forward-train"  # type: ignore[union-attr]
    )
    draft = create_assessment(
        session,
        operator(session, org),
        title="Variance",
        duration_minutes=30,
        question_version_ids=[concept.id, coding.id],
    )
    return publish_assessment(session, operator(session, draft), draft)


def simulated_round(
    session: Session, org: Organization, *, candidates: int, questions: int = 6, seed: int = 0
) -> tuple[Assessment, list[Invitation]]:
    """Single-answer questions of rising difficulty answered by candidates of normally spread ability, as a
    2PL model (discrimination 1.5) says they would: each picks the key or one of the first two wrong
    options."""
    import numpy as np

    assessment = published_assessment(session, org, types=(QuestionType.MCQ_SINGLE,), per_type=questions)
    rng = np.random.default_rng(seed)
    difficulty = np.linspace(-1.5, 1.5, len(assessment.items))
    finished = []
    for n in range(candidates):
        theta = rng.normal()
        answers = {}
        for item, b in zip(assessment.items, difficulty, strict=True):
            options = spec_of(item.question_version).options  # type: ignore[union-attr]
            right = next(o.id for o in options if o.correct)
            wrong = [o.id for o in options if not o.correct][:2]
            knows = rng.random() < 1 / (1 + np.exp(-1.5 * (theta - b)))
            answers[item.id] = {"choice": right if knows else wrong[int(rng.integers(len(wrong)))]}
        finished.append(finished_attempt(session, org, assessment, f"c{n}@example.com", answers))
    return assessment, finished


def checked_code(
    session: Session,
    org: Organization,
    assessment: Assessment,
    email: str,
    source: str,
    *,
    compare: bool = True,
) -> int:
    """A candidate who handed in `source` for `assessment`'s coding question, their counted submission
    indexed and compared as the worker does it (the grading itself left queued; `compare=False`: the check
    only created, as if its message were lost). Returns the check's id."""
    from app.grading.service import latest_final
    from app.models import SimilarityCheck
    from app.similarity import service as similarity

    item = next(i for i in assessment.items if i.question_version.type == QuestionType.CODING)
    invited = finished_attempt(session, org, assessment, email, {item.id: {"source": source}})
    assert invited.attempt is not None
    submission = latest_final(session, invited.attempt.id, item.id)
    assert submission is not None
    check = SimilarityCheck(organization_id=org.id, submission_id=submission.id, task_id=submission.task_id)
    session.add(check)
    session.flush()
    if compare:
        similarity.index_once(session, check.id)
        similarity.run_check(session, check.id)
    return check.id

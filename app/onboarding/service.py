"""A ready-to-try sample: a published assessment and an invitation link, so a new user sees Assay at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from app.accounts.principal import Operator
from app.accounts.service import create_owner, user_count
from app.assessments.service import create_assessment, publish_assessment
from app.core.errors import Conflict
from app.core.security import generate_password
from app.invitations.service import IssuedInvitation, create_invitation
from app.models import Assessment, Organization, QuestionType, User
from app.questions.service import current_versions

SAMPLE_TITLE = "Sample: batch normalization essentials"
SAMPLE_MCQ_COUNT = 4


@dataclass(frozen=True)
class DemoSeed:
    assessment: Assessment
    issued: IssuedInvitation


def seed_demo(
    session: Session,
    org: Organization,
    *,
    invitation_ttl: timedelta,
    secret_key: str,
    created_by: User | None = None,
) -> DemoSeed:
    mcqs = current_versions(session, types=[QuestionType.MCQ_SINGLE, QuestionType.MCQ_MULTI])
    written = current_versions(session, types=[QuestionType.WRITTEN])
    if not mcqs or not written:
        raise Conflict("the question bank is empty: run `assay bank sync` first")
    picked = [v.id for v in mcqs[:SAMPLE_MCQ_COUNT]] + [written[0].id]
    operator = Operator(org)
    assessment = create_assessment(
        session,
        operator,
        title=SAMPLE_TITLE,
        duration_minutes=20,
        question_version_ids=picked,
        description="A short sample to try Assay: concept questions and one written answer.",
    )
    assessment.created_by_id = created_by.id if created_by else None
    publish_assessment(session, operator, assessment)
    issued = create_invitation(
        session,
        org,
        assessment,
        email="sample.candidate@example.com",
        first_name="Sample",
        last_name="Candidate",
        ttl=invitation_ttl,
        secret_key=secret_key,
        created_by=created_by,
    )
    return DemoSeed(assessment=assessment, issued=issued)


@dataclass(frozen=True)
class FirstRun:
    email: str
    password: str | None  # set only when generated, to be printed once
    organization: Organization
    demo: DemoSeed | None


def first_run(
    session: Session,
    *,
    email: str,
    password: str | None,
    org_name: str,
    invitation_ttl: timedelta,
    secret_key: str,
) -> FirstRun | None:
    """On a database with no users: the first owner, their organization and a ready sample. Else None."""
    if user_count(session) > 0:
        return None
    generated = None
    if not password:
        password = generated = generate_password()
    user, org = create_owner(session, email=email, password=password, org_name=org_name)
    demo = None
    if current_versions(session):
        demo = seed_demo(session, org, invitation_ttl=invitation_ttl, secret_key=secret_key, created_by=user)
    return FirstRun(email=user.email, password=generated, organization=org, demo=demo)

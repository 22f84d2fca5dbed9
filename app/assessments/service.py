"""Building assessments from bank question versions, and their lifecycle."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.errors import Conflict, ValidationFailed
from app.errors import FieldError as FE
from app.models import (
    Assessment,
    AssessmentItem,
    AssessmentSection,
    AssessmentStatus,
    Organization,
    QuestionType,
    QuestionVersion,
    User,
    utcnow,
)
from app.tenancy import get_owned

SECTION_TITLES = {
    QuestionType.MCQ_SINGLE: "Concepts",
    QuestionType.MCQ_MULTI: "Concepts",
    QuestionType.NUMERIC: "Calculations",
    QuestionType.WRITTEN: "Written answers",
    QuestionType.CODING: "Coding",
}


def list_assessments(session: Session, org: Organization) -> list[Assessment]:
    return list(
        session.scalars(
            select(Assessment)
            .where(Assessment.organization_id == org.id)
            .options(selectinload(Assessment.items))
            .order_by(Assessment.created_at.desc(), Assessment.id.desc())
        )
    )


def get_assessment(session: Session, org: Organization, assessment_id: int) -> Assessment:
    return get_owned(
        session,
        Assessment,
        org,
        assessment_id,
        selectinload(Assessment.items).selectinload(AssessmentItem.question_version),
        selectinload(Assessment.sections),
    )


def create_assessment(
    session: Session,
    org: Organization,
    *,
    title: str,
    duration_minutes: int,
    question_version_ids: Sequence[int],
    created_by: User | None = None,
    description: str = "",
) -> Assessment:
    """A draft with one section per kind of question (concepts, written, coding), in the order given."""
    problems = []
    title = title.strip()
    if not title:
        problems.append(FE("title", "give the assessment a title"))
    if not 5 <= duration_minutes <= 480:
        problems.append(FE("duration_minutes", "duration must be between 5 and 480 minutes"))
    unique_ids = list(dict.fromkeys(question_version_ids))
    if not unique_ids:
        problems.append(FE("question_version_ids", "choose at least one question"))
    versions = {
        v.id: v for v in session.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(unique_ids)))
    }
    missing = [i for i in unique_ids if i not in versions]
    if missing:
        problems.append(FE("question_version_ids", f"unknown question versions: {missing}"))
    if problems:
        raise ValidationFailed("The assessment could not be created.", errors=problems)

    assessment = Assessment(
        organization_id=org.id,
        title=title,
        description=description.strip(),
        duration_minutes=duration_minutes,
        created_by_id=created_by.id if created_by else None,
    )
    session.add(assessment)
    ordered = sorted((versions[i] for i in unique_ids), key=lambda v: list(SECTION_TITLES).index(v.type))
    sections: dict[str, AssessmentSection] = {}
    for position, version in enumerate(ordered):
        section_title = SECTION_TITLES[version.type]
        if section_title not in sections:
            sections[section_title] = AssessmentSection(
                assessment=assessment, position=len(sections), title=section_title
            )
        assessment.items.append(
            AssessmentItem(
                position=position,
                points=version.points,
                question_version=version,
                section=sections[section_title],
            )
        )
    session.flush()
    return assessment


def publish_assessment(session: Session, assessment: Assessment) -> Assessment:
    if assessment.status != AssessmentStatus.DRAFT:
        raise Conflict(f"only a draft can be published; this assessment is {assessment.status.value}")
    if not assessment.items:
        raise Conflict("add at least one question before publishing")
    assessment.status = AssessmentStatus.PUBLISHED
    assessment.published_at = utcnow()
    session.flush()
    return assessment

"""/api/v1/assessments (list, read, create drafts, change their settings, publish, archive, make a new
version, duplicate) and /api/v1/questions (the bank, searchable, to build drafts from)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import AssessmentsRead, AssessmentsWrite
from app.api.schemas import Page, fetch_page
from app.assessments import service
from app.assessments.schemas import (
    AssessmentCreate,
    AssessmentOut,
    AssessmentQuery,
    AssessmentUpdate,
    QuestionOut,
    QuestionQuery,
)
from app.core.ids import PathId
from app.http.deps import SessionDep
from app.models import Assessment
from app.questions.service import BankFilter, browse_bank

router = APIRouter(prefix="/assessments", tags=["Assessments"])
questions_router = APIRouter(prefix="/questions", tags=["Question bank"])


@router.get("", summary="List assessments")
def list_assessments(
    session: SessionDep, principal: AssessmentsRead, query: Annotated[AssessmentQuery, Query()]
) -> Page[AssessmentOut]:
    stmt = service.assessments_stmt(principal.organization, status=query.status)
    rows, has_more = fetch_page(session, stmt, Assessment.id, query)
    return Page(data=[AssessmentOut.of(a) for a in rows], has_more=has_more)


@router.get("/{assessment_id}", summary="Read an assessment")
def get_assessment(session: SessionDep, principal: AssessmentsRead, assessment_id: PathId) -> AssessmentOut:
    return AssessmentOut.of(service.get_assessment(session, principal.organization, assessment_id))


@router.post("", status_code=201, summary="Create a draft assessment")
def create_assessment(
    session: SessionDep, principal: AssessmentsWrite, body: AssessmentCreate
) -> AssessmentOut:
    assessment = service.create_assessment(
        session,
        principal,
        title=body.title,
        duration_minutes=body.duration_minutes,
        question_version_ids=body.question_version_ids,
        description=body.description,
        role=body.role,
    )
    if body.pass_mark_pct is not None:
        assessment.pass_mark_pct = body.pass_mark_pct
    return AssessmentOut.of(assessment)


@router.patch("/{assessment_id}", summary="Change a draft's settings")
def update_assessment(
    session: SessionDep, principal: AssessmentsWrite, assessment_id: PathId, body: AssessmentUpdate
) -> AssessmentOut:
    assessment = service.get_assessment(session, principal.organization, assessment_id)
    # A field sent as null clears it (the pass mark); a field left out keeps its value.
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    service.update_settings(
        session, principal, assessment, dataclasses.replace(service.settings_of(assessment), **changes)
    )
    return AssessmentOut.of(assessment)


def _lifecycle(
    session: SessionDep, principal: AssessmentsWrite, assessment_id: int, change: Callable[..., Assessment]
) -> AssessmentOut:
    assessment = service.get_assessment(session, principal.organization, assessment_id)
    return AssessmentOut.of(change(session, principal, assessment))


@router.post(
    "/{assessment_id}/publish", summary="Publish a draft (a new version archives the one it replaces)"
)
def publish_assessment(
    session: SessionDep, principal: AssessmentsWrite, assessment_id: PathId
) -> AssessmentOut:
    return _lifecycle(session, principal, assessment_id, service.publish_assessment)


@router.post("/{assessment_id}/archive", summary="Archive a published assessment (links sent keep working)")
def archive_assessment(
    session: SessionDep, principal: AssessmentsWrite, assessment_id: PathId
) -> AssessmentOut:
    return _lifecycle(session, principal, assessment_id, service.archive_assessment)


@router.post(
    "/{assessment_id}/new_version",
    status_code=201,
    summary="A draft copy of a published assessment, to edit and publish in its place",
)
def new_version(session: SessionDep, principal: AssessmentsWrite, assessment_id: PathId) -> AssessmentOut:
    return _lifecycle(session, principal, assessment_id, service.new_version)


@router.post("/{assessment_id}/duplicate", status_code=201, summary="A new draft with the same questions")
def duplicate_assessment(
    session: SessionDep, principal: AssessmentsWrite, assessment_id: PathId
) -> AssessmentOut:
    return _lifecycle(session, principal, assessment_id, service.duplicate_assessment)


@questions_router.get("", summary="Search the question bank (current versions)")
def list_questions(
    principal: AssessmentsRead, session: SessionDep, query: Annotated[QuestionQuery, Query()]
) -> list[QuestionOut]:
    filters = BankFilter(
        topic=query.topic or "",
        difficulty=str(query.difficulty or ""),
        role=query.role or "",
        type=query.type.value if query.type else "",
        q=query.q or "",
    )
    return [QuestionOut.of(v) for v in browse_bank(session, filters)]

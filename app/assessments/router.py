"""/api/v1/assessments: list and read; create drafts and change their settings."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import AssessmentsRead, AssessmentsWrite
from app.api.schemas import Page, fetch_page
from app.assessments import service
from app.assessments.schemas import AssessmentCreate, AssessmentOut, AssessmentQuery, AssessmentUpdate
from app.core.ids import PathId
from app.http.deps import SessionDep
from app.models import Assessment

router = APIRouter(prefix="/assessments", tags=["Assessments"])


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

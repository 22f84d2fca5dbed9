"""Similar code, for a person to review: the side-by-side view of two submissions with what matches
highlighted, and an assessment's groups of submissions alike over the organization's threshold."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.assessments.service import get_assessment
from app.core.errors import NotFound
from app.core.ids import PathId
from app.http.deps import CurrentPrincipal, SessionDep
from app.similarity import service as similarity
from app.web.code_review import reviewable
from app.web.pages import page

router = APIRouter()


@router.get("/similarity/{pair_id}")
def side_by_side(
    request: Request, session: SessionDep, principal: CurrentPrincipal, pair_id: PathId
) -> Response:
    pair = similarity.pair_in(session, principal.organization, pair_id)
    if pair is None:
        raise NotFound("No such comparison. It may have gone with an erased candidate's data.")
    sides = [
        (pair.first, pair.first_share, reviewable(pair.first.submission.source, pair.first_ranges)),
        (pair.second, pair.second_share, reviewable(pair.second.submission.source, pair.second_ranges)),
    ]
    return page(
        request,
        "similarity_pair.html",
        principal,
        pair=pair,
        sides=sides,
        threshold=principal.organization.similarity_threshold / 100,
    )


@router.get("/assessments/{assessment_id}/similarity")
def groups(
    request: Request, session: SessionDep, principal: CurrentPrincipal, assessment_id: PathId
) -> Response:
    assessment = get_assessment(session, principal.organization, assessment_id)
    return page(
        request,
        "similarity.html",
        principal,
        assessment=assessment,
        clusters=similarity.clusters(session, principal.organization, assessment),
        summary=similarity.summary(session, assessment),
        threshold=principal.organization.similarity_threshold,
    )

"""/api/v1/invitations/{id}/result."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ResultsRead
from app.core.ids import PathId
from app.http.deps import SessionDep, SettingsDep
from app.results.report import attempt_report
from app.results.schemas import ResultOut

router = APIRouter(tags=["Results"])


@router.get("/invitations/{invitation_id}/result", summary="Read an invitation's result")
def get_result(
    session: SessionDep, settings: SettingsDep, principal: ResultsRead, invitation_id: PathId
) -> ResultOut:
    return ResultOut.of(attempt_report(session, principal.organization, invitation_id), settings.base_url)

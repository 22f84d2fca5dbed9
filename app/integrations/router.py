"""/integrations/greenhouse/*: the Assessment Partner endpoints Greenhouse calls, with the organization's
API key as the Basic-auth user name."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import AnyKey, AssessmentsRead, InvitationsWrite, PresentedKey, ResultsRead
from app.http.deps import SessionDep, SettingsDep
from app.integrations import service
from app.integrations.schemas import ResponseErrorIn, SendTestIn, SendTestOut, TestOut, TestStatusOut

router = APIRouter(prefix="/integrations/greenhouse", tags=["Greenhouse"])


@router.get("/list_tests", summary="The published assessments Greenhouse may send")
def list_tests(session: SessionDep, principal: AssessmentsRead) -> list[TestOut]:
    return [
        TestOut(partner_test_id=str(a.id), partner_test_name=f"{a.title} (v{a.version})")
        for a in service.list_tests(session, principal)
    ]


@router.post("/send_test", summary="Invite a Greenhouse candidate")
def send_test(
    session: SessionDep,
    settings: SettingsDep,
    principal: InvitationsWrite,
    partner_key: PresentedKey,
    body: SendTestIn,
) -> SendTestOut:
    invitation = service.send_test(
        session,
        principal,
        partner_test_id=body.partner_test_id,
        candidate=body.candidate,
        callback_url=body.url,
        settings=settings,
        partner_key=partner_key,
    )
    return SendTestOut(partner_interview_id=str(invitation.id))


@router.get("/test_status", summary="Where a candidate is, and the result once complete")
def test_status(
    session: SessionDep,
    settings: SettingsDep,
    principal: ResultsRead,
    partner_interview_id: Annotated[str, Query(max_length=40)],
) -> TestStatusOut:
    found = service.test_status(session, principal, partner_interview_id, settings.base_url)
    return TestStatusOut(**dataclasses.asdict(found))


@router.post("/response_error", summary="Greenhouse reports a problem with one of our answers")
def response_error(session: SessionDep, principal: AnyKey, body: ResponseErrorIn) -> dict[str, str]:
    service.record_response_error(session, principal, body.model_dump(mode="json"))
    return {}

"""/api/v1/candidates and /api/v1/invitations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from app.accounts.principal import ApiPrincipal
from app.api.deps import CandidatesRead, CandidatesWrite, InvitationsRead, InvitationsWrite, PersonalData
from app.api.schemas import Page, fetch_page, problem_of
from app.assessments.service import get_assessment
from app.candidates import service as personal_data
from app.candidates.schemas import CandidateExport
from app.core.config import Settings
from app.core.errors import AppError
from app.core.ids import PathId
from app.core.tenancy import get_owned
from app.http.deps import SessionDep, SettingsDep
from app.invitations import service
from app.invitations.schemas import (
    BulkInvitationCreate,
    BulkInvitationResult,
    BulkInvitationRow,
    CandidateIn,
    CandidateOut,
    CandidateQuery,
    CandidateUpdate,
    ErasureIn,
    ErasureOut,
    InvitationCreate,
    InvitationExtend,
    InvitationOut,
    InvitationQuery,
)
from app.models import Candidate, Invitation

candidates_router = APIRouter(prefix="/candidates", tags=["Candidates"])
invitations_router = APIRouter(prefix="/invitations", tags=["Invitations"])


@candidates_router.get("", summary="List candidates")
def list_candidates(
    session: SessionDep, principal: CandidatesRead, query: Annotated[CandidateQuery, Query()]
) -> Page[CandidateOut]:
    stmt = service.candidates_stmt(principal.organization, email=query.email)
    rows, has_more = fetch_page(session, stmt, Candidate.id, query)
    return Page(data=[CandidateOut.of(c) for c in rows], has_more=has_more)


@candidates_router.get("/{candidate_id}", summary="Read a candidate")
def get_candidate(session: SessionDep, principal: CandidatesRead, candidate_id: PathId) -> CandidateOut:
    return CandidateOut.of(get_owned(session, Candidate, principal.organization, candidate_id))


@candidates_router.post(
    "",
    status_code=201,
    summary="Create a candidate",
    responses={200: {"description": "A candidate with this email already existed; names sent are applied."}},
)
def create_candidate(
    session: SessionDep, principal: CandidatesWrite, body: CandidateIn, response: Response
) -> CandidateOut:
    candidate, new = service.add_candidate(
        session, principal, email=body.email, first_name=body.first_name, last_name=body.last_name
    )
    if not new:
        response.status_code = 200
    return CandidateOut.of(candidate)


@candidates_router.patch("/{candidate_id}", summary="Change a candidate's names")
def update_candidate(
    session: SessionDep, principal: CandidatesWrite, candidate_id: PathId, body: CandidateUpdate
) -> CandidateOut:
    candidate = get_owned(session, Candidate, principal.organization, candidate_id)
    service.rename_candidate(
        session, principal, candidate, first_name=body.first_name, last_name=body.last_name
    )
    return CandidateOut.of(candidate)


@candidates_router.get(
    "/{candidate_id}/export", summary="Everything held on a candidate (their right of access)"
)
def export_candidate(session: SessionDep, principal: PersonalData, candidate_id: PathId) -> CandidateExport:
    """The same document as the report page's download: the person, every invitation with its answers,
    code and grading, and the emails sent to them. Audited."""
    candidate = get_owned(session, Candidate, principal.organization, candidate_id)
    return personal_data.export_candidate(session, principal, candidate)


@candidates_router.post(
    "/{candidate_id}/erase", summary="Erase a candidate's personal data (cannot be undone)"
)
def erase_candidate(
    session: SessionDep, principal: PersonalData, candidate_id: PathId, body: ErasureIn
) -> ErasureOut:
    """Their name and address, everything they wrote, comments about them and the emails to them go, in
    every assessment of the organization; unused links stop working; scores stay in the statistics,
    attached to nobody. 409 while they are taking an assessment or their code is being graded."""
    candidate = get_owned(session, Candidate, principal.organization, candidate_id)
    personal_data.confirm_erasure(candidate, body.confirm_email)
    erased = personal_data.erase_candidate(session, principal, candidate)
    return ErasureOut(
        candidate=CandidateOut.of(candidate),
        invitations=erased.invitations,
        answers=erased.answers,
        submissions=erased.submissions,
        emails=erased.emails,
    )


def _out(invitation: Invitation, settings: Settings) -> InvitationOut:
    link = service.rebuild_link(invitation, settings.secret_key.get_secret_value(), settings.base_url)
    return InvitationOut.of(invitation, link, f"{settings.base_url}/api/v1")


@invitations_router.get("", summary="List invitations")
def list_invitations(
    session: SessionDep,
    settings: SettingsDep,
    principal: InvitationsRead,
    query: Annotated[InvitationQuery, Query()],
) -> Page[InvitationOut]:
    stmt = service.invitations_stmt(
        principal.organization,
        assessment_id=query.assessment_id,
        candidate_id=query.candidate_id,
        external_ref=query.external_ref,
        status=query.status,
    )
    rows, has_more = fetch_page(session, stmt, Invitation.id, query)
    return Page(data=[_out(i, settings) for i in rows], has_more=has_more)


@invitations_router.get("/{invitation_id}", summary="Read an invitation")
def get_invitation(
    session: SessionDep, settings: SettingsDep, principal: InvitationsRead, invitation_id: PathId
) -> InvitationOut:
    return _out(service.get_invitation(session, principal.organization, invitation_id), settings)


@invitations_router.post("", status_code=201, summary="Invite a candidate")
def create_invitation(
    session: SessionDep, settings: SettingsDep, principal: InvitationsWrite, body: InvitationCreate
) -> InvitationOut:
    return _invite(session, settings, principal, body)


def _invite(
    session: Session, settings: Settings, principal: ApiPrincipal, body: InvitationCreate
) -> InvitationOut:
    assessment = get_assessment(session, principal.organization, body.assessment_id)
    person = body.candidate
    issued = service.invite(
        session,
        principal,
        assessment,
        service.Invitee(person.email, person.first_name, person.last_name, body.extra_time_pct),
        settings=settings,
        send_email=body.send_email,
        expires_at=body.expires_at,
        external_ref=body.external_ref,
        callback_url=body.callback_url,
        callback_events=body.callback_events,
    )
    made = InvitationOut.of(issued.invitation, issued.link(settings.base_url), f"{settings.base_url}/api/v1")
    made.callback_secret = issued.callback_secret
    return made


@invitations_router.post("/bulk", summary="Invite many candidates in one request, with a result per row")
def create_invitations(
    session: SessionDep, settings: SettingsDep, principal: InvitationsWrite, body: BulkInvitationCreate
) -> BulkInvitationResult:
    """Each row is invited as `POST /invitations` would (event, email, audit) or refused on its own: one
    bad row does not stop the others. Send an Idempotency-Key: a retry replays the whole result."""
    rows: list[BulkInvitationRow] = []
    for index, row in enumerate(body.invitations):
        try:
            with session.begin_nested():
                made = _invite(session, settings, principal, row)
        except AppError as refused:
            rows.append(
                BulkInvitationRow(index=index, status=refused.status_code, problem=problem_of(refused))
            )
        else:
            rows.append(BulkInvitationRow(index=index, status=201, invitation=made))
    return BulkInvitationResult(data=rows, invited=sum(1 for r in rows if r.invitation is not None))


@invitations_router.post("/{invitation_id}/cancel", summary="Cancel an unused invitation")
def cancel_invitation(
    session: SessionDep, settings: SettingsDep, principal: InvitationsWrite, invitation_id: PathId
) -> InvitationOut:
    invitation = service.get_invitation(session, principal.organization, invitation_id)
    service.cancel_invitation(session, principal, invitation)
    return _out(invitation, settings)


@invitations_router.post(
    "/{invitation_id}/extend", summary="A later expiry or extra time for an unused invitation (same link)"
)
def extend_invitation(
    session: SessionDep,
    settings: SettingsDep,
    principal: InvitationsWrite,
    invitation_id: PathId,
    body: InvitationExtend,
) -> InvitationOut:
    invitation = service.get_invitation(session, principal.organization, invitation_id)
    service.extend_invitation(
        session, principal, invitation, expires_at=body.expires_at, extra_time_pct=body.extra_time_pct
    )
    return _out(invitation, settings)


@invitations_router.post("/{invitation_id}/resend", summary="Email the link again, with a later expiry")
def resend_invitation(
    session: SessionDep, settings: SettingsDep, principal: InvitationsWrite, invitation_id: PathId
) -> InvitationOut:
    invitation = service.get_invitation(session, principal.organization, invitation_id)
    service.resend_invitation(session, principal, invitation, settings=settings)
    return _out(invitation, settings)

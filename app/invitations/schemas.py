"""The API's candidate and invitation objects."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from app.api.schemas import EmailAddress, HttpUrl, ListQuery, Problem, RequestBody
from app.core.ids import ObjectId
from app.models import Candidate, Invitation, InvitationStatus
from app.webhooks.schemas import InvitationEventTypes


class CandidateOut(BaseModel):
    id: int
    object: Literal["candidate"] = "candidate"
    email: str
    first_name: str
    last_name: str
    created_at: datetime
    erased_at: datetime | None = Field(
        description="When an owner erased this person's data on their request: the address is a placeholder "
        "and the names are empty; the scores still count in statistics."
    )

    @classmethod
    def of(cls, candidate: Candidate) -> CandidateOut:
        return cls(
            id=candidate.id,
            email=candidate.email,
            first_name=candidate.first_name,
            last_name=candidate.last_name,
            created_at=candidate.created_at,
            erased_at=candidate.erased_at,
        )


class CandidateQuery(ListQuery):
    email: str | None = Field(default=None, max_length=320, description="Only the candidate with this email.")


class CandidateIn(RequestBody):
    email: EmailAddress
    first_name: str = Field(default="", max_length=120)
    last_name: str = Field(default="", max_length=120)


class CandidateUpdate(RequestBody):
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)


class ErasureIn(RequestBody):
    # Checked by the service, after the candidate is found: another organization's key gets 404, not 422.
    confirm_email: str = Field(
        default="",
        max_length=320,
        description="Required: the candidate's email address, typed again, since erasing cannot be undone.",
    )


class ErasureOut(BaseModel):
    object: Literal["erasure"] = "erasure"
    candidate: CandidateOut
    invitations: int = Field(description="Invitations whose links stopped working and whose answers went.")
    answers: int
    submissions: int = Field(description="Code runs and submissions, with their output.")
    emails: int


class CallbackOut(BaseModel):
    endpoint_id: int = Field(
        description="A webhook endpoint of this invitation only: its deliveries are at "
        "`/webhook_endpoints/{endpoint_id}/deliveries`, and PATCH there changes or re-enables it."
    )
    url: str
    event_types: list[str]
    enabled: bool


class InvitationOut(BaseModel):
    id: int
    object: Literal["invitation"] = "invitation"
    assessment_id: int
    candidate: CandidateOut
    status: InvitationStatus = Field(description="sent, started, completed, expired or cancelled.")
    candidate_url: str | None = Field(
        description="The candidate's link; null once it cannot be rebuilt (the secret key changed)."
    )
    expires_at: datetime
    extra_time_pct: int
    external_ref: str | None
    created_at: datetime
    sent_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    result_url: str = Field(description="GET this for the result once the status is completed.")
    callback: CallbackOut | None = Field(
        description="The invitation's own callback URL, when it was given one."
    )
    callback_secret: str | None = Field(
        default=None,
        description="`whsec_…`, to verify the callback's signatures (Standard Webhooks): only in the answer "
        "that created the invitation with a callback_url.",
    )

    @classmethod
    def of(cls, invitation: Invitation, candidate_url: str | None, api_base: str) -> InvitationOut:
        attempt = invitation.attempt
        return cls(
            id=invitation.id,
            assessment_id=invitation.assessment_id,
            candidate=CandidateOut.of(invitation.candidate),
            status=invitation.current_status,
            candidate_url=candidate_url,
            expires_at=invitation.expires_at,
            extra_time_pct=invitation.extra_time_pct,
            external_ref=invitation.external_ref,
            created_at=invitation.created_at,
            sent_at=invitation.sent_at,
            started_at=attempt.started_at if attempt else None,
            completed_at=attempt.closed_at if attempt else None,
            cancelled_at=invitation.cancelled_at,
            result_url=f"{api_base}/invitations/{invitation.id}/result",
            callback=None
            if invitation.callback is None
            else CallbackOut(
                endpoint_id=invitation.callback.id,
                url=invitation.callback.url,
                event_types=list(invitation.callback.event_types),
                enabled=invitation.callback.enabled,
            ),
        )


class InvitationQuery(ListQuery):
    assessment_id: ObjectId | None = None
    candidate_id: ObjectId | None = None
    status: InvitationStatus | None = None
    external_ref: str | None = Field(default=None, max_length=200)


MAX_BULK = 500


class InvitationCreate(RequestBody):
    assessment_id: ObjectId = Field(description="A published assessment.")
    candidate: CandidateIn
    send_email: bool = Field(default=True, description="Email the link to the candidate.")
    expires_at: AwareDatetime | None = Field(
        default=None, description="With a time zone; by default the link lasts ASSAY_INVITATION_TTL_DAYS."
    )
    extra_time_pct: int = Field(default=0, ge=0, le=200, description="Extra time, e.g. 25 for +25%.")
    external_ref: str | None = Field(
        default=None, max_length=200, description="Your own id for this invitation (an ATS application id)."
    )
    callback_url: HttpUrl | None = Field(
        default=None,
        description="Where this invitation's events are posted (besides the organization's webhook "
        "endpoints), signed as every webhook with the `callback_secret` of the answer.",
    )
    callback_events: InvitationEventTypes = Field(
        default_factory=list,
        description="The events the callback hears; empty: every event of the invitation (invitation.* "
        "and result.*).",
    )


class BulkInvitationCreate(RequestBody):
    invitations: list[InvitationCreate] = Field(
        min_length=1, max_length=MAX_BULK, description="One per candidate."
    )


class BulkInvitationRow(BaseModel):
    """One row's outcome: 201 with the invitation, or the problem that kept it from being made."""

    index: int = Field(description="The row's position in the request, from 0.")
    status: int
    invitation: InvitationOut | None = None
    problem: Problem | None = None


class BulkInvitationResult(BaseModel):
    data: list[BulkInvitationRow]
    invited: int = Field(description="How many rows made an invitation.")


class InvitationExtend(RequestBody):
    """What to change; at least one. Only a link not yet used can be extended."""

    expires_at: AwareDatetime | None = Field(default=None, description="A later expiry, with a time zone.")
    extra_time_pct: int | None = Field(
        default=None, ge=0, le=200, description="Extra time, e.g. 25 for +25%."
    )

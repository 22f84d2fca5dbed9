"""The API's webhook endpoint, delivery and event objects, and the payload receivers get."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.api.schemas import HttpUrl, RequestBody
from app.models import CloseReason, DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from app.webhooks.service import EVENT_TYPES, INVITATION_EVENT_TYPES

# Declared as enums in the document; the service refuses anything else with the list to choose from.
EventTypes = Annotated[
    list[str], Field(json_schema_extra={"items": {"type": "string", "enum": list(EVENT_TYPES)}})
]
InvitationEventTypes = Annotated[
    list[str], Field(json_schema_extra={"items": {"type": "string", "enum": INVITATION_EVENT_TYPES}})
]


class EndpointOut(BaseModel):
    id: int
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    description: str
    event_types: list[str] = Field(description="Empty: every event type.")
    invitation_id: int | None = Field(
        description="Set for an invitation's own callback, which hears only that invitation's events."
    )
    enabled: bool
    disabled_reason: str
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            description=endpoint.description,
            event_types=list(endpoint.event_types),
            invitation_id=endpoint.invitation_id,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            created_at=endpoint.created_at,
        )


class EndpointWithSecret(EndpointOut):
    secret: str = Field(
        description="`whsec_…`: verify signatures with it. Shown only now; rotate to replace."
    )

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointWithSecret:
        return cls(**EndpointOut.of(endpoint).model_dump(), secret=endpoint.secret)


class EndpointCreate(RequestBody):
    url: HttpUrl = Field(description="HTTPS in production; public addresses only.")
    description: str = Field(default="", max_length=300)
    event_types: EventTypes = Field(default_factory=list, description="Empty: every event type.")


class EndpointUpdate(RequestBody):
    url: HttpUrl | None = None
    description: str | None = Field(default=None, max_length=300)
    event_types: EventTypes | None = None
    enabled: bool | None = Field(default=None, description="Re-enable an endpoint Assay disabled.")


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str


class DeliveryOut(BaseModel):
    id: int
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint_id: int
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_id=delivery.event.public_id,
            event_type=delivery.event.type,
            status=delivery.status,
            attempt_count=delivery.attempt_count,
            next_attempt_at=delivery.next_attempt_at,
            delivered_at=delivery.delivered_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            attempts=[
                AttemptOut(
                    at=a.at,
                    status_code=a.status_code,
                    latency_ms=a.latency_ms,
                    response_excerpt=a.response_excerpt,
                    error=a.error,
                )
                for a in delivery.attempts
            ],
        )


class EventOut(BaseModel):
    id: str = Field(description="`evt_…`, also sent as the `webhook-id` header: deduplicate by it.")
    object: Literal["event"] = "event"
    type: str
    created_at: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, event: Event) -> EventOut:
        return cls(id=event.public_id, type=event.type, created_at=event.created_at, data=event.payload)


class EventQuery(BaseModel):
    model_config = {"extra": "forbid"}

    limit: int = Field(default=20, ge=1, le=100)
    starting_after: str | None = Field(default=None, max_length=40, description="An event id (`evt_…`).")
    type: str | None = Field(
        default=None,
        max_length=80,
        description="Only events of this type.",
        json_schema_extra={"anyOf": [{"type": "string", "enum": list(EVENT_TYPES)}, {"type": "null"}]},
    )

    @field_validator("type")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None and value not in EVENT_TYPES:
            raise ValueError(f"choose from: {', '.join(EVENT_TYPES)}")
        return value


class _EventData(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InvitationRef(_EventData):
    invitation_id: int


class InvitationCreatedData(InvitationRef):
    assessment_id: int
    candidate_id: int
    external_ref: str | None = Field(description="The reference your system gave the invitation, if any.")


class InvitationStartedData(InvitationRef):
    started_at: datetime


class InvitationExpiredData(InvitationRef):
    expired_at: datetime


class InvitationSentAgainData(InvitationRef):
    expires_at: datetime


class ScoreSummary(InvitationRef):
    """The attempt's one persisted score, rounded as shown (app.results.scoring)."""

    score: float | None = Field(description="Points earned so far; null until the attempt is closed.")
    max_score: float | None
    needs_manual_review: bool
    pending_review: int = Field(description="Written answers waiting for a person.")
    pending_grading: int = Field(description="Code answers the grader has not finished (or failed on).")


class InvitationCompletedData(ScoreSummary):
    reason: CloseReason = Field(description="Handed in, closed when time ran out, or withdrawn.")


class ResultUpdatedData(ScoreSummary):
    item_id: int
    rescored: bool = Field(description="True when an answer already scored by a person was scored again.")


class ResultFlaggedData(InvitationRef):
    item_id: int = Field(description="The coding question whose code is alike.")
    task_id: str
    similarity: int = Field(
        description="Percent of this candidate's code (starter code and common idioms left out) found in the "
        "other's. A signal for a person to review, not a verdict."
    )
    other_invitation_id: int | None = Field(
        description="The candidate whose code it is alike; null when it is a known solution (`reference`)."
    )
    reference: str | None = Field(
        description="The known solution's name, when the match is one the organization added."
    )


class AssessmentData(_EventData):
    assessment_id: int
    version: int
    replaced_by: int | None = Field(default=None, description="The new version that replaced this one.")


# Each event type's `data`, as the document's `webhooks` section declares it (tests check recorded events
# against these).
EVENT_DATA: dict[str, type[BaseModel]] = {
    "invitation.created": InvitationCreatedData,
    "invitation.started": InvitationStartedData,
    "invitation.completed": InvitationCompletedData,
    "invitation.expired": InvitationExpiredData,
    "invitation.cancelled": InvitationRef,
    "invitation.resent": InvitationSentAgainData,
    "invitation.reminded": InvitationSentAgainData,
    "result.scored": ScoreSummary,
    "result.updated": ResultUpdatedData,
    "result.flagged": ResultFlaggedData,
    "assessment.published": AssessmentData,
    "assessment.archived": AssessmentData,
}


class WebhookPayload(BaseModel):
    """The body of every webhook request. Headers: `webhook-id` (the event id), `webhook-timestamp` (Unix
    seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of `id.timestamp.body`, keyed by the
    secret's base64 part; several space-separated signatures during a secret rotation)."""

    type: str
    timestamp: datetime
    data: dict[str, Any] = Field(description="The ids of what changed; fetch details from the API.")

"""/api/v1/webhook_endpoints (with their deliveries) and /api/v1/events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import WebhooksManage
from app.api.schemas import ListQuery, Page, fetch_page
from app.core.ids import PathId
from app.events.service import event_by_public_id, events_stmt
from app.http.deps import SessionDep, SettingsDep
from app.models import Event, WebhookDelivery, WebhookEndpoint
from app.webhooks import service
from app.webhooks.schemas import (
    DeliveryOut,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    EventOut,
    EventQuery,
)

router = APIRouter(prefix="/webhook_endpoints", tags=["Webhooks"])
events_router = APIRouter(prefix="/events", tags=["Events"])


@router.get("", summary="List webhook endpoints")
def list_endpoints(
    session: SessionDep, principal: WebhooksManage, query: Annotated[ListQuery, Query()]
) -> Page[EndpointOut]:
    stmt = service.endpoints_stmt(principal.organization)
    rows, has_more = fetch_page(session, stmt, WebhookEndpoint.id, query)
    return Page(data=[EndpointOut.of(e) for e in rows], has_more=has_more)


@router.post("", status_code=201, summary="Add a webhook endpoint (its secret is shown once)")
def create_endpoint(
    session: SessionDep, settings: SettingsDep, principal: WebhooksManage, body: EndpointCreate
) -> EndpointWithSecret:
    endpoint = service.create_endpoint(
        session,
        principal,
        url=body.url,
        settings=settings,
        description=body.description,
        event_types=body.event_types,
    )
    return EndpointWithSecret.of(endpoint)


@router.get("/{endpoint_id}", summary="Read a webhook endpoint")
def get_endpoint(session: SessionDep, principal: WebhooksManage, endpoint_id: PathId) -> EndpointOut:
    return EndpointOut.of(service.get_endpoint(session, principal.organization, endpoint_id))


@router.patch("/{endpoint_id}", summary="Change or re-enable a webhook endpoint")
def update_endpoint(
    session: SessionDep,
    settings: SettingsDep,
    principal: WebhooksManage,
    endpoint_id: PathId,
    body: EndpointUpdate,
) -> EndpointOut:
    endpoint = service.get_endpoint(session, principal.organization, endpoint_id)
    service.update_endpoint(
        session,
        principal,
        endpoint,
        settings=settings,
        url=body.url,
        description=body.description,
        event_types=body.event_types,
        enabled=body.enabled,
    )
    return EndpointOut.of(endpoint)


@router.delete("/{endpoint_id}", status_code=204, summary="Delete a webhook endpoint and its delivery log")
def delete_endpoint(session: SessionDep, principal: WebhooksManage, endpoint_id: PathId) -> Response:
    endpoint = service.get_endpoint(session, principal.organization, endpoint_id)
    service.delete_endpoint(session, principal, endpoint)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate_secret", summary="Replace the signing secret (the old one signs for 24 h)"
)
def rotate_secret(session: SessionDep, principal: WebhooksManage, endpoint_id: PathId) -> EndpointWithSecret:
    endpoint = service.get_endpoint(session, principal.organization, endpoint_id)
    service.rotate_secret(session, principal, endpoint)
    return EndpointWithSecret.of(endpoint)


@router.get("/{endpoint_id}/deliveries", summary="List an endpoint's deliveries, each with its attempts")
def list_deliveries(
    session: SessionDep, principal: WebhooksManage, endpoint_id: PathId, query: Annotated[ListQuery, Query()]
) -> Page[DeliveryOut]:
    endpoint = service.get_endpoint(session, principal.organization, endpoint_id)
    rows, has_more = fetch_page(session, service.list_deliveries_stmt(endpoint), WebhookDelivery.id, query)
    return Page(data=[DeliveryOut.of(d) for d in rows], has_more=has_more)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Send a delivery again, with the same webhook-id",
)
def redeliver(
    session: SessionDep, principal: WebhooksManage, endpoint_id: PathId, delivery_id: PathId
) -> DeliveryOut:
    endpoint = service.get_endpoint(session, principal.organization, endpoint_id)
    delivery = service.get_delivery(session, endpoint, delivery_id)
    service.redeliver(session, principal, delivery)
    return DeliveryOut.of(delivery)


@events_router.get("", summary="List events, newest first, to catch up on anything missed")
def list_events(
    session: SessionDep, principal: WebhooksManage, query: Annotated[EventQuery, Query()]
) -> Page[EventOut]:
    cursor = (
        event_by_public_id(session, principal.organization, query.starting_after).id
        if query.starting_after
        else None
    )
    rows, has_more = fetch_page(
        session,
        events_stmt(principal.organization, query.type),
        Event.id,
        ListQuery(limit=query.limit, starting_after=cursor),
    )
    return Page(data=[EventOut.of(e) for e in rows], has_more=has_more)


@events_router.get("/{event_id}", summary="Read an event")
def get_event(session: SessionDep, principal: WebhooksManage, event_id: str) -> EventOut:
    return EventOut.of(event_by_public_id(session, principal.organization, event_id))

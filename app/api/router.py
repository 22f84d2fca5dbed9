"""/api/v1: every domain's API router under one prefix, with the errors each operation can answer, and
the OpenAPI 3.1 document (webhooks included) at /api/v1/openapi.json with a docs page at /api/v1/docs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts

from app.api.schemas import ERROR_RESPONSES
from app.api.service import SCOPES
from app.assessments.router import router as assessments_router
from app.integrations.router import router as greenhouse_router
from app.invitations.router import candidates_router, invitations_router
from app.results.router import router as results_router
from app.web.pages import templates
from app.webhooks.router import events_router
from app.webhooks.router import router as webhooks_router
from app.webhooks.schemas import WebhookPayload
from app.webhooks.service import EVENT_TYPES

API_PREFIX = "/api/v1"

router = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
for domain_router in (
    assessments_router,
    candidates_router,
    invitations_router,
    results_router,
    webhooks_router,
    events_router,
):
    router.include_router(domain_router)

partner_router = APIRouter(responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 404, 422)})
partner_router.include_router(greenhouse_router)

# Documentation only: what Assay POSTs to a webhook endpoint for each event type.
webhooks = APIRouter()


def _document_webhook(event_type: str, description: str) -> None:
    def receive(payload: WebhookPayload) -> None:
        """Answer 2xx within `ASSAY_WEBHOOK_TIMEOUT_SECONDS` (10 by default); anything else is retried for
        about three days."""

    webhooks.add_api_route(
        event_type, receive, methods=["POST"], summary=description, operation_id=f"webhook_{event_type}"
    )


for _event_type, _description in EVENT_TYPES.items():
    _document_webhook(_event_type, _description)

DESCRIPTION = f"""
Drive Assay from an HR system: invite candidates, learn when they finish, read their results.

**Authentication.** `Authorization: Bearer ak_live_…`, or HTTP Basic with the key as the user name and an
empty password. Owners and admins create keys on Assay's API keys page or with
`assay api-keys create --org ORG --scopes S1,S2`. Scopes: {", ".join(f"`{s}`" for s in SCOPES)}.

**Lists** are newest first: `limit` (1-100) and `starting_after` (the last id you saw) give
`{{"data": [...], "has_more": true}}`.

**Errors** are RFC 9457 `application/problem+json`; a 422 lists every field at fault. Another
organization's objects are 404; a key without the scope gets 403.

**Idempotency.** Send `Idempotency-Key: <unique string>` with any POST: a retry with the same key and body
replays the first response (`Idempotent-Replayed: true`); the same key with another body is 422; a retry
while the first is still running is 409. Keys are kept 24 hours.

**Rate limits** are per key: every response carries `RateLimit-Policy` and `RateLimit`; a 429 carries
`Retry-After`.

**Webhooks** follow Standard Webhooks: verify `webhook-signature` with your endpoint's `whsec_` secret and
deduplicate by `webhook-id`. Catch up on anything missed with `GET /api/v1/events`.
"""


def openapi_document(request: Request) -> dict[str, Any]:
    app = request.app
    cached: dict[str, Any] | None = getattr(app.state, "api_openapi", None)
    if cached is None:
        routes = [
            context
            for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)
            and (context.path or "").startswith((API_PREFIX + "/", "/integrations/"))
        ]
        cached = get_openapi(
            title="Assay API",
            version="1",
            openapi_version="3.1.0",
            description=DESCRIPTION,
            routes=routes,
            webhooks=webhooks.routes,
            servers=[{"url": app.state.settings.base_url}],
        )
        app.state.api_openapi = cached
    return cached


docs_router = APIRouter(prefix=API_PREFIX, include_in_schema=False)


@docs_router.get("/openapi.json")
def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(request))


@docs_router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request) -> HTMLResponse:
    """Swagger UI over the document above; its start-up script carries the request's CSP nonce."""
    return templates.TemplateResponse(request, "api_docs.html", {"openapi_url": f"{API_PREFIX}/openapi.json"})

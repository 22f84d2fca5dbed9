"""/api/v1: every domain's API router under one prefix, with the errors each operation can answer, and
the OpenAPI 3.1 document (webhooks included) at /api/v1/openapi.json with a docs page at /api/v1/docs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, create_model

from app.api.schemas import ERROR_RESPONSES
from app.api.service import SCOPES
from app.assessments.router import questions_router
from app.assessments.router import router as assessments_router
from app.integrations.router import router as greenhouse_router
from app.invitations.router import candidates_router, invitations_router
from app.results.router import router as results_router
from app.web.pages import templates
from app.webhooks.router import events_router
from app.webhooks.router import router as webhooks_router
from app.webhooks.schemas import EVENT_DATA, WebhookPayload
from app.webhooks.service import EVENT_TYPES

API_PREFIX = "/api/v1"


def operation_id(route: APIRoute) -> str:
    """The endpoint's function name (`create_invitation`), which generated clients name their calls after;
    the document test keeps them unique."""
    return route.name


router = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
for domain_router in (
    questions_router,
    assessments_router,
    candidates_router,
    invitations_router,
    results_router,
    webhooks_router,
    events_router,
):
    router.include_router(domain_router, generate_unique_id_function=operation_id)

partner_router = APIRouter(
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 404, 422, 429)}
)
partner_router.include_router(greenhouse_router, generate_unique_id_function=operation_id)

# Documentation only: what Assay POSTs to a webhook endpoint for each event type.
webhooks = APIRouter()


def _payload_model(event_type: str) -> type[BaseModel]:
    """The body Assay posts for one event type: `type` is that type and `data` its own shape."""
    name = "".join(part.title() for part in event_type.replace(".", "_").split("_")) + "Payload"
    return create_model(
        name,
        __base__=WebhookPayload,
        __doc__=WebhookPayload.__doc__,
        type=(Literal[event_type], ...),  # type: ignore[arg-type]
        data=(EVENT_DATA[event_type], ...),
    )


def _document_webhook(event_type: str, description: str) -> None:
    payload_model = _payload_model(event_type)

    def receive(payload: BaseModel) -> None:
        """Answer 2xx within `ASSAY_WEBHOOK_TIMEOUT_SECONDS` (10 by default); anything else is retried for
        about three days. Verify `webhook-signature` first; deduplicate by `webhook-id`."""

    # The annotation names this event's own payload (postponed annotations cannot name a local class).
    receive.__annotations__ = {"payload": payload_model, "return": None}

    webhooks.add_api_route(
        event_type,
        receive,
        methods=["POST"],
        summary=description,
        operation_id=f"webhook_{event_type}",
        status_code=204,
        responses={204: {"description": "Received. Any 2xx is success; 410 Gone disables the endpoint."}},
    )


for _event_type, _description in EVENT_TYPES.items():
    _document_webhook(_event_type, _description)

DESCRIPTION = f"""
Drive Assay from an HR system: invite candidates, learn when they finish, read their results.

**Authentication.** `Authorization: Bearer ak_live_…`, or HTTP Basic with the key as the user name and an
empty password. Owners and admins create keys on Assay's API keys page or with
`assay api-keys create --org ORG --scopes S1,S2`. Scopes: {", ".join(f"`{s}`" for s in SCOPES)}.
A key may expire (a 401 then says when it did). A **test key** (`ak_test_…`) works the same on the
organization's test data, kept apart from live: what it creates, live keys and Assay's pages never see,
and its candidates get no email (the invitation's `candidate_url` opens the test).

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
deduplicate by `webhook-id`. Catch up on anything missed with `GET /api/v1/events`. An invitation created
with a `callback_url` has a callback of its own that hears only that invitation's events.

**Results** come question by question (`GET /invitations/{{id}}/result`), as a PDF
(`/invitations/{{id}}/report.pdf`), and as a link anyone may open until it expires
(`POST /invitations/{{id}}/report_link`).
"""


def openapi_document(request: Request) -> dict[str, Any]:
    cached: dict[str, Any] | None = getattr(request.app.state, "api_openapi", None)
    if cached is None:
        cached = request.app.state.api_openapi = build_document(request.app)
    return cached


def build_document(app: FastAPI) -> dict[str, Any]:
    """The API's OpenAPI 3.1 document: the /api/v1 and /integrations routes, the webhooks Assay sends, and
    the headers and errors the server really uses (`finish_document`)."""
    routes = [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and (context.path or "").startswith((API_PREFIX + "/", "/integrations/"))
    ]
    document = get_openapi(
        title="Assay API",
        version="1",
        openapi_version="3.1.0",
        description=DESCRIPTION,
        routes=routes,
        webhooks=webhooks.routes,
        servers=[{"url": app.state.settings.base_url}],
    )
    finish_document(document)
    return document


# The headers the server sends, declared once and referenced where they apply.
HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit": {
        "description": "The key's quota left in this window (draft-ietf-httpapi-ratelimit-headers).",
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {"description": "The key's quota policy.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
    "WWW-Authenticate": {
        "description": "How to authenticate (Bearer or Basic).",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response to an earlier request with the same key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string (1 to 255 characters): a retry with the same key and body replays the "
    "first response; kept 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
WEBHOOK_HEADERS = [
    {"name": "webhook-id", "description": "The event's id: deduplicate by it.", "example": "evt_..."},
    {"name": "webhook-timestamp", "description": "Unix seconds when this request was signed."},
    {
        "name": "webhook-signature",
        "description": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, keyed by the base64 part of the "
        "endpoint's `whsec_` secret; several, space-separated, during a secret rotation.",
    },
]


PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def finish_document(document: dict[str, Any]) -> None:
    """What FastAPI does not write by itself: error bodies on `application/problem+json` (the only media type
    the server sends them as), the headers each response carries, `Idempotency-Key` on POSTs, 413 where a
    body is read, and the Standard Webhooks headers on each webhook."""
    document.setdefault("components", {})["headers"] = HEADERS
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            api = path.startswith(API_PREFIX + "/")
            keyed = api or path.startswith("/integrations/")  # every route that counts a key
            if "requestBody" in operation:
                operation["responses"].setdefault(
                    "400",
                    {
                        "description": "The body is not valid JSON.",
                        "content": {"application/problem+json": {"schema": PROBLEM}},
                    },
                )
                operation["responses"].setdefault(
                    "413",
                    {
                        "description": "The body is larger than the server accepts.",
                        "content": {
                            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                        },
                    },
                )
            if method == "post" and api:
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if "application/problem+json" in content:
                    schema = content.pop("application/json", {}).get("schema") or content[
                        "application/problem+json"
                    ].get("schema")
                    content["application/problem+json"] = {"schema": schema}
                headers = response.setdefault("headers", {})
                if keyed and status not in ("400", "401"):  # refused before the key was counted
                    headers["RateLimit"] = _ref("RateLimit")
                    headers["RateLimit-Policy"] = _ref("RateLimit-Policy")
                if status == "429":
                    headers["Retry-After"] = _ref("Retry-After")
                if status == "401":
                    headers["WWW-Authenticate"] = _ref("WWW-Authenticate")
                if method == "post" and api and status.startswith("2"):
                    headers["Idempotent-Replayed"] = _ref("Idempotent-Replayed")
                if not headers:
                    del response["headers"]
    for hook in document.get("webhooks", {}).values():
        operation = hook["post"]
        operation["parameters"] = [
            {"in": "header", "required": True, "schema": {"type": "string"}, **header}
            for header in WEBHOOK_HEADERS
        ]
        operation["responses"].pop("422", None)


docs_router = APIRouter(prefix=API_PREFIX, include_in_schema=False)


@docs_router.get("/openapi.json")
def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(request))


@docs_router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request) -> HTMLResponse:
    """Swagger UI over the document above; its start-up script carries the request's CSP nonce."""
    return templates.TemplateResponse(request, "api_docs.html", {"openapi_url": f"{API_PREFIX}/openapi.json"})

"""The OpenAPI document matches the server: a valid 3.1 document, errors on the media type the server sends
them as, the headers each response carries, and one payload schema per webhook event type that every
event Assay records validates against."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments.service import new_version, publish_assessment
from app.attempts.service import close_attempt, start_attempt
from app.core.config import Settings
from app.invitations.service import (
    cancel_invitation,
    expire_due_invitations,
    resend_invitation,
    send_due_reminders,
)
from app.models import CloseReason, Event, QuestionType, Role, utcnow
from app.questions.service import spec_of
from app.results.service import score_written_answer
from app.webhooks.schemas import EVENT_DATA
from app.webhooks.service import EVENT_TYPES, INVITATION_EVENT_TYPES
from tests import factories
from tests.api.conftest import Api

Document = dict[str, Any]


@pytest.fixture
def document(client: TestClient) -> Document:
    found: Document = client.get("/api/v1/openapi.json").json()
    return found


def _operations(document: Document) -> list[tuple[str, str, Document]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_the_document_is_valid_openapi_3_1(document: Document) -> None:
    validate(document)


def test_operations_are_named_as_a_client_would_call_them(document: Document) -> None:
    names = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(names) == len(set(names)), "operation ids are unique"
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in names), names  # create_invitation
    assert {"create_invitation", "get_result", "send_test", "create_report_link"} <= set(names)


def test_the_changelog_names_every_operation(document: Document) -> None:
    """A new endpoint is announced to integrators: docs/api-changelog.md names it with its method."""
    changelog = (Path(__file__).parents[2] / "docs" / "api-changelog.md").read_text()
    mentioned = set(re.findall(r"`(GET|POST|PATCH|DELETE) (/[^`\s]+)`", changelog))
    shorthand = re.findall(r"`(…/[a-z_]+)`", changelog)  # `…/archive` after a full path
    operations = {(method.upper(), path) for path, method, _ in _operations(document)}
    unnamed = {
        (method, path)
        for method, path in operations - mentioned
        if not (method == "POST" and "/".join(["…", path.rsplit("/", 1)[-1]]) in shorthand)
    }
    assert not unnamed, f"add these to docs/api-changelog.md: {sorted(unnamed)}"


def test_event_types_are_enums_the_server_enforces(document: Document, api: Api) -> None:
    schemas = document["components"]["schemas"]
    every, invitations = list(EVENT_TYPES), INVITATION_EVENT_TYPES
    assert schemas["EndpointCreate"]["properties"]["event_types"]["items"]["enum"] == every
    assert schemas["EndpointUpdate"]["properties"]["event_types"]["anyOf"][0]["items"]["enum"] == every
    assert schemas["InvitationCreate"]["properties"]["callback_events"]["items"]["enum"] == invitations
    (filter_by_type,) = [
        p for p in document["paths"]["/api/v1/events"]["get"]["parameters"] if p["name"] == "type"
    ]
    assert filter_by_type["schema"]["anyOf"][0]["enum"] == every
    refused = api.get("/events", params={"type": "result.eaten"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "type"
    assert api.get("/events", params={"type": "result.scored"}).status_code == 200
    unknown = api.post("/webhook_endpoints", json={"url": "https://h.example.com", "event_types": ["x.y"]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "event_types"


def test_errors_are_declared_as_problem_json_only(document: Document) -> None:
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert set(response.get("content", {})) == {"application/problem+json"}, (
                    path,
                    method,
                    status,
                )
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (path, method, status)


def test_every_header_the_api_sends_is_declared(document: Document) -> None:
    for path, method, operation in _operations(document):
        if not path.startswith("/api/v1/"):
            continue
        for status, response in operation["responses"].items():
            if status not in ("400", "401"):  # refused before the key was counted
                assert {"RateLimit", "RateLimit-Policy"} <= set(response.get("headers", {})), (path, status)
        if "429" in operation["responses"]:
            assert "Retry-After" in operation["responses"]["429"]["headers"]
        if "401" in operation["responses"]:
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        if method == "post":
            assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"]), path
            ok = next(r for s, r in operation["responses"].items() if s.startswith("2"))
            assert "Idempotent-Replayed" in ok["headers"], path
        if "requestBody" in operation:
            assert "413" in operation["responses"], path


def test_each_webhook_event_has_its_own_payload_and_the_signature_headers(document: Document) -> None:
    assert set(document["webhooks"]) == set(EVENT_TYPES) == set(EVENT_DATA)
    schemas = document["components"]["schemas"]
    for event_type, hook in document["webhooks"].items():
        operation = hook["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        payload = schemas[ref.rsplit("/", 1)[1]]
        assert payload["properties"]["type"]["const"] == event_type
        assert {p["name"] for p in operation["parameters"]} == {
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        }
        assert "422" not in operation["responses"]


def test_every_event_assay_records_matches_its_declared_payload(session: Session, settings: Settings) -> None:
    """A whole round: publish, invite, start, finish with a written answer, score it, cancel another,
    replace the assessment: each recorded event validates against its type's schema (no field more)."""
    user, org = factories.owner(session)
    actor = factories.principal(user, org)
    assessment = factories.published_assessment(
        session, org, types=(QuestionType.MCQ_SINGLE, QuestionType.WRITTEN), per_type=1
    )
    done = factories.invitation(session, org, assessment, email="done@example.com").invitation
    attempt = start_attempt(session, done)
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    written = next(i for i in assessment.items if i.question_version.type == QuestionType.WRITTEN)
    rubric = spec_of(written.question_version).rubric  # type: ignore[union-attr]
    reviewer = factories.principal(user, org, Role.OWNER)
    score_written_answer(session, reviewer, done, written.id, {c.id: 0 for c in rubric}, "")
    other = factories.invitation(session, org, assessment, email="other@example.com").invitation
    resend_invitation(session, actor, other, settings=settings)
    cancel_invitation(session, actor, other)
    soon = factories.invitation(session, org, assessment, email="soon@example.com").invitation
    soon.expires_at = utcnow() + timedelta(hours=1)
    send_due_reminders(
        session, before_expiry=timedelta(days=1), secret_key=factories.SECRET_KEY, base_url=settings.base_url
    )
    late = factories.invitation(session, org, assessment, email="late@example.com").invitation
    late.expires_at = utcnow() - timedelta(seconds=1)
    expire_due_invitations(session)
    publish_assessment(session, actor, new_version(session, actor, assessment))
    events = session.scalars(select(Event).where(Event.organization_id == org.id)).all()
    seen = set()
    for event in events:
        EVENT_DATA[event.type].model_validate(event.payload)
        seen.add(event.type)
    # Code comes in with the grader: tests/similarity/test_tasks.py checks `result.flagged` the same way.
    assert seen >= set(EVENT_TYPES) - {"result.scored", "result.flagged"}, sorted(set(EVENT_TYPES) - seen)

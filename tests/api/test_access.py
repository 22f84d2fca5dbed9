"""Every API and partner operation, enumerated from the OpenAPI document: without a key it is 401; a key
without the operation's scope gets 403; another organization's key gets 404 for every object id."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.api.service import SCOPES
from app.models import Organization, QuestionType
from app.webhooks.service import create_endpoint
from tests import factories
from tests.api.conftest import Api, new_key

Operation = tuple[str, str, dict[str, Any]]


def operations(client: TestClient) -> list[Operation]:
    document = client.get("/api/v1/openapi.json").json()
    return [
        (method.upper(), path, op) for path, ops in document["paths"].items() for method, op in ops.items()
    ]


def scope_of(op: dict[str, Any]) -> str | None:
    requirements = op.get("security") or []
    scopes = {s for requirement in requirements for names in requirement.values() for s in names}
    assert len(scopes) <= 1, f"one scope per operation: {op['operationId']}"
    return next(iter(scopes), None)


@pytest.fixture
def objects(session: Session, api: Api, settings: Any) -> dict[str, str]:
    """One object of each kind in the key's organization: path parameter -> id."""
    assessment = factories.published_assessment(
        session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1
    )
    endpoint = create_endpoint(
        session,
        factories.owner_of(session, api.org),
        url="https://hooks.example.com/assay",
        settings=settings,
    )
    issued = factories.invitation(session, api.org, assessment)  # its event makes a delivery to the endpoint
    session.commit()
    delivery = api.get(f"/webhook_endpoints/{endpoint.id}/deliveries").json()["data"][0]
    return {
        "assessment_id": str(assessment.id),
        "candidate_id": str(issued.invitation.candidate_id),
        "invitation_id": str(issued.invitation.id),
        "endpoint_id": str(endpoint.id),
        "delivery_id": str(delivery["id"]),
        "event_id": delivery["event_id"],
        "partner_interview_id": str(issued.invitation.id),
        "partner_test_id": str(assessment.id),
    }


def _url(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


def test_every_operation_names_a_known_scope(client: TestClient) -> None:
    found = {scope_of(op) for _, _, op in operations(client)}
    assert found - {None} == set(SCOPES), "each scope guards something, and nothing else is used"
    unguarded = [(m, p) for m, p, op in operations(client) if scope_of(op) is None]
    assert unguarded == [("POST", "/integrations/greenhouse/response_error")]


def test_without_a_key_every_operation_is_401(client: TestClient) -> None:
    for method, path, _ in operations(client):
        response = client.request(
            method, _url(path, {k: "1" for k in re.findall(r"\{(\w+)\}", path)}), json={}
        )
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert "Bearer" in response.headers["www-authenticate"]


def test_a_key_without_the_scope_is_refused_403(
    client: TestClient, session: Session, org: Organization, objects: dict[str, str]
) -> None:
    for method, path, op in operations(client):
        needed = scope_of(op)
        if needed is None:
            continue
        key = new_key(session, org, [s for s in SCOPES if s != needed])
        response = client.request(
            method, _url(path, objects), headers={"Authorization": f"Bearer {key}"}, json={}
        )
        assert response.status_code == 403, (method, path, response.text)
        assert needed in response.json()["detail"]


def test_another_organizations_key_gets_404_for_every_object(
    client: TestClient, other_api: Api, objects: dict[str, str]
) -> None:
    covered = set(objects) - {"partner_interview_id", "partner_test_id"}
    checked = 0
    for method, path, _ in operations(client):
        params = set(re.findall(r"\{(\w+)\}", path))
        assert params <= covered, f"{path}: add an object for {params - covered} to the fixture"
        if not params:
            continue
        response = client.request(
            method, _url(path, objects), headers={"Authorization": f"Bearer {other_api.key}"}, json={}
        )
        assert response.status_code == 404, (method, path, response.text)
        checked += 1
    assert checked >= 12
    # The partner endpoints take their ids in the query or body.
    rival = {"Authorization": f"Bearer {other_api.key}"}
    status = client.get(
        "/integrations/greenhouse/test_status",
        params={"partner_interview_id": objects["partner_interview_id"]},
        headers=rival,
    )
    assert status.status_code == 404
    sent = client.post(
        "/integrations/greenhouse/send_test",
        json={"partner_test_id": objects["partner_test_id"], "candidate": {"email": "x@example.com"}},
        headers=rival,
    )
    assert sent.status_code == 404
    invite = client.post(
        "/api/v1/invitations",
        json={"assessment_id": int(objects["assessment_id"]), "candidate": {"email": "x@example.com"}},
        headers=rival,
    )
    assert invite.status_code == 404

"""Test keys (`ak_test_…`) build an integration on test data kept apart from live: everything they make, a
live key and Assay's pages never see, and the other way round; their candidates get no email. Keys may
expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api import service as keys
from app.api.service import SCOPES, create_api_key
from app.core.errors import ValidationFailed
from app.models import DeliveryStatus, EmailMessage, Organization, QuestionType, utcnow
from tests import factories
from tests.api.conftest import Api
from tests.forms import sign_in


def _test_api(client: TestClient, session: Session, org: Organization) -> Api:
    _, key = create_api_key(
        session, factories.operator(session, org), name="build", scopes=list(SCOPES), test=True
    )
    session.commit()
    assert key.startswith("ak_test_")
    return Api(client, key, org)


def test_a_test_key_works_on_test_data_that_live_never_sees(
    api: Api, client: TestClient, session: Session
) -> None:
    live_assessment = factories.published_assessment(
        session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1
    )
    live = api.post(
        "/invitations", json={"assessment_id": live_assessment.id, "candidate": {"email": "real@example.com"}}
    ).json()
    test = _test_api(client, session, api.org)

    # The test key sees none of the live data, and builds its own.
    assert test.get("/invitations").json()["data"] == [] and test.get("/assessments").json()["data"] == []
    assert test.get(f"/invitations/{live['id']}").status_code == 404
    assert test.get(f"/assessments/{live_assessment.id}").status_code == 404
    questions = [q["id"] for q in test.get("/questions", params={"type": "mcq_single"}).json()[:2]]
    draft = test.post("/assessments", json={"title": "Integration test", "question_version_ids": questions})
    assert draft.status_code == 201, draft.text
    published = test.post(f"/assessments/{draft.json()['id']}/publish")
    assert published.status_code == 200, published.text
    made = test.post(
        "/invitations",
        json={"assessment_id": published.json()["id"], "candidate": {"email": "real@example.com"}},
    )
    assert made.status_code == 201, made.text
    invitation = made.json()
    assert invitation["candidate_url"] and invitation["candidate"]["id"] != live["candidate"]["id"]

    # No email leaves for test data: it is kept from the start, where a live one waits to be sent.
    mail = session.scalars(
        select(EmailMessage).where(EmailMessage.to_address == "real@example.com").order_by(EmailMessage.id)
    ).all()
    assert [m.status for m in mail] == [DeliveryStatus.PENDING, DeliveryStatus.HELD]
    assert mail[1].next_attempt_at is None

    # Live sees none of it: not the invitation, the candidate, the assessment or the events.
    assert [i["id"] for i in api.get("/invitations").json()["data"]] == [live["id"]]
    assert api.get(f"/invitations/{invitation['id']}").status_code == 404
    assert api.get(f"/candidates/{invitation['candidate']['id']}").status_code == 404
    assert api.get(f"/assessments/{published.json()['id']}").status_code == 404
    live_events = {
        e["data"].get("invitation_id") for e in api.get("/events", params={"limit": 100}).json()["data"]
    }
    assert invitation["id"] not in live_events
    test_events = {
        e["data"].get("invitation_id") for e in test.get("/events", params={"limit": 100}).json()["data"]
    }
    assert test_events == {None, invitation["id"]}
    hook = test.post("/webhook_endpoints", json={"url": "https://build.example.com/hook"})
    assert hook.status_code == 201
    assert api.get(f"/webhook_endpoints/{hook.json()['id']}").status_code == 404

    # Nor do Assay's pages: the owner's dashboard lists the live assessment only.
    sign_in(client, "owner@example.com", factories.PASSWORD)
    dashboard = client.get("/").text
    assert live_assessment.title in dashboard and "Integration test" not in dashboard
    listed = client.get("/api-keys").text
    assert "ak_test_" in listed and ">test<" in listed


def test_an_expired_key_is_refused_and_says_when_it_expired(
    client: TestClient, session: Session, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = factories.operator(session, org)
    with pytest.raises(ValidationFailed):
        create_api_key(
            session, operator, name="x", scopes=["results:read"], expires_at=utcnow() - timedelta(1)
        )
    expires_at = utcnow() + timedelta(days=30)
    _, key = create_api_key(session, operator, name="x", scopes=["invitations:read"], expires_at=expires_at)
    session.commit()
    expiring = Api(client, key, org)
    assert expiring.get("/invitations").status_code == 200
    later = expires_at + timedelta(seconds=1)
    monkeypatch.setattr(keys, "utcnow", lambda: later)
    refused = expiring.get("/invitations")
    assert (
        refused.status_code == 401
        and f"expired on {expires_at:%Y-%m-%d %H:%M} UTC" in refused.json()["detail"]
    )
    basic = client.get("/integrations/greenhouse/list_tests", auth=(key, ""))
    assert basic.status_code == 401

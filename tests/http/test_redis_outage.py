"""A Redis outage degrades, it does not fail: against a Redis of the test's own that it stops and starts
again, the app stays ready (degraded), /metrics still serves the database's backlog and says the broker is
down, the rate limits count in the process instead of answering 500, an ATS creates invitations that exist,
and a recruiter signs in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dramatiq.brokers.redis import RedisBroker
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from app import health
from app.api.service import create_api_key
from app.core.config import Settings
from app.main import create_app
from app.models import Invitation
from tests import factories
from tests.forms import post_form, sign_in
from tests.redis_server import RedisServer


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_on_redis(
    settings: Settings,
    session_factory: sessionmaker[Session],
    redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    """The app as a scaled-out replica sees it: its rate limits, readiness and metrics on this Redis."""
    broker = RedisBroker(url=redis.url)  # type: ignore[no-untyped-call]
    monkeypatch.setattr(health, "job_broker", broker)
    app = create_app(settings.model_copy(update={"broker_url": redis.url}), session_factory=session_factory)
    with TestClient(app, follow_redirects=False) as client:
        yield client
    broker.close()


def _dependency_up(text: str) -> dict[str, float]:
    return {
        sample.labels["dependency"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "assay_dependency_up"
    }


def test_while_redis_is_down_the_app_degrades_and_serves(
    app_on_redis: TestClient, redis: RedisServer, session: Session
) -> None:
    client = app_on_redis
    _, org = factories.owner(session, email="owner@acme.test")
    assessment = factories.published_assessment(session, org, per_type=1)
    _, key = create_api_key(
        session,
        factories.operator(session, org),
        name="ATS",
        scopes=["invitations:write", "invitations:read"],
    )
    session.commit()
    api = {"Authorization": f"Bearer {key}"}

    assert client.get("/readyz").json()["status"] == "ready"
    assert _dependency_up(client.get("/metrics").text) == {"database": 1.0, "broker": 1.0}

    redis.stop()
    ready = client.get("/readyz")
    assert ready.status_code == 200, "a replica stays in service through a Redis blip"
    assert ready.json()["status"] == "degraded" and ready.json()["degraded"] == ["broker"]
    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert _dependency_up(scraped.text) == {"database": 1.0, "broker": 0.0}
    assert "assay_jobs" in scraped.text  # the database's backlog, when monitoring matters most

    created = client.post(
        "/api/v1/invitations",
        json={"assessment_id": assessment.id, "candidate": {"email": "during-outage@example.com"}},
        headers=api,
    )
    assert created.status_code == 201, created.text
    assert "ratelimit-policy" in created.headers  # counted, by this process meanwhile
    assert session.get(Invitation, created.json()["id"]) is not None, "what the ATS was told exists"
    sign_in(client, "owner@acme.test", factories.PASSWORD)  # the sign-in limit counts in the process
    assert client.get("/").status_code == 200

    redis.start()
    assert client.get("/readyz").json()["status"] == "ready"
    assert _dependency_up(client.get("/metrics").text)["broker"] == 1.0


def test_the_local_limit_still_refuses_a_flood_while_redis_is_down(
    app_on_redis: TestClient, redis: RedisServer, settings: Settings
) -> None:
    redis.stop()
    statuses = [
        post_form(app_on_redis, "/login", {"email": "x@example.com", "password": "wrong"}).status_code
        for _ in range(settings.sign_ins_per_minute + 2)
    ]
    assert 500 not in statuses
    assert statuses[-1] == 429

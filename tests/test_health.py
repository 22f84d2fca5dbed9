"""Liveness and readiness."""

from __future__ import annotations

import time

import pytest
from dramatiq.brokers.redis import RedisBroker
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import health
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.jobs.runtime import build_broker
from app.main import create_app
from grader.sandbox import SandboxUnavailable

REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


def test_healthz_and_readyz_when_migrated(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "broker": "embedded", "sandbox": "ok"},
        "degraded": [],
    }


def test_readyz_needs_a_sandbox_where_the_app_grades(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> None:
        raise SandboxUnavailable("bubblewrap is not installed (apt-get install bubblewrap)")

    monkeypatch.setattr(health, "detect_host", missing)
    monkeypatch.setattr(health, "_sandbox_checked", None)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert (
        response.json()["checks"]["sandbox"]
        == "unavailable: " + "bubblewrap is not installed (apt-get install bubblewrap)"
    )
    monkeypatch.setattr(health, "_sandbox_checked", None)


def test_readyz_checks_redis_and_counts_live_workers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_broker = build_broker(REDIS_TEST_URL)
    assert isinstance(redis_broker, RedisBroker)
    redis_broker.client.delete("dramatiq:__heartbeats__")
    redis_broker.client.zadd("dramatiq:__heartbeats__", {"live-worker": time.time() * 1000, "gone": 1.0})
    monkeypatch.setattr(health, "job_broker", redis_broker)
    monkeypatch.setattr(client.app.state.settings, "broker_url", REDIS_TEST_URL)  # type: ignore[attr-defined]
    try:
        checks = client.get("/readyz").json()["checks"]
    finally:
        redis_broker.client.delete("dramatiq:__heartbeats__")
    assert checks["broker"] == "ok" and checks["workers"] == 1 and checks["sandbox"] == "in the workers"

    monkeypatch.setattr(health, "job_broker", build_broker("redis://127.0.0.1:1/0"))
    response = client.get("/readyz")
    assert response.status_code == 200, "degraded, still serving: answers save without Redis"
    assert response.json()["status"] == "degraded" and response.json()["degraded"] == ["broker"]
    assert response.json()["checks"]["broker"].startswith("unreachable: ConnectionError")


def test_readyz_reports_an_unmigrated_database(backend: str, settings_for) -> None:
    settings: Settings = settings_for(backend)
    engine = make_engine(settings)
    with TestClient(create_app(settings, session_factory=make_session_factory(engine))) as client:
        response = client.get("/readyz")
    engine.dispose()
    assert response.status_code == 503
    assert "run `assay db upgrade`" in response.json()["checks"]["migrations"]


def test_readyz_reports_an_unreachable_database() -> None:
    settings = Settings(_env_file=None, database_url="postgresql://postgres@127.0.0.1:1/none")  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable")


def test_unknown_pages_and_api_paths_get_clear_errors(client: TestClient, session: Session) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "There is nothing at this address." in page.text
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    assert api.json()["status"] == 404

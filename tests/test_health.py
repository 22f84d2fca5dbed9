"""Liveness and readiness."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.main import create_app


def test_healthz_and_readyz_when_migrated(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


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

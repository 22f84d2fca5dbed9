"""/metrics in Prometheus format: request latency by route, gradings, the backlog read from the database;
request ids in responses and log lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from asgi_correlation_id import correlation_id
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.orm import Session

from app.attempts.service import run_samples
from app.core.logs import logging_config
from tests import factories


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_request_latency_is_labelled_by_route_template(client: TestClient) -> None:
    client.get("/i/some-unknown-token/api/state")
    samples = _samples(client.get("/metrics").text)
    counts = [
        value
        for (name, labels), value in samples.items()
        if name == "http_request_duration_seconds_count" and ("handler", "/i/{token}/api/state") in labels
    ]
    assert counts and counts[0] >= 1, "the route's template, not the token, labels the series"
    assert not any("some-unknown-token" in str(labels) for _, labels in samples)


def test_the_backlog_and_gradings_are_counted(
    client: TestClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    attempt, item = factories.coding_attempt(session)
    run = run_samples(session, attempt, item.id, "x = 1", grace=timedelta(seconds=30), per_minute=5)
    session.commit()
    queued = frozenset({("kind", "grading"), ("status", "queued")})
    before = _samples(client.get("/metrics").text)
    assert before[("assay_jobs", queued)] >= 1
    assert before[("assay_job_oldest_age_seconds", queued)] >= 0

    def verdict_count(samples: dict, verdict: str) -> float:  # type: ignore[type-arg]
        key = ("assay_grading_verdicts_total", frozenset({("kind", "sample"), ("verdict", verdict)}))
        return samples.get(key, 0.0)

    assert run_jobs() == 1
    session.refresh(run)
    assert run.result is not None
    after = _samples(client.get("/metrics").text)
    assert after[("assay_jobs", queued)] == before[("assay_jobs", queued)] - 1
    assert verdict_count(after, run.result.verdict) == verdict_count(before, run.result.verdict) + 1
    assert after[("assay_grading_seconds_count", frozenset({("kind", "sample")}))] >= 1
    assert after[("assay_sandbox_pool", frozenset({("state", "ready")}))] >= 0


def test_metrics_can_require_a_token(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "metrics_token", SecretStr("scrape-secret"))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).status_code == 200


def test_each_response_carries_a_request_id_that_log_lines_share(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/api/v1/assessments")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    logging.config.dictConfig(logging_config("json"))
    token = correlation_id.set(request_id)  # what the middleware sets while it serves that request
    try:
        logging.getLogger("assay.test").warning("a line of that request")
    finally:
        correlation_id.reset(token)
        root.handlers, root.level = saved_handlers, saved_level  # the JSON handler writes to capsys's stream
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    line = next(entry for entry in lines if entry["message"] == "a line of that request")
    assert line["request_id"] == request_id and line["level"] == "WARNING"
    assert {"time", "logger", "job_id"} <= set(line)
    given = client.get("/healthz", headers={"X-Request-ID": "0" * 32 + "zz"})
    assert given.headers["x-request-id"] != "0" * 32 + "zz", "an id that is not a UUID is replaced"

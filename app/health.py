"""Liveness, readiness and metrics: for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

import hmac
import time
from typing import Any

from dramatiq.brokers.redis import RedisBroker
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from app.core import metrics
from app.core.migrate import current_revision, head_revision
from app.jobs.runtime import broker as job_broker
from grader.sandbox import SandboxUnavailable, detect_host

router = APIRouter(tags=["health"], include_in_schema=False)

# A Dramatiq worker heartbeats every few seconds; one silent this long is gone.
WORKER_SILENT_AFTER_S = 60
SANDBOX_CHECK_TTL_S = 60.0
_sandbox_checked: tuple[float, str] | None = None


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready to serve when the database is reachable and migrated and whoever grades here has a sandbox.
    A broker that does not answer makes the app "degraded", still ready (200): candidates' saves and
    submissions, recruiters' pages and the API work without Redis; gradings, emails and webhooks wait in
    the database and go when it is back. An orchestrator checking this keeps every replica in service
    through a Redis blip. The number of live workers is reported, not required."""
    settings = request.app.state.settings
    checks: dict[str, Any] = {}
    degraded: list[str] = []
    ready = True
    try:
        with request.app.state.session_factory() as session:
            connection = session.connection()
            connection.execute(text("SELECT 1"))
            current, head = current_revision(connection), head_revision()
        checks["database"] = "ok"
        checks["migrations"] = (
            "ok" if current == head else f"at {current}, head is {head}: run `assay db upgrade`"
        )
        ready = current == head
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        ready = False
    if settings.uses_external_broker:
        try:
            job_broker.client.ping()  # type: ignore[attr-defined]
            checks["broker"] = "ok"
            checks["workers"] = _live_workers()
        except Exception as exc:
            checks["broker"] = (
                f"unreachable: {type(exc).__name__}; gradings, emails and webhooks wait in the database"
            )
            degraded.append("broker")
        checks["sandbox"] = "in the workers"
    else:
        checks["broker"] = "embedded"
        checks["sandbox"] = _sandbox_status()
        ready = ready and checks["sandbox"] == "ok"
    status = "not ready" if not ready else "degraded" if degraded else "ready"
    return JSONResponse(
        {"status": status, "checks": checks, "degraded": degraded}, status_code=200 if ready else 503
    )


def _live_workers() -> int:
    now_ms = time.time() * 1000
    client = job_broker.client  # type: ignore[attr-defined]
    return int(client.zcount("dramatiq:__heartbeats__", now_ms - WORKER_SILENT_AFTER_S * 1000, "+inf"))


def _sandbox_status() -> str:
    """Whether this host can start sandboxes (bubblewrap, util-linux, root, an interpreter), rechecked at
    most once a minute."""
    global _sandbox_checked
    now = time.monotonic()
    if _sandbox_checked is None or now - _sandbox_checked[0] > SANDBOX_CHECK_TTL_S:
        try:
            detect_host()
            status = "ok"
        except SandboxUnavailable as exc:
            status = f"unavailable: {exc}"
        _sandbox_checked = (now, status)
    return _sandbox_checked[1]


@router.get("/metrics")
def metrics_page(request: Request) -> Response:
    """Prometheus exposition: request latency by route, gradings, deliveries, the sandbox pool, and the
    backlog read from the database. With ASSAY_METRICS_TOKEN set, scrapers send it as a bearer token."""
    token = request.app.state.settings.metrics_token
    if token is not None:
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
            return PlainTextResponse(
                "send the metrics token as `Authorization: Bearer <token>`\n",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    state = request.app.state
    registries = [metrics.process_registry()]
    if metrics.multiprocess_dir() is None:
        registries.insert(0, state.metrics_registry)  # this process's request metrics
    backlog = CollectorRegistry(auto_describe=False)
    backlog.register(
        metrics.BacklogCollector(
            state.session_factory, job_broker if isinstance(job_broker, RedisBroker) else None
        )
    )
    return Response(metrics.exposition(*registries, backlog), media_type=metrics.CONTENT_TYPE)

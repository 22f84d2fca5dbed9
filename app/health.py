"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    checks: dict[str, Any] = {}
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
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )

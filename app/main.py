"""create_app(): settings, database, routers, pages, error handlers."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app.api.deps import quota_headers
from app.api.router import docs_router as api_docs_router
from app.api.router import partner_router
from app.api.router import router as api_router
from app.attempts.candidate_api import MAX_BODY_BYTES as CANDIDATE_MAX_BODY_BYTES
from app.attempts.candidate_api import router as candidate_api_router
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_session_factory
from app.core.errors import AppError, FieldError, Unauthenticated, problem_for, problem_response
from app.core.rate_limits import RateLimits
from app.health import router as health_router
from app.http.body_limit import BodyLimitMiddleware
from app.http.idempotency import IdempotencyMiddleware
from app.http.security_headers import SecurityHeadersMiddleware
from app.web.csrf import CsrfCookieMiddleware
from app.web.pages import templates
from app.web.routes import router as web_router
from app.worker import AppJobs

log = logging.getLogger("assay")
STATIC_DIR = Path(__file__).parent / "web" / "static"


def _is_api(request: Request) -> bool:
    """The REST API, the partner integrations, the candidate page's JSON endpoints (/i/{token}/api/…) and any
    page's script asking for JSON (a recruiter's preview run)."""
    path = request.url.path
    return (
        path.startswith(("/api/", "/integrations/"))
        or (path.startswith("/i/") and "/api/" in path)
        or request.headers.get("accept", "").startswith("application/json")
    )


def _error_page(request: Request, status: int, title: str, detail: str, errors: list[FieldError]) -> Response:
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status": status,
            "title": title,
            "detail": detail,
            "errors": errors,
            # A candidate's link: spoken to a candidate, with no status code and no way to Assay's sign-in.
            "for_candidate": request.url.path.startswith("/i/"),
        },
        status_code=status,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        if isinstance(exc, Unauthenticated) and not _is_api(request) and request.method == "GET":
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if _is_api(request):
            return with_quota(request, problem_for(exc))
        response = _error_page(request, exc.status_code, exc.title, exc.message, exc.errors)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            FieldError(
                ".".join(str(p) for p in err["loc"] if p not in ("body", "query", "path", "form")), err["msg"]
            )
            for err in exc.errors()
        ]
        detail = "The request has invalid or missing fields."
        if _is_api(request):
            return with_quota(request, problem_response(422, "Invalid input", detail, errors))
        return _error_page(request, 422, "Please check what you entered", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title, detail = {
            400: ("Malformed request", "The body could not be read as JSON."),
            404: ("Not found", "There is nothing at this address."),
            405: ("Method not allowed", f"This address does not answer {request.method}; see `Allow`."),
            413: (
                "Request too large",
                f"The request body is larger than this address accepts ({exc.detail}).",
            ),
        }.get(exc.status_code, ("Request failed", str(exc.detail)))
        if _is_api(request):
            response = with_quota(request, problem_response(exc.status_code, title, detail, []))
        else:
            response = _error_page(request, exc.status_code, title, detail, [])
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # every method the address answers (Starlette names one route's)
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        incident = correlation_id.get() or uuid.uuid4().hex  # the request id, so the log line is found
        log.exception("unhandled error (incident %s) on %s %s", incident, request.method, request.url.path)
        detail = f"Something went wrong on our side. Nothing you saved was lost. Incident {incident}."
        if _is_api(request):
            return problem_response(500, "Internal error", detail, [], incident=incident)
        return _error_page(request, 500, "Internal error", detail, [])


MAX_BODY_BYTES = 2 * 1024 * 1024


def allowed_methods(request: Request) -> list[str]:
    """The methods some route answers at this request's path (for `Allow`, RFC 9110)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.methods and route.path and compile_path(route.path)[0].match(request.url.path):
            methods |= set(route.methods)
    return sorted(methods)


def with_quota(request: Request, response: Response) -> Response:
    """An API error answered after the key was counted carries the key's quota, as every response does."""
    window = getattr(request.state, "rate_window", None)
    if window is not None:
        for name, value in quota_headers(window).items():
            response.headers.setdefault(name, value)
    return response


def _body_limit(path: str) -> int:
    return CANDIDATE_MAX_BODY_BYTES if path.startswith("/i/") else MAX_BODY_BYTES


def create_app(
    settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None
) -> FastAPI:
    """Build the app. Tests pass a session factory bound to a connection whose transaction they roll back."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        if session_factory is None:
            engine = make_engine(settings)
            app.state.session_factory = make_session_factory(engine)
        jobs = AppJobs(settings, app.state.session_factory) if settings.run_jobs_in_process else None
        if jobs is not None:
            jobs.start()
        try:
            yield
        finally:
            if jobs is not None:
                jobs.stop()
            if engine is not None:
                engine.dispose()

    app = FastAPI(
        title="Assay",
        version="0.1.0",
        lifespan=lifespan,
        # The API's own document and docs page are at /api/v1/openapi.json and /api/v1/docs.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.rate_limits = RateLimits(settings)
    app.state.metrics_registry = CollectorRegistry()
    app.state.database_slots = asyncio.Semaphore(
        settings.database_pool_size + settings.database_pool_overflow
    )
    if session_factory is not None:
        app.state.session_factory = session_factory
    _install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit_for=_body_limit)
    app.add_middleware(CsrfCookieMiddleware, secure=settings.environment == "production")
    Instrumentator(
        registry=app.state.metrics_registry,
        excluded_handlers=["/metrics", "/healthz", "/readyz", "/static/.*"],
    ).instrument(app)
    app.add_middleware(SecurityHeadersMiddleware, production=settings.environment == "production")
    app.add_middleware(CorrelationIdMiddleware)  # outermost: every log line of the request carries its id
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Routes are matched in order, one pattern at a time: the candidate API (autosave, every few seconds per
    # candidate) comes before the many recruiter pages. No path of one router matches another's.
    app.include_router(health_router)
    app.include_router(candidate_api_router)
    app.include_router(web_router)
    app.include_router(api_router)
    app.include_router(partner_router)
    app.include_router(api_docs_router)
    return app

"""The one error tree. Services raise these; one handler turns them into a response.

    AppError                  500  base; never raised directly
    ├── BadRequest            400
    ├── Unauthenticated       401  no or bad credentials
    ├── Forbidden             403  signed in, but the role or scope does not allow it
    ├── NotFound              404  also for objects of another organization: their existence is not revealed
    ├── Conflict              409  the object is in a state that forbids this (e.g. editing a published item)
    ├── Gone                  410  an invitation link that expired, was cancelled or already used
    ├── ValidationFailed      422  input rejected; `errors` lists each field at fault
    └── RateLimited           429  slow down; `retry_after` seconds

API paths (/api/…) answer with RFC 9457 problem+json; pages render error.html with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}


class AppError(Exception):
    status_code = 500
    title = "Internal error"

    def __init__(
        self, message: str, *, errors: list[FieldError] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}


class BadRequest(AppError):
    status_code = 400
    title = "Bad request"


class Unauthenticated(AppError):
    status_code = 401
    title = "Sign-in required"


class Forbidden(AppError):
    status_code = 403
    title = "Not allowed"


class NotFound(AppError):
    status_code = 404
    title = "Not found"


class Conflict(AppError):
    status_code = 409
    title = "Conflict"


class Gone(AppError):
    status_code = 410
    title = "No longer available"


class ValidationFailed(AppError):
    status_code = 422
    title = "Invalid input"


class RateLimited(AppError):
    status_code = 429
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, headers={**(headers or {}), "Retry-After": str(retry_after)})
        self.retry_after = retry_after


class Busy(AppError):
    """Every database connection this process has is in use and stayed so: nothing was changed, and the
    request may simply be sent again."""

    status_code = 503
    title = "Busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


def problem_response(
    status: int, title: str, detail: str, errors: list[FieldError] | None = None, **extra: Any
) -> JSONResponse:
    """RFC 9457 problem details: `errors` names each field at fault."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def problem_for(exc: AppError) -> JSONResponse:
    response = problem_response(exc.status_code, exc.title, exc.message, exc.errors)
    response.headers.update(exc.headers)
    return response

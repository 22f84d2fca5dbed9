"""What every API endpoint shares: strict request bodies, list pages, cursors and the error document."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.core.db import refuse_unstorable_text
from app.core.errors import AppError
from app.core.ids import MAX_ID

T = TypeVar("T")
R = TypeVar("R")


def _email(value: str) -> str:
    try:
        validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http:// or https:// URL with a host")
    return value


# What the server checks, said in the schema too, so clients generated from it know.
EmailAddress = Annotated[
    str, Field(min_length=3, max_length=320, json_schema_extra={"format": "email"}), AfterValidator(_email)
]
HttpUrl = Annotated[
    str,
    Field(max_length=2000, pattern=r"^https?://", json_schema_extra={"format": "uri"}),
    AfterValidator(_http_url),
]


class RequestBody(BaseModel):
    """A request body: a field the endpoint does not know is an error (422), not silently ignored, so a
    typo in an integration shows at once."""

    model_config = ConfigDict(extra="forbid")

    _storable = model_validator(mode="before")(refuse_unstorable_text)


class ListQuery(BaseModel):
    """Cursor pagination as Stripe does it: newest first; `starting_after` is the id of the last object of
    the page already read. Objects created meanwhile have higher ids, so pages never shift under inserts."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100, description="How many objects to return, 1 to 100.")
    starting_after: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="An object id from the previous page; the next page starts after it.",
    )


class Page(BaseModel, Generic[T]):
    object: str = "list"
    data: list[T]
    has_more: bool = Field(description="Whether another page follows; pass the last id as `starting_after`.")


def fetch_page(
    session: Session, stmt: Select[R], id_column: InstrumentedAttribute[int], query: ListQuery
) -> tuple[list[R], bool]:
    """One page of `stmt`'s rows, newest first, and whether more follow."""
    if query.starting_after is not None:
        stmt = stmt.where(id_column < query.starting_after)
    rows = list(session.scalars(stmt.order_by(id_column.desc()).limit(query.limit + 1)))
    return rows[: query.limit], len(rows) > query.limit


class ProblemField(BaseModel):
    field: str = Field(description="Dotted path of the field at fault, e.g. `candidate.email`.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, sent as `application/problem+json`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemField] | None = Field(default=None, description="Each field at fault (422).")
    incident: str | None = Field(default=None, description="Quote it to support (500).")


def problem_of(exc: AppError) -> Problem:
    """The problem document of a refusal, as a value (for results that hold one per row)."""
    errors = [ProblemField(field=e.field, message=e.message) for e in exc.errors] or None
    return Problem(title=exc.title, status=exc.status_code, detail=exc.message, errors=errors)


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {"application/problem+json": {}}}


# Documented on every API operation; each is a Problem document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("The API key is missing, malformed, revoked or unknown."),
    403: _problem("The key lacks the scope this endpoint needs."),
    404: _problem("No such object in the key's organization."),
    409: _problem("The object's state forbids this, or an identical idempotent request is in progress."),
    422: _problem("Invalid input: unknown fields, wrong types or values; `errors` lists each one."),
    429: _problem("Rate limit exceeded; see `Retry-After` and `RateLimit`."),
}

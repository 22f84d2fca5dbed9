"""The log configuration `assay serve` and `assay worker` use: JSON lines, with link secrets taken out."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.logs import logging_config, redact


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"PUT /i/Zm9vYmFy-_x/api/answers/3 HTTP/1.1" 200', '"PUT /i/[redacted]/api/answers/3 HTTP/1.1" 200'),
        ("GET /i/abcDEF123", "GET /i/[redacted]"),
        ("/password/reset/tok_en?x=1", "/password/reset/[redacted]?x=1"),
        ("/join/AbC-1#frag", "/join/[redacted]#frag"),
        ("/invitations/12 and /api/v1/items/3", "/invitations/12 and /api/v1/items/3"),
    ],
)
def test_link_secrets_are_redacted_from_paths(line: str, expected: str) -> None:
    assert redact(line) == expected


@contextmanager
def served_logging() -> Iterator[io.StringIO]:
    """Logging configured as `assay serve` does, written to a string."""
    stream = io.StringIO()
    config = logging_config("json")
    config["handlers"]["stderr"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
        logging.getLogger().handlers.clear()


def test_access_lines_and_error_reports_are_logged_without_the_secret() -> None:
    with served_logging() as stream:
        access = logging.getLogger("uvicorn.access")
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/i/SECRETtoken123/attempt", "1.1", 200)
        logging.getLogger("app.main").error("unhandled error on %s %s", "PUT", "/join/SECRETtoken456")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        '127.0.0.1:1 - "GET /i/[redacted]/attempt HTTP/1.1" 200',
        "unhandled error on PUT /join/[redacted]",
    ]
    assert "SECRETtoken" not in stream.getvalue()


def test_a_failed_statement_is_logged_without_the_values_it_carried(session: Session) -> None:
    secret = "whsec_" + "s3cr3t" * 6
    statement = text("INSERT INTO organizations (name, slug, created_at) VALUES (:v, :v, CURRENT_TIMESTAMP)")
    session.execute(statement, {"v": secret})
    with served_logging() as stream:
        try:
            session.execute(statement, {"v": secret})
        except IntegrityError as exc:
            logging.getLogger("app.main").exception("unhandled error: %s", exc)
    (line,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert "IntegrityError" in line["exc_info"] and "INSERT INTO organizations" in line["exc_info"]
    assert secret not in stream.getvalue()

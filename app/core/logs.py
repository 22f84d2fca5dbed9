"""Logging for `assay serve` and `assay worker`: one JSON object a line (or plain text), each carrying the
request id of the HTTP request it belongs to (X-Request-ID, echoed in the response) or the Dramatiq message
id of the job it belongs to, so one request or one job can be followed through every process."""

from __future__ import annotations

import logging
import logging.config
import re
from typing import Any, Literal

from asgi_correlation_id import CorrelationIdFilter
from dramatiq.middleware import CurrentMessage

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s%(job_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s %(job_id)s"


# Paths whose next segment is a bearer secret: a candidate's link, a password reset, a teammate's invitation.
SECRET_IN_PATH = re.compile(r"(/i/|/password/reset/|/join/)[^/\s?#\"']+")
# PostgreSQL explains a failed statement with the row's values ("Key (x)=(…) already exists", "Failing row
# contains (…)"), whatever columns they come from.
ROW_VALUES = re.compile(r"DETAIL:[^\n]*")


def redact(text: str) -> str:
    return ROW_VALUES.sub(
        "DETAIL:  [withheld: it quotes the row's values]", SECRET_IN_PATH.sub(r"\1[redacted]", text)
    )


class RedactSecretsFilter(logging.Filter):
    """Access lines and error reports name the request's path, and some paths carry a link's secret; database
    errors quote values. The log keeps the path and the error, not the secret (whoever reads logs must not be
    able to open a candidate's attempt). Bound parameters are kept out by the engine (`hide_parameters`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(str(a)) if isinstance(a, str | BaseException) else a for a in record.args
            )
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None  # formatters fall back to the redacted text
        return True


class JobIdFilter(logging.Filter):
    """The id of the Dramatiq message being processed on this thread, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = CurrentMessage.get_current_message()
        record.job_id = f"{message.actor_name}:{message.message_id}" if message is not None else ""
        return True


def logging_config(log_format: Literal["json", "text"], level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for the root logger and uvicorn's loggers (access lines get the request id too)."""
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "correlation_id": "request_id",
            },
        }
        if log_format == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": CorrelationIdFilter, "default_value": ""},
            "job_id": {"()": JobIdFilter},
            "redact_secrets": {"()": RedactSecretsFilter},
        },
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id", "job_id", "redact_secrets"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "dramatiq")
        },
    }


def configure_logging(log_format: Literal["json", "text"]) -> None:
    logging.config.dictConfig(logging_config(log_format))

"""Logging for `assay serve` and `assay worker`: one JSON object a line (or plain text), each carrying the
request id of the HTTP request it belongs to (X-Request-ID, echoed in the response) or the Dramatiq message
id of the job it belongs to, so one request or one job can be followed through every process."""

from __future__ import annotations

import logging
import logging.config
from typing import Any, Literal

from asgi_correlation_id import CorrelationIdFilter
from dramatiq.middleware import CurrentMessage

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s%(job_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s %(job_id)s"


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
        },
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id", "job_id"],
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

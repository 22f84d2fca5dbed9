"""Greenhouse's request and response bodies. Greenhouse may add fields or send nulls at any time, so
requests ignore what they do not know and ids are accepted as numbers or strings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from app.core.db import refuse_unstorable_text


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")

    _storable = model_validator(mode="before")(refuse_unstorable_text)


class TestOut(BaseModel):
    partner_test_id: str
    partner_test_name: str


class GreenhouseCandidate(Lenient):
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)
    preferred_name: str | None = Field(default=None, max_length=120)
    email: str = Field(max_length=320)
    greenhouse_profile_url: str | None = Field(default=None, max_length=2000)
    resume_url: str | None = Field(default=None, max_length=2000)
    phone_number: str | None = Field(default=None, max_length=100)


class SendTestIn(Lenient):
    partner_test_id: StrictStr | StrictInt  # a boolean is not an id
    candidate: GreenhouseCandidate
    sent_by: str | None = Field(default=None, max_length=320)
    url: str | None = Field(default=None, max_length=2000, description="Greenhouse's callback URL.")


class SendTestOut(BaseModel):
    partner_interview_id: str


class TestStatusOut(BaseModel):
    partner_status: str = Field(
        description="`complete` once the result is in; otherwise the invitation's state."
    )
    partner_profile_url: str | None = None
    partner_score: float | None = Field(default=None, description="Percent of the points, 0 to 100.")
    metadata: dict[str, str] | None = None


class ResponseErrorIn(Lenient):
    model_config = ConfigDict(extra="allow")

    partner_interview_id: StrictStr | StrictInt | None = None
    errors: Any = None

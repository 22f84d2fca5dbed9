"""What the attempt page and the server say to each other while a candidate works."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.db import refuse_unstorable_text


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _storable = model_validator(mode="before")(refuse_unstorable_text)


class SaveRequest(_Body):
    client_id: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="Random id of the browser tab that saves")
    ]
    seq: Annotated[int, Field(ge=1, le=2**53, description="The tab's save counter; only grows")]
    value: Annotated[
        dict[str, Any],
        Field(
            description='{"choice": id} | {"choices": [ids]} | {"number": "1.5"} | {"text": "..."} | '
            '{"source": "..."}'
        ),
    ]


class AnswerState(BaseModel):
    item_id: int
    revision: int
    value: dict[str, Any]
    saved_at: datetime
    flagged: bool


class SaveResponse(AnswerState):
    applied: bool = Field(description="False when this tab had already saved something newer for the item")
    server_now: datetime


class FlagRequest(_Body):
    flagged: bool


class AttemptState(BaseModel):
    """Everything a reloaded page (or another device) needs to show exactly what was acknowledged."""

    server_now: datetime
    deadline_at: datetime
    remaining_s: float
    closed: bool
    answers: list[AnswerState]


SignalKind = Literal[
    "page_hidden", "page_visible", "window_blur", "window_focus", "paste", "item_shown", "page_load"
]


class Signal(_Body):
    kind: SignalKind
    client_at: datetime
    item_id: int | None = None
    length: Annotated[int | None, Field(ge=0, le=10_000_000, description="Characters pasted")] = None
    navigation: Annotated[
        Literal["navigate", "reload", "back_forward", "prerender"] | None,
        Field(description="For page_load: how the page was opened (the Navigation Timing type)"),
    ] = None


class SignalBatch(_Body):
    signals: Annotated[list[Signal], Field(min_length=1, max_length=100)]


class RunRequest(_Body):
    source: Annotated[str, Field(description="The code to run against the sample cases (saved or not)")]


class SubmissionView(BaseModel):
    """A code run as the candidate may see it: all of a sample run; of a final submission, the aggregate
    only, and only when the assessment shows scores to candidates."""

    id: int
    kind: Literal["sample", "final"]
    status: Literal["queued", "running", "done", "failed"]
    result: dict[str, Any] | None = None
    error: str | None = None


class PreviewRequest(_Body):
    text: Annotated[str, Field(max_length=20_000)]


class PreviewResponse(BaseModel):
    html: str

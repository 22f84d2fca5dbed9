"""Coding: a grader task's statement and starter code; the final submission is graded in the sandbox."""

from __future__ import annotations

from typing import Any

from app.models import QuestionType
from app.questions.kinds.base import Draw, Kind, ScoredBy, Value, clean_text
from app.questions.spec import Coding
from grader import get_task

MAX_SOURCE_CHARS = 50_000


class CodingKind(Kind[Coding]):
    type = QuestionType.CODING
    label = "coding"
    scored_by = ScoredBy.GRADER

    def extras(self, spec: Coding) -> dict[str, Any]:
        return {"task": get_task(spec.task)}

    def blank(self, spec: Coding) -> Value:
        return {"source": get_task(spec.task).starter}

    def clean(self, spec: Coding, raw: Value, field: str) -> Value:
        return {"source": clean_text(raw.get("source"), field, MAX_SOURCE_CHARS)}

    def from_form(self, values: list[str]) -> Value:
        return {"source": values[0] if values else ""}

    def is_answered(self, value: Value) -> bool:
        return bool((value.get("source") or "").strip())

    def report(self, spec: Coding, value: Value, draw: Draw) -> dict[str, Any]:
        return {"answered": self.is_answered(value)}


CODING = CodingKind()

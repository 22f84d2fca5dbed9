"""Written: free text (Markdown), scored by a person against the question's rubric."""

from __future__ import annotations

from typing import Any

from app.models import QuestionType
from app.questions.kinds.base import Draw, Kind, ScoredBy, Value, clean_text
from app.questions.spec import Written

MAX_TEXT_CHARS = 20_000


class WrittenKind(Kind[Written]):
    type = QuestionType.WRITTEN
    label = "written"
    scored_by = ScoredBy.PERSON

    def clean(self, spec: Written, raw: Value, field: str) -> Value:
        return {"text": clean_text(raw.get("text"), field, MAX_TEXT_CHARS)}

    def from_form(self, values: list[str]) -> Value:
        return {"text": values[0] if values else ""}

    def is_answered(self, value: Value) -> bool:
        return bool((value.get("text") or "").strip())

    def report(self, spec: Written, value: Value, draw: Draw) -> dict[str, Any]:
        return {
            "answered": self.is_answered(value),
            "text": value.get("text") or "",
            "rubric": [c.model_dump() for c in spec.rubric],
            "explanation": spec.reference_answer,
        }


WRITTEN = WrittenKind()

"""Multiple choice (one answer) and multiple answer (any number): options shown in a per-candidate order."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Generic

from app.core.errors import FieldError, ValidationFailed
from app.models import QuestionType
from app.questions.kinds.base import Draw, Kind, Spec, Value
from app.questions.spec import McqMulti, McqSingle, Option


@dataclass(frozen=True)
class OptionLine:
    """An option as the report shows it."""

    id: str
    text: str
    correct: bool
    chosen: bool
    explanation: str
    misconception: str | None = None


def option_order(draw: Draw, option_ids: list[str]) -> list[str]:
    """Per-attempt, stable order: a reload shows the same order, two candidates rarely share one."""
    if not draw.shuffle_options:
        return option_ids
    shuffled = list(option_ids)
    random.Random(f"{draw.seed}:{draw.item_id}").shuffle(shuffled)  # noqa: S311 - ordering, not security
    return shuffled


class _Choice(Kind[Spec], Generic[Spec]):
    def options(self, spec: Spec, draw: Draw) -> list[Option]:
        by_id = {o.id: o for o in spec.options}  # type: ignore[union-attr]
        return [by_id[i] for i in option_order(draw, list(by_id))]

    def chosen(self, value: Value) -> set[str]:
        raise NotImplementedError

    def report(self, spec: Spec, value: Value, draw: Draw) -> dict[str, Any]:
        chosen = self.chosen(value)
        lines = [
            OptionLine(o.id, o.text, o.correct, o.id in chosen, o.explanation, o.misconception)
            for o in self.options(spec, draw)
        ]
        return {"answered": bool(chosen), "options": lines}


def _unknown(field: str, what: str) -> ValidationFailed:
    return ValidationFailed("Unknown option.", errors=[FieldError(field, what)])


class SingleChoice(_Choice[McqSingle]):
    type = QuestionType.MCQ_SINGLE
    label = "multiple choice"

    def clean(self, spec: McqSingle, raw: Value, field: str) -> Value:
        choice = raw.get("choice")
        if choice in (None, ""):
            return {"choice": None}
        if not isinstance(choice, str) or choice not in {o.id for o in spec.options}:
            raise _unknown(field, f"{str(choice)[:40]!r} is not an option")
        return {"choice": choice}

    def from_form(self, values: list[str]) -> Value:
        return {"choice": (values[0] if values else "") or None}

    def chosen(self, value: Value) -> set[str]:
        choice = value.get("choice")
        return {choice} if choice else set()

    def is_answered(self, value: Value) -> bool:
        return value.get("choice") is not None

    def auto_points(self, spec: McqSingle, value: Value, points: float, draw: Draw) -> float:
        return points if value.get("choice") in spec.correct_ids else 0.0


class MultipleChoice(_Choice[McqMulti]):
    type = QuestionType.MCQ_MULTI
    label = "multiple answer"

    def clean(self, spec: McqMulti, raw: Value, field: str) -> Value:
        choices = raw.get("choices") or []
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise ValidationFailed(
                "Choices must be a list of option ids.", errors=[FieldError(field, "bad type")]
            )
        known = {o.id for o in spec.options}
        unknown = [c for c in choices if c not in known]
        if unknown:
            raise _unknown(field, f"{unknown} are not options")
        return {"choices": sorted(set(choices))}

    def from_form(self, values: list[str]) -> Value:
        return {"choices": values}

    def chosen(self, value: Value) -> set[str]:
        return set(value.get("choices") or [])

    def is_answered(self, value: Value) -> bool:
        return bool(value.get("choices"))

    def auto_points(self, spec: McqMulti, value: Value, points: float, draw: Draw) -> float:
        chosen = self.chosen(value)
        hits = len(chosen & spec.correct_ids)
        false_alarms = len(chosen - spec.correct_ids)
        # Each wrong tick cancels a right one, so ticking everything earns nothing.
        return points * max(0.0, (hits - false_alarms) / len(spec.correct_ids))


SINGLE = SingleChoice()
MULTI = MultipleChoice()

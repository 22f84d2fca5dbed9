"""Numeric: each candidate gets their own numbers (a generator, seeded by the draw) and an answer within the
question's tolerance of the exact value earns the points."""

from __future__ import annotations

from typing import Any

from app.core.errors import FieldError, ValidationFailed
from app.models import QuestionType
from app.questions.generators import fill, generate
from app.questions.kinds.base import Draw, Kind, Value
from app.questions.spec import Numeric

MAX_NUMBER_CHARS = 40


def variant(spec: Numeric, draw: Draw) -> tuple[str, float]:
    """The prompt with this candidate's parameters, and the answer to it."""
    generated = generate(spec.generator, draw.seed, draw.item_id)
    return fill(spec.prompt, generated.params), generated.answer


def allowed_error(spec: Numeric, expected: float) -> float:
    """How far from the exact value an answer may be and still count: the one tolerance rule."""
    return spec.tolerance.abs + spec.tolerance.rel * abs(expected)


def clean_number(field: str, raw: object) -> str | None:
    """A numeric answer is kept as the candidate typed it (so nothing is lost to rounding), once it parses."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = str(raw).strip().replace("\u2212", "-")  # a typographic minus pasted from the prompt
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if len(text) > MAX_NUMBER_CHARS or number != number or number in (float("inf"), float("-inf")):
        raise ValidationFailed(
            "The answer must be a number.", errors=[FieldError(field, f"{text[:20]!r} is not a number")]
        )
    return text


class NumericKind(Kind[Numeric]):
    type = QuestionType.NUMERIC
    label = "numeric"

    def prompt(self, spec: Numeric, draw: Draw) -> str:
        return variant(spec, draw)[0]

    def clean(self, spec: Numeric, raw: Value, field: str) -> Value:
        return {"number": clean_number(field, raw.get("number"))}

    def from_form(self, values: list[str]) -> Value:
        return {"number": (values[0] if values else "").strip() or None}

    def is_answered(self, value: Value) -> bool:
        return value.get("number") is not None

    def auto_points(self, spec: Numeric, value: Value, points: float, draw: Draw) -> float:
        if value.get("number") is None:
            return 0.0
        _, expected = variant(spec, draw)
        return points if abs(float(value["number"]) - expected) <= allowed_error(spec, expected) else 0.0

    def report(self, spec: Numeric, value: Value, draw: Draw) -> dict[str, Any]:
        prompt, expected = variant(spec, draw)
        numeric = {
            "prompt": prompt,
            "given": value.get("number"),
            "expected": expected,
            "allowed": allowed_error(spec, expected),
            "unit": spec.unit,
        }
        return {"answered": self.is_answered(value), "numeric": numeric, "explanation": spec.explanation}


NUMERIC = NumericKind()

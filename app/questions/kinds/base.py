"""What every question kind provides, and the draw that makes an item one candidate's own."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from app.core.errors import FieldError, ValidationFailed
from app.models import AssessmentItem, Attempt, QuestionType
from app.questions.spec import AnyQuestion, Option

Spec = TypeVar("Spec", bound=AnyQuestion)
Value = dict[str, Any]


@dataclass(frozen=True)
class Draw:
    """One candidate's own version of an item, the same on every reload: the attempt's seed and the item fix
    the numbers of a numeric question and the order of a question's options."""

    seed: int
    item_id: int
    shuffle_options: bool = True

    @classmethod
    def of(cls, attempt: Attempt, item: AssessmentItem) -> Draw:
        return cls(attempt.seed, item.id, item.assessment.shuffle_options)


class ScoredBy(enum.Enum):
    AUTOMATICALLY = "automatically"  # when the attempt closes
    PERSON = "a person"  # a recruiter, with the rubric
    GRADER = "the grader"  # the sandboxed grader, on the final submission


class Kind(Generic[Spec]):
    """One question kind: how it is shown, how an answer is checked and stored, when it counts as answered,
    its automatic points, and what the report shows of it. Pages render it with the macros of
    `app/web/templates/kinds/<type>.html`; the attempt page's script with `frontend/src/kinds.js`."""

    type: ClassVar[QuestionType]
    label: ClassVar[str]  # as candidates read it: "multiple choice"
    scored_by: ClassVar[ScoredBy] = ScoredBy.AUTOMATICALLY

    def prompt(self, spec: Spec, draw: Draw) -> str:
        return spec.prompt

    def options(self, spec: Spec, draw: Draw) -> list[Option]:
        return []

    def extras(self, spec: Spec) -> dict[str, Any]:
        """What the kind's question macro needs beyond the spec (a coding task's statement and starter)."""
        return {}

    def blank(self, spec: Spec) -> Value | None:
        """What the page shows before any answer (a coding task's starter code)."""
        return None

    def clean(self, spec: Spec, raw: Value, field: str) -> Value:
        """The answer as stored, checked against the question; ValidationFailed names `field`."""
        raise NotImplementedError

    def from_form(self, values: list[str]) -> Value:
        """The answer from the page's form fields of this item (the no-script path)."""
        raise NotImplementedError

    def is_answered(self, value: Value) -> bool:
        raise NotImplementedError

    def auto_points(self, spec: Spec, value: Value, points: float, draw: Draw) -> float | None:
        """Points earned automatically, or None when someone else scores it (`scored_by`)."""
        return None

    def report(self, spec: Spec, value: Value, draw: Draw) -> dict[str, Any]:
        """The fields of the report's item (app.results.report.ItemReport) this kind fills in."""
        raise NotImplementedError


def clean_text(raw: object, field: str, limit: int) -> str:
    """Free text as stored: a string, bounded, without NUL (never typed; Python refuses it in source)."""
    text = raw or ""
    if not isinstance(text, str):
        raise ValidationFailed("The answer must be text.", errors=[FieldError(field, "bad type")])
    if len(text) > limit:
        raise ValidationFailed(
            "The answer is too long.", errors=[FieldError(field, f"at most {limit} characters")]
        )
    if "\x00" in text:
        raise ValidationFailed(
            "The answer contains a NUL character.", errors=[FieldError(field, "remove the NUL character")]
        )
    return text

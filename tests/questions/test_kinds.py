"""Question kinds have one home each: a module, a template of macros and a script object, and every rule of a
kind is written once (the numeric tolerance, the no-script form, what counts as answered)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, nodes

from app.core.errors import ValidationFailed
from app.models import QuestionType
from app.questions.kinds import KINDS, Draw, ScoredBy, kind_of
from app.questions.kinds.numeric import NUMERIC, allowed_error, variant
from app.questions.service import load_bank
from app.questions.spec import AnyQuestion, Numeric

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "app" / "web" / "templates"
MACROS = {"question", "key", "answer"}


def _bank() -> dict[QuestionType, AnyQuestion]:
    found: dict[QuestionType, AnyQuestion] = {}
    for entry in load_bank().entries:
        found.setdefault(QuestionType(entry.spec.type), entry.spec)
    return found


def test_every_question_type_has_a_kind_a_template_and_a_script_object() -> None:
    assert set(KINDS) == set(QuestionType)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    script = (ROOT / "frontend" / "src" / "kinds.js").read_text()
    for kind in KINDS.values():
        source = (TEMPLATES / "kinds" / f"{kind.type.value}.html").read_text()
        macros = {m.name for m in env.parse(source).find_all(nodes.Macro)}
        imported = {name for i in env.parse(source).find_all(nodes.FromImport) for name in i.names}
        assert macros | {n if isinstance(n, str) else n[1] for n in imported} >= MACROS, kind.type
        assert re.search(rf"^  {kind.type.value}: \{{$", script, re.MULTILINE), f"{kind.type} in kinds.js"


def test_pages_switch_on_no_kind_but_through_the_kinds_templates() -> None:
    """The question, the preview and the report each import the kind's template rather than testing types."""
    for name in ("candidate/_question.html", "preview.html", "result.html"):
        source = (TEMPLATES / name).read_text()
        assert not re.search(r"type\s*(==|!=|in)\s*[\('\"]", source), name
        assert '"kinds/" ~' in source, name


@pytest.mark.parametrize("question_type", list(QuestionType))
def test_what_the_form_sends_is_cleaned_to_what_counts_as_answered(question_type: QuestionType) -> None:
    spec = _bank()[question_type]
    kind = kind_of(question_type)
    empty = kind.clean(spec, kind.from_form([]), "items.1")
    assert not kind.is_answered(empty)
    typed = {
        QuestionType.MCQ_SINGLE: [o.id for o in getattr(spec, "options", [])][:1],
        QuestionType.MCQ_MULTI: [o.id for o in getattr(spec, "options", [])][:2],
        QuestionType.NUMERIC: [" 1.5e3 "],
        QuestionType.WRITTEN: ["Because the batch statistics move."],
        QuestionType.CODING: ["def f():\n    return 1\n"],
    }[question_type]
    value = kind.clean(spec, kind.from_form(typed), "items.1")
    assert kind.is_answered(value)
    assert kind.clean(spec, value, "items.1") == value, "cleaning is idempotent: a stored answer stays as is"


@pytest.mark.parametrize("question_type", [QuestionType.MCQ_SINGLE, QuestionType.MCQ_MULTI])
def test_an_unknown_option_is_refused_with_the_field_named(question_type: QuestionType) -> None:
    kind = kind_of(question_type)
    with pytest.raises(ValidationFailed) as refused:
        kind.clean(_bank()[question_type], kind.from_form(["made-up"]), "items.7")
    assert refused.value.errors[0].field == "items.7"


def test_the_numeric_tolerance_is_one_rule_for_points_and_report() -> None:
    spec = _bank()[QuestionType.NUMERIC]
    assert isinstance(spec, Numeric)
    draw = Draw(seed=11, item_id=3)
    _, expected = variant(spec, draw)
    allowed = NUMERIC.report(spec, {"number": "0"}, draw)["numeric"]["allowed"]
    assert allowed == allowed_error(spec, expected) > 0
    just_inside, just_outside = expected + allowed * 0.999, expected + allowed * 1.001
    assert NUMERIC.auto_points(spec, {"number": repr(just_inside)}, 4.0, draw) == 4.0
    assert NUMERIC.auto_points(spec, {"number": repr(just_outside)}, 4.0, draw) == 0.0


def test_who_scores_each_kind() -> None:
    assert {k.type: k.scored_by for k in KINDS.values()} == {
        QuestionType.MCQ_SINGLE: ScoredBy.AUTOMATICALLY,
        QuestionType.MCQ_MULTI: ScoredBy.AUTOMATICALLY,
        QuestionType.NUMERIC: ScoredBy.AUTOMATICALLY,
        QuestionType.WRITTEN: ScoredBy.PERSON,
        QuestionType.CODING: ScoredBy.GRADER,
    }

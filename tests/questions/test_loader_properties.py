"""Property-based: whatever a question file holds (any bytes, any YAML, a real question with fields broken),
the loader reports problems with a line and a message; it never raises."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.questions.service import DEFAULT_BANK_DIR, Bank, load_bank

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
REAL_QUESTIONS = sorted(DEFAULT_BANK_DIR.glob("*/*.yaml"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def load_one(content: bytes) -> Bank:
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "pack").mkdir()
        (Path(root) / "pack" / "question.yaml").write_bytes(content)
        return load_bank(Path(root))


def assert_reported(bank: Bank) -> None:
    """Exactly one outcome: the question, or problems that each say where and what."""
    assert (len(bank.entries), bool(bank.problems)) in ((1, False), (0, True))
    for problem in bank.problems:
        assert problem.line >= 1 and problem.message.strip()
        assert str(problem).startswith(str(problem.path))


@PROPERTY_SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes(content: bytes) -> None:
    assert_reported(load_one(content))


YAML_CHARACTERS = "ab1\u00e9:-[]{}&*!|>'\"#\n\t ?,%@`"


@PROPERTY_SETTINGS
@given(st.text(alphabet=YAML_CHARACTERS, max_size=120))
def test_any_yaml_shaped_text(content: str) -> None:
    assert_reported(load_one(content.encode()))


@st.composite
def broken_questions(draw: st.DrawFn) -> dict[str, Any]:
    """A real question of the bank with one to three fields removed, replaced by any value, or added."""
    question: dict[str, Any] = yaml.safe_load(draw(st.sampled_from(REAL_QUESTIONS)).read_text())
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(question)) | st.text(min_size=1, max_size=12))
        action = draw(st.sampled_from(["remove", "replace", "replace inside"]))
        if action == "remove":
            question.pop(key, None)
        elif action == "replace inside" and isinstance(question.get(key), list) and question[key]:
            index = draw(st.integers(0, len(question[key]) - 1))
            question[key][index] = draw(json_values)
        else:
            question[key] = draw(json_values)
    return question


@PROPERTY_SETTINGS
@given(broken_questions())
def test_a_real_question_with_broken_fields(question: dict[str, Any]) -> None:
    bank = load_one(yaml.safe_dump(question, allow_unicode=True).encode())
    assert_reported(bank)


def test_every_real_question_loads_alone() -> None:
    """The mutations above start from valid questions, so a problem they cause is the mutation's."""
    for path in REAL_QUESTIONS:
        assert load_one(path.read_bytes()).problems == [], path

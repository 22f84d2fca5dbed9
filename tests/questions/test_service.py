"""The bank on disk, its validation report, and its sync into versioned questions."""

from __future__ import annotations

import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Question, QuestionVersion
from app.questions.service import DEFAULT_BANK_DIR, bank_json_schema, current_versions, load_bank, sync_bank

VALID = """\
uuid: 0d6f3c1e-1111-4a2b-9c3d-000000000001
type: mcq_single
title: A question for tests
topic: normalization-basics
difficulty: 1
roles: [ml-engineer]
points: 1
time_estimate_s: 30
prompt: Pick one.
options:
  - id: a
    text: Right
    correct: true
    explanation: Because.
  - id: b
    text: Wrong
    explanation: Because not.
"""


def write_bank(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pack" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_shipped_bank_is_valid() -> None:
    bank = load_bank(DEFAULT_BANK_DIR)
    assert bank.problems == []
    assert len(bank.entries) >= 7
    assert {e.spec.type for e in bank.entries} >= {"mcq_single", "mcq_multi", "written"}


def test_problems_name_file_line_and_field(tmp_path: Path) -> None:
    write_bank(
        tmp_path,
        {
            "broken.yaml": VALID.replace("difficulty: 1", "difficulty: 7"),
            "no-answer.yaml": VALID.replace("    correct: true\n", "").replace("0001", "0003"),
            "ok.yaml": VALID.replace("0001", "0002"),
        },
    )
    bank = load_bank(tmp_path)
    assert [e.slug for e in bank.entries] == ["ok"]
    rendered = [str(p) for p in bank.problems]
    assert any(
        r.endswith("broken.yaml:5: difficulty: Input should be less than or equal to 3") for r in rendered
    ), rendered
    assert any(
        "no-answer.yaml:11: options:" in r and "exactly one correct option, found 0" in r for r in rendered
    ), rendered


def test_invalid_yaml_and_duplicate_uuids_are_reported(tmp_path: Path) -> None:
    write_bank(tmp_path, {"a.yaml": VALID, "b.yaml": VALID, "c.yaml": "title: [unclosed\n"})
    problems = [str(p) for p in load_bank(tmp_path).problems]
    assert any("b.yaml:1: uuid: duplicate of" in p for p in problems), problems
    assert any("c.yaml" in p and "not valid YAML" in p for p in problems), problems


def test_unknown_fields_are_rejected(tmp_path: Path) -> None:
    write_bank(tmp_path, {"a.yaml": VALID + "colour: blue\n"})
    problems = [str(p) for p in load_bank(tmp_path).problems]
    assert any("colour: Extra inputs are not permitted" in p for p in problems), problems


def test_sync_versions_edits_retires_removed_and_restores(tmp_path: Path, session: Session) -> None:
    root = tmp_path / "bank"
    shutil.copytree(DEFAULT_BANK_DIR, root)
    before = {q.uuid: len(q.versions) for q in session.scalars(select(Question))}

    again = sync_bank(session, load_bank(root))
    assert (again.created, again.new_versions, again.retired) == (0, 0, 0)
    assert again.unchanged == len(before)

    target = root / "batchnorm" / "gamma-beta-purpose.yaml"
    original = target.read_text()
    target.write_text(original.replace("What is the main reason?", "What is the main purpose?"))
    edited = sync_bank(session, load_bank(root))
    assert edited.new_versions == 1
    question = session.scalar(select(Question).where(Question.slug == "gamma-beta-purpose"))
    assert question is not None
    assert [v.number for v in question.versions] == [1, 2]
    assert "main purpose" in question.versions[-1].spec["prompt"]
    assert "main reason" in question.versions[0].spec["prompt"], "old versions are never changed"

    target.write_text(original)
    reverted = sync_bank(session, load_bank(root))
    assert reverted.new_versions == 1 and [v.number for v in question.versions] == [1, 2, 3]

    target.unlink()
    removed = sync_bank(session, load_bank(root))
    assert removed.retired == 1
    assert question.retired_at is not None
    assert question.id not in {v.question_id for v in current_versions(session)}
    assert (
        session.scalar(select(QuestionVersion).where(QuestionVersion.question_id == question.id)) is not None
    )

    target.write_text(original)
    restored = sync_bank(session, load_bank(root))
    assert restored.restored == 1 and question.retired_at is None


def test_sync_refuses_a_bank_with_problems(tmp_path: Path, session: Session) -> None:
    write_bank(tmp_path, {"a.yaml": "uuid: nope\n"})
    with pytest.raises(ValueError, match="validation problems"):
        sync_bank(session, load_bank(tmp_path))


def test_json_schema_covers_every_type_and_accepts_every_shipped_file() -> None:
    schema = bank_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    text = str(schema)
    for kind in ("mcq_single", "mcq_multi", "numeric", "written", "coding"):
        assert kind in text
    for entry in load_bank(DEFAULT_BANK_DIR).entries:
        errors = list(validator.iter_errors(yaml.safe_load(entry.path.read_text())))
        assert not errors, (entry.path, errors[0].message)
    # and the schema refuses what the model refuses
    broken = yaml.safe_load(VALID)
    broken["difficulty"] = 9
    assert list(validator.iter_errors(broken))


NUMERIC = """\
uuid: 0d6f3c1e-1111-4a2b-9c3d-000000000009
type: numeric
title: A numeric question for tests
topic: mean-variance
difficulty: 1
roles: [ml-engineer]
points: 1
time_estimate_s: 30
prompt: "Mean of {{ x }}?"
generator: batch-mean
explanation: Add and divide.
"""

CODING = """\
uuid: 0d6f3c1e-1111-4a2b-9c3d-000000000010
type: coding
title: A coding question for tests
topic: backward
difficulty: 2
roles: [ml-engineer]
points: 5
time_estimate_s: 600
prompt: Write it.
task: bn-backward
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            VALID.replace(
                "    explanation: Because not.", "    correct: true\n    explanation: Because not."
            ),
            "a.yaml:11: options: mcq_single needs exactly one correct option, found 2",
        ),
        (VALID.replace("topic: normalization-basics", "topic: cooking"), "a.yaml:4: topic: Input should be"),
        (VALID.replace("points: 1\n", ""), "a.yaml:1: points: Field required"),
        (
            VALID.replace("    explanation: Because.\n", ""),
            "a.yaml:11: options.0.explanation: Field required",
        ),
        ("uuid: [1, 2\n", "a.yaml:2: not valid YAML"),
        (
            NUMERIC.replace("batch-mean", "batch-median"),
            "a.yaml:10: generator: unknown generator 'batch-median'",
        ),
        (
            NUMERIC.replace("{{ x }}", "{{ y }}"),
            "a.yaml:10: generator: the prompt uses ['y'] but 'batch-mean' provides ['x']",
        ),
        (
            NUMERIC.replace("Mean of {{ x }}?", "Mean?"),
            "a.yaml:10: generator: the prompt must show the candidate's parameters",
        ),
        (
            CODING.replace("bn-backward", "bn-sideways"),
            "a.yaml:10: task: unknown grader task 'bn-sideways'",
        ),
        (
            VALID.replace(
                "    explanation: Because not.\n", "    explanation: Because not.\n    misconception: typo\n"
            ),
            "a.yaml:18: options.1.misconception: unknown diagnosis code 'typo'",
        ),
        (
            VALID.replace(
                "    explanation: Because.\n", "    explanation: Because.\n    misconception: wrong_axis\n"
            ),
            "a.yaml:15: options.0.misconception: a correct option cannot stand for a misconception",
        ),
    ],
    ids=[
        "two_correct_single",
        "unknown_topic",
        "missing_field",
        "missing_explanation",
        "bad_yaml",
        "unknown_generator",
        "placeholder_mismatch",
        "no_placeholders",
        "unknown_task",
        "unknown_misconception",
        "misconception_on_correct_option",
    ],
)
def test_malformed_files_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    write_bank(tmp_path, {"a.yaml": text})
    problems = [str(p) for p in load_bank(tmp_path).problems]
    assert any(expected in p for p in problems), problems


def test_numeric_and_coding_files_validate(tmp_path: Path) -> None:
    write_bank(tmp_path, {"n.yaml": NUMERIC, "c.yaml": CODING})
    bank = load_bank(tmp_path)
    assert bank.problems == [] and {e.spec.type for e in bank.entries} == {"numeric", "coding"}

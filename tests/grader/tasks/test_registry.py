"""What every registered task must offer: a statement and starter that name its functions, seeded hidden
cases, a reference that passes its own cases in the sandbox, and diagnosis codes documented for users."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt

from grader import diagnosis_codes
from grader.reference import batchnorm, fold, normalization, torch_compat, welford
from grader.tasks import TASKS
from tests.grader.tasks.conftest import assert_accepted

README = Path(__file__).resolve().parents[3] / "README.md"


def _reference_as_a_submission() -> str:
    """Every reference kernel in one module, as a candidate would submit it (no imports from Assay)."""
    parts = ["from __future__ import annotations"]
    for module in (batchnorm, normalization, fold, torch_compat, welford):
        source = inspect.getsource(module)
        parts.append(
            re.sub(
                r"^from (__future__|grader)[^\n]*\((?:.|\n)*?\)\n|^from (__future__|grader).*\n",
                "",
                source,
                flags=re.M,
            )
        )
    return "\n".join(parts)


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_statement_renders_and_starter_defines_every_function(task_id: str) -> None:
    task = TASKS[task_id]
    html = MarkdownIt().render(task.statement)
    assert html.startswith("<h3>")
    tree = ast.parse(task.starter)
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    for function in task.functions:
        assert f"<code>{function}" in html, function
        assert function in defined, function


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_hidden_cases_are_reproducible_and_depend_on_the_seed(task_id: str) -> None:
    task = TASKS[task_id]
    first, again, other = task.cases(11), task.cases(11), task.cases(12)
    assert any(c.visible for c in first) and any(not c.visible for c in first)
    assert [c.name for c in first] == [c.name for c in again] == [c.name for c in other]
    for a, b, c in zip(first, again, other, strict=True):
        assert a.arrays.keys() == b.arrays.keys()
        assert all(np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays)
        if not a.visible:
            assert any(not np.array_equal(a.arrays[k], c.arrays[k]) for k in a.arrays), a.name


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_the_reference_passes_its_own_cases(grade_source, task_id: str) -> None:  # type: ignore[no-untyped-def]
    assert_accepted(grade_source(task_id, _reference_as_a_submission(), seed=5))


def test_every_diagnosis_code_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    rows = {line.split("|")[1].strip() for line in readme.splitlines() if line.startswith("| `")}
    missing = sorted(code for code in diagnosis_codes() if f"`{code}`" not in rows)
    assert not missing, f"README's table of diagnosis codes has no line for: {missing}"

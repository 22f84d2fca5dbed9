"""bn-forward-train: correct solutions in several styles pass; each known mistake is named."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from markdown_it import MarkdownIt

from grader import get_task
from grader.reference import batchnorm
from tests.grader.tasks.conftest import assert_accepted, assert_named_first

TASK = "bn-forward-train"

CORRECT = {
    "vectorized": """
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta
""",
    "loops": """
import math
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    n, d = x.shape
    out = np.empty_like(x)
    for j in range(d):
        column = [float(v) for v in x[:, j]]
        mean = sum(column) / n
        var = sum((v - mean) ** 2 for v in column) / n
        for i in range(n):
            out[i, j] = gamma[j] * (column[i] - mean) / math.sqrt(var + eps) + beta[j]
    return out
""",
    "einsum": """
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    n = x.shape[0]
    mean = np.einsum("nd->d", x) / n
    centered = x - mean
    var = np.einsum("nd,nd->d", centered, centered) / n
    return np.einsum("d,nd->nd", gamma / np.sqrt(var + eps), centered) + beta
""",
    "staged_graph": """
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    N = x.shape[0]
    mu = 1.0 / N * np.sum(x, axis=0)
    xmu = x - mu
    sq = xmu ** 2
    var = 1.0 / N * np.sum(sq, axis=0)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    gammax = gamma * xhat
    return gammax + beta
""",
    "std_and_keepdims": """
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mean = np.mean(x, axis=0, keepdims=True)
    std = np.sqrt(np.var(x, axis=0, keepdims=True) + eps)
    return (x - mean) / std * gamma[None, :] + beta[None, :]
""",
}

WRONG = {
    "wrong_axis": """
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta
""",
    "unbiased_variance": """
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) + beta
""",
    "eps_outside_sqrt": """
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(0)) / (np.sqrt(x.var(0)) + eps) + beta
""",
    "unstable_variance": """
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mu = x.mean(0)
    var = (x * x).mean(0) - mu * mu
    return gamma * (x - mu) / np.sqrt(np.maximum(var, 0) + eps) + beta
""",
    "shape_mismatch": """
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    out = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta
    return out[:, :, None]
""",
    "input_mutated": """
import numpy as np
def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    x -= x.mean(0)
    x /= np.sqrt(x.var(0) + eps)
    return gamma * x + beta
""",
}


@pytest.mark.parametrize("style", CORRECT)
def test_correct_solutions_are_accepted_without_diagnosis(grade_source, style: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, CORRECT[style])
    assert_accepted(result)


def test_the_reference_passes_its_own_cases(grade_source) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(
        TASK, inspect.getsource(batchnorm).replace("from __future__ import annotations", "")
    )
    assert result.verdict == "accepted"


@pytest.mark.parametrize("code", WRONG)
def test_each_mistake_is_rejected_and_named_first(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, WRONG[code])
    assert_named_first(result, code)


def test_compile_errors_and_hidden_error_details(grade_source) -> None:  # type: ignore[no-untyped-def]
    broken = grade_source(TASK, "def batchnorm_forward_train(x, gamma, beta, eps=1e-5)\n    return x")
    assert broken.verdict == "compile_error" and broken.score == 0 and "line 1" in broken.cases[0].message
    leaky = grade_source(
        TASK, "def batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n    raise ValueError(repr(x))"
    )
    for case in leaky.cases:
        assert case.status == "runtime_error"
        if case.visible:
            assert "array(" in case.message  # sample tests show everything
        else:
            assert "array(" not in case.message and "hidden" in case.message


def test_sample_cases_show_inputs_and_outputs_and_hidden_cases_show_none(grade_source) -> None:  # type: ignore[no-untyped-def]
    off_by_a_bit = "def batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n    return (x * 1.5, None)"
    result = grade_source(TASK, off_by_a_bit)
    visible = [c for c in result.cases if c.visible]
    hidden = [c for c in result.cases if not c.visible]
    assert visible and hidden
    for case in visible:
        assert case.shown is not None and case.status == "wrong_answer"
        assert case.shown.inputs["x"].startswith("float64[")
        assert case.shown.got["out"] != case.shown.expected["out"]
    assert all(case.shown is None for case in hidden)


def test_hidden_cases_depend_on_the_seed_and_are_reproducible() -> None:
    task = get_task(TASK)
    first, again, other = task.cases(1), task.cases(1), task.cases(2)
    hidden = [c for c in first if not c.visible]
    assert hidden and all(c.visible for c in first[: len(first) - len(hidden)])
    for a, b, c in zip(first, again, other, strict=True):
        np.testing.assert_array_equal(a.arrays["x"], b.arrays["x"])
        if not a.visible:
            assert not np.array_equal(a.arrays["x"], c.arrays["x"])


def test_statement_and_starter() -> None:
    task = get_task(TASK)
    html = MarkdownIt().render(task.statement)
    assert "<h3>" in html and "batchnorm_forward_train" in html and "inside" in html
    compile(task.starter, "starter.py", "exec")

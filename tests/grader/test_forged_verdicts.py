"""Verdicts a candidate cannot forge: whatever the code does to what the grader measures, the verdict, the
failure category and the stored text are the grader's, never the candidate's choice."""

from __future__ import annotations

import re

from grader.tasks import TASKS
from tests.grader.tasks.test_bn_backward import FORWARD

# A backward pass that is simply wrong (all zeros), with a forward pass that counts its calls and, from the
# second on (the gradient check's probes), shifts its output by a huge constant or lowers its precision.
ZERO_BACKWARD = """
calls = [0]

def batchnorm_backward(dout, cache):
    xhat = cache[0]
    return np.zeros_like(dout), np.zeros(dout.shape[1]), np.zeros(dout.shape[1])
"""


def forged_forward(transform: str) -> str:
    honest = FORWARD.replace("def batchnorm_forward(", "def honest_forward(")
    return (
        honest
        + ZERO_BACKWARD
        + f"""
def batchnorm_forward(x, gamma, beta, bn_param):
    calls[0] += 1
    out, cache = honest_forward(x, gamma, beta, bn_param)
    return ({transform} if calls[0] > 1 else out), cache
"""
    )


def test_a_zero_backward_cannot_pass_the_gradient_check_by_inflating_the_forward(grade_source) -> None:  # type: ignore[no-untyped-def]
    for transform in ("out + 1e20", "out * 1e12", "out.astype(np.float16)", "out.astype(np.float32)"):
        result = grade_source("bn-backward", forged_forward(transform))
        check = next(c for c in result.cases if c.name == "gradient_check")
        assert check.status == "wrong_answer", (transform, check)
        assert result.verdict == "rejected", (transform, [(c.name, c.status) for c in result.cases])


LEAKING_FORWARD = """
import numpy as np

def batchnorm_forward(x, gamma, beta, bn_param):
    secret = "_".join(f"{v:.4f}" for v in x.ravel()[:4]).replace(".", "p").replace("-", "m")
    raise {error}
"""
# Each way of getting text out through an error: a class named after the inputs, a message on an error the
# grader reports as its own category, and a plain message.
ERRORS = (
    "type('V' + secret, (Exception,), {})()",
    "MemoryError('V' + secret)",
    "TimeoutError('V' + secret)",
    "ValueError('V' + secret)",
)


def test_hidden_cases_carry_no_text_of_the_candidates_choosing(grade_source) -> None:  # type: ignore[no-untyped-def]
    """An exception's name and message are the candidate's to choose: on hidden cases they could carry the
    hidden inputs into stored results. Whatever the status, a hidden case's message is the grader's."""
    for error in ERRORS:
        result = grade_source("bn-forward", LEAKING_FORWARD.replace("{error}", error))
        visible = [c for c in result.cases if c.visible]
        hidden = [c for c in result.cases if not c.visible]
        assert hidden and visible
        if error.startswith(("type", "ValueError")):  # the samples show the candidate's text: it is theirs
            assert any(re.search(r"Vm?\d", c.message) for c in visible), error
        for case in hidden:
            assert not re.search(r"Vm?\d", case.message), (error, case.status, case.message)
            assert not re.search(r"\d+p\d{4}", case.message), (error, case.status, case.message)


def test_every_task_is_checked_here() -> None:
    assert "bn-backward" in TASKS and "bn-forward" in TASKS

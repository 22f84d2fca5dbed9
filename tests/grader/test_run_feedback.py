"""What a sample run tells the candidate about their own code: where it failed (their lines only, with the
text taken from the source they sent) and what it printed (bounded); and what it never tells: the lines or
the printed output of hidden cases."""

from __future__ import annotations

import pytest

from grader import grade
from grader.output import InvalidOutput
from grader.sandbox import BubblewrapRunner
from grader.sandbox.process import _error_lines

HELPER_FAILS = """import numpy as np

def centre(x):
    print("centring", x.shape)
    return x - x.mean(axis=7)

def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    xc = centre(x)
    return xc, None
"""


def sample_run(runner: BubblewrapRunner, source: str):  # type: ignore[no-untyped-def]
    return grade("bn-forward-train", source, runner=runner, visible_only=True, audience="candidate")


def test_an_error_shows_the_candidates_own_lines_innermost_last_and_what_they_printed(
    runner: BubblewrapRunner,
) -> None:
    result = sample_run(runner, HELPER_FAILS)
    case = result.cases[0]
    assert case.status == "runtime_error"
    assert case.message.startswith("AxisError: axis 7 is out of bounds")
    assert [(t.line, t.function, t.code) for t in case.trace] == [
        (8, "batchnorm_forward_train", "xc = centre(x)"),
        (5, "centre", "return x - x.mean(axis=7)"),
    ]  # NumPy's frames and the harness's are not the candidate's business
    assert result.output is not None
    printed = result.output.stdout.splitlines()
    assert len(printed) == len(result.cases) and all(line.startswith("centring (") for line in printed)
    assert not result.output.truncated


def test_a_final_grading_keeps_neither_lines_nor_output_of_hidden_cases(runner: BubblewrapRunner) -> None:
    result = grade("bn-forward-train", HELPER_FAILS, runner=runner)
    assert result.output is None  # printed hidden inputs would land in stored results
    hidden = [c for c in result.cases if not c.visible]
    assert hidden and all(c.trace == [] and c.shown is None for c in hidden)
    assert all(c.trace for c in result.cases if c.visible)


def test_compile_errors_load_errors_and_timeouts_point_at_their_line(runner: BubblewrapRunner) -> None:
    syntax = sample_run(
        runner, "import numpy as np\n\ndef batchnorm_forward_train(x, gamma, beta, eps=1e-5:\n    pass\n"
    )
    assert syntax.verdict == "compile_error"
    assert [(t.line, t.code) for t in syntax.cases[0].trace] == [
        (3, "def batchnorm_forward_train(x, gamma, beta, eps=1e-5:")
    ]
    loading = sample_run(runner, "import numpy as np\nSCALE = 1 / 0\n")
    assert [(t.line, t.function) for t in loading.cases[0].trace] == [(2, "<module>")]
    stuck = sample_run(
        runner,
        "def batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n    while True:\n        x = x + 0\n",
    )
    assert stuck.cases[0].status == "time_limit_exceeded"
    assert stuck.cases[0].trace and stuck.cases[0].trace[-1].line in (2, 3)


def test_printed_output_is_cut_to_a_readable_length(runner: BubblewrapRunner) -> None:
    result = sample_run(
        runner,
        "import numpy as np\n\ndef batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n"
        "    print('#' * 50_000)\n    return x, None\n",
    )
    assert result.output is not None
    assert result.output.truncated and len(result.output.stdout) <= 4001


FORGED_LINES = """import sys
harness = sys.modules["__main__"]
harness.own_lines = lambda exc: {lines}

def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    raise ValueError("mine")
"""


@pytest.mark.parametrize(
    ("lines", "refused"),
    [
        ("[[999_999, 'made up']]", False),  # a line the source does not have: no text to show
        ("[[1, 'x']] * 6", True),  # more frames than the harness sends
        ("[['1', 'x']]", True),
        ("[[0, 'x']]", True),
        ("[[True, 'x']]", True),
        ("[[1, 2]]", True),
    ],
)
def test_forged_lines_are_refused_or_show_nothing_but_the_candidates_own_source(
    runner: BubblewrapRunner, lines: str, refused: bool
) -> None:
    source = FORGED_LINES.format(lines=lines)
    case = sample_run(runner, source).cases[0]
    if refused:
        assert case.status == "invalid_output", case
        assert case.trace == []
    else:
        assert case.status == "runtime_error"
        assert case.trace == []


def test_the_supervisor_reads_only_short_lists_of_number_and_name() -> None:
    assert _error_lines([[3, "f"], [9, "g" * 500]]) == ((3, "f"), (9, "g" * 100))
    for bad in ("x", [[1]], [[1, "f", 2]], [[-1, "f"]], [[1.0, "f"]], [[1, "f"]] * 6, {"1": "f"}):
        with pytest.raises(InvalidOutput):
            _error_lines(bad)

"""Verdicts a candidate cannot forge: whatever the code does to what the grader measures, the verdict, the
failure category and the stored text are the grader's, never the candidate's choice."""

from __future__ import annotations

import re
import time

import numpy as np

from grader.sandbox import Input, Limits, RunRequest, Step
from grader.tasks import TASKS
from tests.grader.tasks.test_bn_backward import FORWARD, STAGED

STAGED_BACKWARD = STAGED

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


# The speed check, attacked: each of these is fast only by not doing the work on the inputs it is given.
SPEED_ATTACKS = {
    # Computes once, then returns the first answer again (inputs are fresh for every call).
    "memoized": """
_first = []

def batchnorm_backward_alt(dout, cache):
    if not _first:
        _first.append(batchnorm_backward(dout, cache))
    return _first[0]
""",
    # Returns a cheap wrong answer on some calls, hoping only one is checked or the fastest is taken.
    "fast_garbage_sometimes": """
_calls = [0]

def batchnorm_backward_alt(dout, cache):
    _calls[0] += 1
    if _calls[0] % 2 == 0:
        return np.zeros_like(dout), np.zeros(dout.shape[1]), np.zeros(dout.shape[1])
    return batchnorm_backward(dout, cache)
""",
    # Hides its work in a thread (whose CPU time would leave the count when it ends) or in a child process.
    "work_in_a_thread": """
import threading

def batchnorm_backward_alt(dout, cache):
    box = []
    worker = threading.Thread(target=lambda: box.append(batchnorm_backward(dout, cache)))
    worker.start()
    worker.join()
    return box[0]
""",
    # Slow, and stops every clock it can reach.
    "slow_and_stops_the_clocks": """
import time, __main__

def batchnorm_backward_alt(dout, cache):
    for _ in range(12):
        result = batchnorm_backward(dout, cache)
    return result

time.perf_counter = time.process_time = time.monotonic = time.time = lambda: 0.0
__main__.time = time
""",
}


def test_the_speed_check_cannot_be_passed_without_doing_the_work_fast(grade_source) -> None:  # type: ignore[no-untyped-def]
    for name, alt in SPEED_ATTACKS.items():
        result = grade_source("bn-backward-alt", STAGED_BACKWARD + alt)
        speed = next(c for c in result.cases if c.name == "speed_large_input")
        assert speed.status != "passed", (name, speed)
        assert result.verdict != "accepted", name


def test_a_timed_call_is_charged_its_cpu_time_whatever_it_does_to_clocks(runner) -> None:  # type: ignore[no-untyped-def]
    """The supervisor's count: a busy call is charged what it burns, a sleeping one (no work) nothing."""
    busy_function = "def busy(a):\n    n = 0\n    for _ in range(3_000_000):\n        n += 1\n    return n\n"
    source = (
        "import time\n"
        "time.perf_counter = time.process_time = time.monotonic = lambda: 0.0\n"
        + busy_function
        + "def idle(a):\n    time.sleep(0.3)\n    return 0\n"
    )
    steps = [Step("busy", (Input("a0"),), timed=True), Step("idle", (Input("a1"),), timed=True)]
    namespace: dict[str, object] = {}
    exec(compile(busy_function, "busy", "exec"), namespace)  # noqa: S102 - the same function, run here
    started = time.thread_time()
    namespace["busy"](None)  # type: ignore[operator]
    here = time.thread_time() - started
    result = runner.run(RunRequest(source, steps, {"a0": np.zeros(3), "a1": np.zeros(3)}, Limits()))
    busy, idle = result.steps
    assert busy.status == idle.status == "ok" and busy.cpu_s is not None and idle.cpu_s is not None
    assert 0.25 * here < busy.cpu_s < 4 * here, (busy.cpu_s, here)  # another interpreter build may differ
    assert idle.cpu_s < 0.05, idle.cpu_s

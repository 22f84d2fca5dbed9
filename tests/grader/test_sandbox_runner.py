"""The runner's contract with the grader: steps, references, write-backs, isolation between runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from grader.output import Opaque
from grader.sandbox import BubblewrapRunner, Input, Limits, Ref, RunRequest, Step, request_header

LIMITS = Limits(wall_s=5.0, call_timeout_s=2.0, memory_mb=128, output_mb=8)
FORWARD_BACKWARD = """
import numpy as np

def forward(x, gamma, beta, bn_param):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + bn_param.get("eps", 1e-5))
    bn_param["running_mean"] = 0.9 * bn_param["running_mean"] + 0.1 * mu
    return gamma * xhat + beta, (xhat, gamma)

def backward(dout, cache):
    xhat, gamma = cache
    return (dout * xhat).sum(axis=0), dout.sum(axis=0)

class Counter:
    def __init__(self, start):
        self.value = start
    def add(self, n):
        self.value += n
        return self.value
"""


@pytest.fixture(scope="module")
def runner() -> Iterator[BubblewrapRunner]:
    with BubblewrapRunner(warm=2) as r:
        yield r


def test_steps_share_saved_results_and_report_written_back_arguments(runner: BubblewrapRunner) -> None:
    rng = np.random.default_rng(0)
    x, dout = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    gamma, beta = np.ones(3) * 2, np.zeros(3)
    param = {"mode": "train", "eps": 1e-5, "running_mean": Input("rm")}
    request = RunRequest(
        FORWARD_BACKWARD,
        [
            Step(
                "forward", (Input("x"), Input("gamma"), Input("beta"), param), save_as="fwd", report_args=True
            ),
            Step("backward", (Input("dout"), Ref("fwd", (1,)))),
            Step("Counter", (10,), save_as="counter", return_result=False),
            Step("counter.add", (5,)),
        ],
        {"x": x, "gamma": gamma, "beta": beta, "dout": dout, "rm": np.zeros(3)},
        LIMITS,
    )
    result = runner.run(request)
    assert result.status == "ok", result.message
    forward, backward, created, added = result.steps
    out, cache = forward.result
    xhat = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(out, 2 * xhat)
    assert isinstance(cache, tuple) and len(cache) == 2
    assert forward.args_after is not None
    np.testing.assert_allclose(forward.args_after[3]["running_mean"], 0.1 * x.mean(0))
    np.testing.assert_array_equal(forward.args_after[0], x)  # the input was not mutated
    np.testing.assert_allclose(backward.result[0], (dout * xhat).sum(0))
    assert created.result is None and created.status == "ok"
    assert added.result == 15


def test_each_step_gets_fresh_inputs_and_errors_stay_in_their_step(runner: BubblewrapRunner) -> None:
    source = (
        "def mutate(x):\n    x[...] = 0\n    return x\n"
        "def boom(x):\n    raise KeyError('nope')\n"
        "def same(x):\n    return x"
    )
    x = np.arange(4.0)
    result = runner.run(
        RunRequest(
            source, [Step(n, (Input("x"),), report_args=True) for n in ("mutate", "boom", "same")], {"x": x}
        )
    )
    assert [s.status for s in result.steps] == ["ok", "runtime_error", "ok"]
    assert result.steps[0].args_after is not None
    np.testing.assert_array_equal(result.steps[0].args_after[0], np.zeros(4))  # mutation is visible…
    np.testing.assert_array_equal(result.steps[2].result, x)  # …but does not leak into the next step
    assert (result.steps[1].error_type, result.steps[1].error_message) == ("KeyError", "'nope'")


def test_no_state_passes_between_runs(runner: BubblewrapRunner) -> None:
    writer = (
        "import os\nSTATE = []\ndef f():\n    try:\n        open('/tmp/left-behind', 'w').write('x')\n"
        "    except OSError:\n        pass  # read-only: nothing in the sandbox is writable\n"
        "    STATE.append(1)\n"
        "    os.environ['LEAK'] = '1'\n    return len(STATE)"
    )
    reader = "import os\ndef f():\n    return [os.path.exists('/tmp/left-behind'), os.environ.get('LEAK')]"
    assert runner.run(RunRequest(writer, [Step("f")], {})).steps[0].result == 1
    assert runner.run(RunRequest(reader, [Step("f")], {})).steps[0].result == [False, None]
    assert runner.run(RunRequest(writer, [Step("f")], {})).steps[0].result == 1


def test_pool_refills_after_each_single_use(runner: BubblewrapRunner) -> None:
    runner.run(RunRequest("def f():\n    return 1", [Step("f")], {}))
    deadline = time.monotonic() + 20
    while runner.ready_count < runner.warm and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner.ready_count == runner.warm


def test_concurrent_runs_are_independent(runner: BubblewrapRunner) -> None:
    results: dict[int, object] = {}

    def work(n: int) -> None:
        source = f"import numpy as np\ndef f(x):\n    return x * {n}"
        results[n] = (
            runner.run(RunRequest(source, [Step("f", (Input("x"),))], {"x": np.ones(3)})).steps[0].result
        )

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for n in range(1, 7):
        np.testing.assert_array_equal(results[n], np.ones(3) * n)


def test_streams_are_captured_and_capped(runner: BubblewrapRunner) -> None:
    source = "import sys\ndef f():\n    print('out ' * 10)\n    sys.stderr.write('e' * 5000)\n    return None"
    result = runner.run(RunRequest(source, [Step("f")], {}, Limits(stream_kb=1)))
    assert result.stdout.startswith("out out")
    assert len(result.stderr) == 1024 and result.streams_truncated


def test_compile_and_import_errors_are_reported_with_a_line(runner: BubblewrapRunner) -> None:
    broken = runner.run(RunRequest("def f(:\n    pass", [Step("f")], {}))
    assert broken.status == "compile_error" and "line 1" in broken.message
    failing = runner.run(RunRequest("import scipy\ndef f():\n    return 1", [Step("f")], {}))
    assert failing.status == "runtime_error" and "ModuleNotFoundError" in failing.message
    assert [s.status for s in failing.steps] == ["runtime_error"]


def test_objects_that_cannot_leave_are_opaque(runner: BubblewrapRunner) -> None:
    result = runner.run(
        RunRequest("class C:\n    pass\ndef f():\n    return {'c': C(), 'n': 3}", [Step("f")], {})
    )
    assert result.steps[0].result == {"c": Opaque("C"), "n": 3}


def test_requests_are_checked_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="unknown input 'y'"):
        request_header(RunRequest("", [Step("f", (Input("y"),))], {"x": np.zeros(1)}))
    with pytest.raises(TypeError, match="use Input"):
        request_header(RunRequest("", [Step("f", (np.zeros(2),))], {}))


def test_a_run_stopped_midway_names_the_culprit_and_the_steps_to_retry(runner: BubblewrapRunner) -> None:
    # Step 2 ignores the per-call timer, so only the wall limit stops it: step 2 is the culprit, steps 0-1
    # finished (reported, or lost with the batch: "not_run"), step 3 never started.
    source = (
        "import signal\n"
        "def quick(x):\n    return x + 1\n"
        "def stuck(x):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True:\n        pass\n"
    )
    steps = [Step("quick", (Input("x"),)), Step("quick", (Input("x"),)), Step("stuck", (Input("x"),))]
    steps.append(Step("quick", (Input("x"),)))
    result = runner.run(RunRequest(source, steps, {"x": np.zeros(2)}, Limits(wall_s=1.5, call_timeout_s=0.5)))
    assert result.status == "time_limit_exceeded" and "wall time" in result.message
    statuses = [s.status for s in result.steps]
    assert statuses[2] == "time_limit_exceeded"
    assert statuses[3] == "not_run"
    assert all(status in ("ok", "not_run") for status in statuses[:2])
    assert 1.5 <= result.wall_s < 4


def test_a_slow_run_reports_steps_as_they_finish(runner: BubblewrapRunner) -> None:
    source = (
        "import os, time\ndef slow(x):\n    time.sleep(0.05)\n    return x\ndef die(x):\n    os._exit(3)\n"
    )
    steps = [Step("slow", (Input("x"),)) for _ in range(3)] + [Step("die", (Input("x"),))]
    result = runner.run(RunRequest(source, steps, {"x": np.ones(2)}))
    assert result.status == "runtime_error" and "code 3" in result.message
    assert [s.status for s in result.steps] == ["ok", "ok", "ok", "runtime_error"]


def test_two_runners_never_share_a_uid(runner: BubblewrapRunner) -> None:
    # Another process's runner would contend through the same lock files; a second runner here does too.
    with BubblewrapRunner(warm=2) as other:
        deadline = time.monotonic() + 20
        while (other.ready_count < 2 or runner.ready_count < runner.warm) and time.monotonic() < deadline:
            time.sleep(0.05)
        other.run(RunRequest("def f():\n    return 1", [Step("f")], {}))
        assert other.used_uids and runner.used_uids
        live_here = set(runner._uids._held)
        live_there = set(other._uids._held)
        assert live_here and live_there and not (live_here & live_there)

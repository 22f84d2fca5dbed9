"""grade(): run a submission against a task's cases in the sandbox, judge outside, diagnose."""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import cache

import numpy as np

from grader import signatures, speed
from grader.diagnose import AFTER_CAUSES, GENERIC_CODES, diagnose
from grader.result import CaseResult, CaseShown, GradeResult, RunOutput, Timings, TraceLine, Verdict
from grader.sandbox import BubblewrapRunner, Limits, Runner, RunRequest, RunResult, Step, StepOutcome
from grader.tasks import TASKS, Case, Task
from grader.tasks.base import CaseEvaluation
from grader.wording import Audience


class UnknownTask(LookupError):
    """The task id is not one of `list_tasks()`."""


_default_runner: Runner | None = None
_default_warm = 2
_runner_lock = threading.Lock()


def configure_default_runner(*, warm: int) -> None:
    """How many sandboxes the process's pool keeps ready: as many as gradings run at once. Takes effect
    when the pool starts (on the first grading)."""
    global _default_warm
    with _runner_lock:
        _default_warm = warm


def default_runner() -> Runner:
    """One warm pool per process, shared by every call, so a long-running worker never pays start-up."""
    global _default_runner
    with _runner_lock:
        if _default_runner is None:
            _default_runner = BubblewrapRunner(warm=_default_warm)
        return _default_runner


def sandboxes_ready() -> int:
    """Sandboxes started and waiting in this process's pool."""
    runner = _default_runner
    return runner.ready_count if isinstance(runner, BubblewrapRunner) else 0


def list_tasks() -> list[str]:
    return sorted(TASKS)


@cache  # the tasks are fixed at import; question specs check option tags against this on every load
def diagnosis_codes() -> frozenset[str]:
    """Every diagnosis code grade() can report: each task's named mistakes, what signatures read, and the
    generic findings."""
    codes = frozenset(m.code for task in TASKS.values() for m in task.all_mistakes)
    return codes | frozenset(signatures.MESSAGES) | GENERIC_CODES | AFTER_CAUSES


def get_task(task_id: str) -> Task:
    try:
        return TASKS[task_id]
    except KeyError:
        raise UnknownTask(f"unknown task {task_id!r} (known tasks: {', '.join(list_tasks())})") from None


def _run_cases(
    task: Task, cases: Sequence[Case], source: str, limits: Limits, runner: Runner
) -> tuple[RunResult, list[list[StepOutcome]]]:
    steps: list[Step] = []
    inputs: dict[str, np.ndarray] = {}
    spans = []
    for index, case in enumerate(cases):
        prefix = f"c{index}_"
        inputs.update({prefix + name: value for name, value in case.arrays.items()})
        case_steps = task.part_of(case).calls(case, prefix)
        spans.append((len(steps), len(steps) + len(case_steps)))
        steps += case_steps
    result = runner.run(RunRequest(source, steps, inputs, limits))
    return result, [result.steps[a:b] for a, b in spans]


PREVIEW_CHARS = 400
SHOWN_OUTPUT_CHARS = 4000  # of each of stdout and stderr, after a sample run
# Less wall time than this left for the cases a crash cut off: not worth a sandbox (they count as not run).
MIN_RETRY_WALL_S = 0.5


def preview(value: object) -> str:
    """A short, readable rendering of an input or output: shape and dtype, then the first values."""
    if isinstance(value, np.ndarray):
        body = np.array2string(value, precision=4, threshold=24, edgeitems=2, suppress_small=True)
        text = f"{value.dtype}{list(value.shape)} {body}"
    elif value is None:
        text = "nothing (None)"
    else:
        text = repr(value)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _shown(case: Case, evaluation: CaseEvaluation) -> CaseShown:
    return CaseShown(
        inputs={name: preview(v) for name, v in {**case.arrays, **case.params}.items()},
        got={name: preview(v) for name, v in evaluation.outputs.items()},
        expected={name: preview(v) for name, v in evaluation.expected.items()},
    )


# What a hidden case says when the candidate's code failed there. The candidate's own text (an exception's
# message or class name, a forged result's contents) never reaches a hidden case: it could carry the hidden
# inputs into stored results.
HIDDEN_FAILURES: dict[str, str] = {
    "runtime_error": "crashed or raised an exception of its own class",
    "time_limit_exceeded": "did not finish within the time limit",
    "memory_limit_exceeded": "ran out of memory",
    "output_limit_exceeded": "returned or printed more than the output limit",
    "invalid_output": "returned something that is not a valid result",
}
# Exception names a hidden case may show: Python's own and NumPy's, which name a kind of error, not data.
KNOWN_EXCEPTIONS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
) | {"LinAlgError", "AxisError"}


WRONG_FORWARD = (
    "the gradients agree with the forward pass submitted with them, but that forward pass is wrong, so this"
    " check earns nothing"
)


def _no_credit_for_a_wrong_forward(evaluated: Sequence[tuple[Case, CaseEvaluation]]) -> None:
    """A gradient check compares the backward pass with the candidate's own forward pass: it says the
    backward pass is consistent, which is worth points only when that forward pass is right. The finding
    stays (no inconsistency is diagnosed); the points go."""
    forward_wrong = any(
        "out" in ev.wrong_outputs or (case.part and ev.result.status != "passed") for case, ev in evaluated
    )
    for case, ev in evaluated:
        if case.kind == "gradient_check" and ev.result.status == "passed" and forward_wrong:
            ev.result.status, ev.result.message = "wrong_answer", WRONG_FORWARD


def _evaluate_speed(task: Task, case: Case, source: str, limits: Limits, runner: Runner) -> CaseEvaluation:
    """Every round's calls must be right; then the measured time decides."""
    rounds, measurement = speed.measure(task, case, source, limits, runner)
    evaluations = [task.evaluate(case, outcomes) for outcomes in rounds]
    wrong = next((e for e in evaluations if e.result.status != "passed"), None)
    if wrong is not None:
        return wrong
    speed.judge(evaluations[0], measurement, task.allowed_slowdown)
    return evaluations[0]


def traceback_of(lines: Sequence[tuple[int, str]], source: str) -> list[TraceLine]:
    """The candidate's frames with each line's text from their own source (the sandbox names only numbers)."""
    text = source.splitlines()
    return [
        TraceLine(line=number, function=function, code=text[number - 1].strip()[:PREVIEW_CHARS])
        for number, function in lines
        if number <= len(text)
    ]


def _printed(runs: Sequence[RunResult]) -> RunOutput:
    def cut(text: str) -> str:
        return text if len(text) <= SHOWN_OUTPUT_CHARS else text[:SHOWN_OUTPUT_CHARS] + "…"

    stdout = "".join(run.stdout for run in runs)
    stderr = "".join(run.stderr for run in runs)
    return RunOutput(
        stdout=cut(stdout),
        stderr=cut(stderr),
        truncated=any(r.streams_truncated for r in runs)
        or max(len(stdout), len(stderr)) > SHOWN_OUTPUT_CHARS,
    )


def _candidate_view(case: Case, evaluation: CaseEvaluation, source: str) -> CaseResult:
    """A visible case shows its inputs and outputs, and where the code failed. A hidden case shows neither,
    and when the code failed there its message is the grader's own (with the exception's type when it is one
    of Python's)."""
    result = evaluation.result
    if case.visible:
        return result.model_copy(
            update={"shown": _shown(case, evaluation), "trace": traceback_of(evaluation.error_lines, source)}
        )
    if result.status not in HIDDEN_FAILURES or evaluation.too_slow_by is not None or evaluation.not_run:
        return result  # the grader's own words
    text = HIDDEN_FAILURES[result.status]
    kind = result.message.split(":", 1)[0].strip()
    if result.status == "runtime_error" and kind in KNOWN_EXCEPTIONS:
        text = f"raised {kind}"
    return result.model_copy(update={"message": f"{text} (details are hidden for hidden tests)"})


def grade(
    task_id: str,
    source: str,
    *,
    seed: int = 0,
    limits: Limits | None = None,
    runner: Runner | None = None,
    visible_only: bool = False,
    audience: Audience = "recruiter",
) -> GradeResult:
    """Grade `source` on the task's cases (the visible ones alone for a sample run), its diagnoses worded
    for `audience`: the candidate after a sample run, the hiring team otherwise."""
    task = get_task(task_id)
    started = time.perf_counter()
    runner = runner or default_runner()
    limits = limits or Limits()
    cases = [c for c in task.cases(seed) if c.visible or not visible_only]
    # Speed cases are measured on their own (grader/speed.py); the others run together in one sandbox.
    together = [i for i, case in enumerate(cases) if case.kind != "speed"]
    run, ran = _run_cases(task, [cases[i] for i in together], source, limits, runner)
    runs = [run]
    outcomes: list[list[StepOutcome]] = [[] for _ in cases]
    for index, steps in zip(together, ran, strict=True):
        outcomes[index] = steps
    if run.status == "compile_error":
        where = traceback_of(run.error_lines, source)
        failed = [
            CaseResult(
                name=c.name,
                visible=c.visible,
                status="runtime_error",
                message=run.message,
                trace=where if c.visible else [],
            )
            for c in cases
        ]
        return GradeResult(
            task_id=task.id,
            score=0.0,
            verdict="compile_error",
            cases=failed,
            diagnoses=[],
            timings=Timings(wall_s=time.perf_counter() - started),
            output=_printed(runs) if visible_only else None,
        )
    # Cases a crashed run never reached (or whose results it lost) get one fresh sandbox of their own, within
    # what is left of the submission's wall time: a submission holds a sandbox for its time limit at most,
    # however it spends it, and one that ran out of time is not given a second helping.
    retry = [i for i in together if any(s.status == "not_run" for s in outcomes[i])]
    remaining = limits.wall_s - run.wall_s
    if retry and run.status != "time_limit_exceeded" and remaining >= MIN_RETRY_WALL_S:
        rerun, again = _run_cases(
            task, [cases[i] for i in retry], source, replace(limits, wall_s=remaining), runner
        )
        runs.append(rerun)
        for index, steps in zip(retry, again, strict=True):
            outcomes[index] = steps
    evaluated = [
        (
            case,
            _evaluate_speed(task, case, source, limits, runner)
            if case.kind == "speed"
            else task.part_of(case).evaluate(case, steps),
        )
        for case, steps in zip(cases, outcomes, strict=True)
    ]
    _no_credit_for_a_wrong_forward(evaluated)
    passed = sum(ev.result.status == "passed" for _, ev in evaluated)
    verdict: Verdict = (
        "accepted" if passed == len(cases) else "rejected" if passed == 0 else "partially_accepted"
    )
    return GradeResult(
        task_id=task.id,
        score=round(passed / len(cases), 4),
        verdict=verdict,
        cases=[_candidate_view(case, ev, source) for case, ev in evaluated],
        diagnoses=diagnose(task, evaluated, audience),
        timings=Timings(wall_s=time.perf_counter() - started),
        output=_printed(runs) if visible_only else None,
    )

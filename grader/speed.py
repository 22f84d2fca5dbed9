"""Speed checks that a submission cannot bend and that give the same verdict run after run.

A speed case's calls are timed by the supervisor (see sandbox._Clock): each call's inputs reach the sandbox
only when the call is about to run, and the kernel's count of the sandboxed process's CPU time is read when
they are asked for and when the result arrives. Nothing inside the sandbox is trusted with the time, and
nothing can be computed ahead. The reference implementation is timed the same way: in a sandbox of the same
kind, on the same inputs, with the same limits, its runs alternating with the candidate's, so a busy machine
slows both alike. CPU time, not wall time, so other work on the machine does not count against anyone.

Each side's figure is its fastest call over every round (the minimum is the least noisy estimate of what
code costs). Two rounds are run (one when the first is far past the limit); when the ratio lands near the
limit, up to four, so that a submission is not accepted or rejected on one noisy measurement.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from grader.sandbox import Limits, Runner, RunRequest, Step, StepOutcome
from grader.tasks.base import Case, CaseEvaluation, Task

MIN_ROUNDS, MAX_ROUNDS = 2, 4
NEAR_LIMIT = 1.25  # a ratio within this factor of the limit, either way, is measured again
CLEARLY_TOO_SLOW = 2.0  # this many times the limit after one round: no second round


@dataclass(frozen=True)
class SpeedMeasurement:
    candidate_s: float  # the fastest timed call, in CPU seconds
    reference_s: float
    rounds: int

    @property
    def ratio(self) -> float:
        return self.candidate_s / self.reference_s


class ReferenceFailed(RuntimeError):
    """The reference could not be timed (a host problem: it passes its own cases in the test suite)."""


def _fastest(outcomes: list[StepOutcome], steps: list[Step]) -> float | None:
    """The fastest timed call of a run, or None when a call failed or a timed one could not be timed."""
    times = []
    for outcome, step in zip(outcomes, steps, strict=True):
        if outcome.status != "ok" or (step.timed and outcome.cpu_s is None):
            return None
        if outcome.cpu_s is not None:
            times.append(outcome.cpu_s)
    return min(times, default=None)


def measure(
    task: Task, case: Case, source: str, limits: Limits, runner: Runner
) -> tuple[list[list[StepOutcome]], SpeedMeasurement | None]:
    """The candidate's outcomes in every round (each must be right), and the measurement; None when the
    candidate's calls failed or could not be timed (the outcomes say why)."""
    reference_source = task.timing_source()
    assert reference_source is not None, f"{task.id} has a speed case but no timing reference"
    steps = task.calls(case, "")
    request = RunRequest(source, steps, dict(case.arrays), limits)
    reference_request = RunRequest(reference_source, steps, dict(case.arrays), limits)
    rounds: list[list[StepOutcome]] = []
    candidate_s = reference_s = math.inf
    started = time.monotonic()
    allowed = task.allowed_slowdown
    while len(rounds) < MAX_ROUNDS:
        run = runner.run(request)
        rounds.append(run.steps)
        fastest = _fastest(run.steps, steps)
        if fastest is None:
            return rounds, None
        reference = runner.run(reference_request)
        reference_fastest = _fastest(reference.steps, steps)
        if reference_fastest is None:
            failed = next((o for o in reference.steps if o.status != "ok" or o.cpu_s is None), None)
            detail = f"{failed.status}: {failed.error_message}" if failed else reference.message
            raise ReferenceFailed(f"{task.id}'s reference could not be timed ({reference.status}; {detail})")
        candidate_s, reference_s = min(candidate_s, fastest), min(reference_s, reference_fastest)
        ratio = candidate_s / reference_s
        near = allowed / NEAR_LIMIT <= ratio <= allowed * NEAR_LIMIT
        if len(rounds) >= MIN_ROUNDS and not near:
            break
        if ratio > CLEARLY_TOO_SLOW * allowed or time.monotonic() - started > limits.wall_s:
            break  # a slow submission does not get four rounds of sandboxes
    return rounds, SpeedMeasurement(candidate_s, reference_s, len(rounds))


def judge(evaluation: CaseEvaluation, measurement: SpeedMeasurement | None, allowed: float) -> None:
    """A speed case whose every call was right: passed within `allowed` times the reference's time."""
    result = evaluation.result
    if measurement is None:
        result.status = "invalid_output"
        result.message = "the timed calls could not be measured (a result did not come when it was due)"
        return
    ratio = measurement.ratio
    result.speed_ratio = round(ratio, 3)
    figures = (
        f"the fastest call took {measurement.candidate_s * 1e3:.1f} ms of CPU, {ratio:.2f}x the reference"
        f" ({measurement.reference_s * 1e3:.1f} ms, timed alike; {measurement.rounds} rounds)"
    )
    if ratio > allowed:
        evaluation.too_slow_by = ratio
        result.status = "time_limit_exceeded"
        result.message = f"correct, but too slow: {figures}; at most {allowed:g}x earns this case"
    else:
        result.message = f"fast enough: {figures}"

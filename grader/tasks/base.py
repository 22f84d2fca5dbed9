"""What every task is: a statement, starter code, cases, a reference, and a library of known mistakes.

A task describes each case as inputs plus the calls to make; the grader runs the calls in the sandbox and
hands back what came out. Everything that knows the right answer (`reference_outputs`) runs here, outside
the sandbox. A wrong answer is then compared with each of the task's deliberately wrong kernels: the one
that reproduces the candidate's outputs names the misconception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from grader.compare import Tolerance, compare_array, differs, gap, resembles
from grader.result import CaseResult
from grader.sandbox import Step, StepOutcome

Array = np.ndarray
Outputs = dict[str, Array]
# "values": outputs compared with the reference; "gradient_check": a backward pass compared with finite
# differences of the candidate's own forward pass; "speed": values, then time compared with the reference.
CaseKind = Literal["values", "gradient_check", "speed"]
NOT_RUN = "not run: the submission was stopped by an earlier test case (a time or output limit, or a crash)"


@dataclass(frozen=True)
class Case:
    name: str
    visible: bool
    arrays: Mapping[str, Array]  # sent into the sandbox
    params: Mapping[str, Any] = field(default_factory=dict)
    kind: CaseKind = "values"
    checks: Mapping[str, Any] = field(default_factory=dict)  # what the grader keeps to itself
    part: str = ""  # a case of another task this one includes (Task.parts), graded as that task grades it


@dataclass(frozen=True)
class Mistake:
    """A deliberately wrong kernel: same signature as the reference, one misconception built in."""

    code: str
    message: str
    kernel: Callable[..., Any]
    # The outputs this misconception determines; others (say, running statistics after normalizing over
    # the wrong axis) are whatever the candidate's code happens to make of it, so they are not compared.
    judged_on: tuple[str, ...] | None = None
    # Other ways the same misconception shows up (e.g. a broken merge also used inside the update).
    variants: tuple[Callable[..., Any], ...] = ()
    # The cases it can change at all (a test-mode mistake leaves a training step as it is): the others are
    # not run through it.
    shows_in: Callable[[Case], bool] | None = None


@dataclass(frozen=True)
class Standardized:
    """A normalization case laid out for reading the statistics a candidate used from their output: column k
    holds the values that share one mean and one variance."""

    centered: Array  # (members, statistics): the input minus the mean the task asks for
    normalized: Array  # the candidate's output with gamma and beta undone, (out - beta) / gamma
    variance: Array  # (statistics,): the variance the task asks for (the batch's, or the running one)
    count: int | None  # members per statistic when `variance` is their own; None when it is given
    eps: float
    eps_given: bool  # False when the task's default epsilon applies
    test_mode: bool = False


def standardize(
    x: Array,
    out: object,
    gamma: Array,
    beta: Array,
    to_columns: Callable[[Array], Array],
    *,
    eps: float,
    eps_given: bool,
    running: tuple[Array, Array] | None = None,
) -> Standardized | None:
    """A normalization case as Standardized: `to_columns` lays an array of x's shape out as (members,
    statistics); each column's statistics are the batch's own, or `running` (mean, variance) in test mode."""
    if not isinstance(out, np.ndarray) or out.shape != x.shape or out.dtype.kind != "f":
        return None
    with np.errstate(all="ignore"):
        normalized = to_columns((out.astype(np.float64) - beta) / gamma)
    columns = to_columns(x)
    if running is None:
        mean, variance, count = columns.mean(axis=0), columns.var(axis=0), columns.shape[0]
    else:
        (mean, variance), count = running, None
    return Standardized(columns - mean, normalized, variance, count, eps, eps_given, test_mode=count is None)


@dataclass
class CaseEvaluation:
    result: CaseResult
    outputs: dict[str, object] = field(default_factory=dict)  # the candidate's, for diagnosis
    expected: Outputs = field(default_factory=dict)  # the reference's, kept so diagnosis need not recompute
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    shape_mismatch: bool = False
    dtype_mismatch: bool = False
    input_mutated: bool = False
    # "batchnorm_backward: dgamma"-style names of gradients that disagree with the candidate's own forward.
    inconsistent_gradients: list[str] = field(default_factory=list)
    too_slow_by: float | None = None  # how many times the reference's time, when a speed check failed
    wrong_outputs: list[str] = field(default_factory=list)  # names of the outputs that differ (out, dx…)
    not_run: bool = False  # the run was stopped before this case
    error_lines: tuple[tuple[int, str], ...] = ()  # where the candidate's code raised, innermost last

    @cached_property
    def allowed(self) -> dict[str, Array]:
        """Each output's allowed difference from the reference, computed once for every wrong kernel."""
        return {n: self.tolerances[n].allowed(v) for n, v in self.expected.items()}


def first_result(result: object) -> object:
    """`out` from a call returning `(out, cache)`; whatever came back if it is not such a pair."""
    return result[0] if isinstance(result, tuple | list) and result else result


def named_parts(result: object, names: Sequence[str]) -> dict[str, object]:
    """The parts of a returned tuple by name; a malformed return counts as the first part alone."""
    if isinstance(result, tuple | list) and len(result) == len(names):
        return dict(zip(names, result, strict=True))
    return {name: result if index == 0 else None for index, name in enumerate(names)}


def gradients(result: object) -> dict[str, object]:
    """dx, dgamma and dbeta from a backward call; a malformed return leaves dgamma and dbeta missing."""
    return named_parts(result, ("dx", "dgamma", "dbeta"))


SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"


class Task(ABC):
    id: str
    title: str
    functions: tuple[str, ...]
    statement: str
    starter: str
    mistakes: tuple[Mistake, ...] = ()
    # Input arrays passed as the first positional arguments of the first call, checked for mutation.
    positional_inputs: tuple[str, ...] = ()
    # A speed case passes within this many times the reference's time (see grader/speed.py).
    allowed_slowdown: float = 3.0
    # Tasks whose cases this one includes, by Case.part: a statement that asks for more than this task's
    # own functions (bn-backward's forward pass, with test mode and running statistics) grades all of it.
    parts: Mapping[str, Task] = {}

    @property
    def solution(self) -> str:
        """A reference solution in the candidate's own terms (grader/solutions/), shown to the hiring team
        beside the task; the grader never compares against it."""
        return (SOLUTIONS / f"{self.id.replace('-', '_')}.py").read_text(encoding="utf-8")

    def part_of(self, case: Case) -> Task:
        """The task that runs, judges and diagnoses this case."""
        return self.parts[case.part] if case.part else self

    @property
    def all_mistakes(self) -> tuple[Mistake, ...]:
        """Every misconception this task can name, its parts' included."""
        return self.mistakes + tuple(m for part in self.parts.values() for m in part.mistakes)

    def timing_source(self) -> str | None:
        """The reference as a module the harness can load, for tasks with a speed case: it is timed in a
        sandbox of its own exactly as the candidate's code is (it never meets the candidate's)."""
        return None

    @abstractmethod
    def cases(self, seed: int) -> list[Case]:
        """The visible sample cases, then the hidden ones, generated deterministically from the seed."""

    @abstractmethod
    def steps(self, case: Case, prefix: str) -> list[Step]:
        """The sandbox calls for one case; inputs are referred to as `prefix + name`."""

    def calls(self, case: Case, prefix: str) -> list[Step]:
        """What the grader runs for a case of any kind; tasks with checks beyond values widen it."""
        return self.steps(case, prefix)

    @abstractmethod
    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        """The named outputs a kernel (the reference or a mistake) produces on this case."""

    @abstractmethod
    def candidate_outputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> dict[str, object]:
        """The same named outputs, taken from what the candidate's calls returned."""

    @abstractmethod
    def reference(self) -> Callable[..., Any]: ...

    def standardized(self, case: Case, out: object) -> Standardized | None:
        """The case and the candidate's output as a normalization (see Standardized), for tasks that are
        one; None for the others or when `out` is not a usable array."""
        return None

    def mutated_inputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> list[str]:
        """Names of input arrays the candidate changed in place (the first step reports its arguments)."""
        after = outcomes[0].args_after or [] if outcomes else []
        return [
            name
            for name, value in zip(self.positional_inputs, after, strict=False)
            if not np.array_equal(value, case.arrays[name])
        ]

    # ------------------------------------------------------------------------------------------ shared logic

    def reference_outputs(self, case: Case) -> tuple[Outputs, dict[str, Tolerance]]:
        outputs = self.run_kernel(self.reference(), case, np.float64)
        outputs32 = self.run_kernel(self.reference(), case, np.float32)
        tolerances = {name: Tolerance.from_spread(value, outputs32[name]) for name, value in outputs.items()}
        return outputs, tolerances

    @staticmethod
    def failed_call(case: Case, outcomes: Sequence[StepOutcome]) -> CaseEvaluation | None:
        """The case's result when one of its calls raised, timed out or never ran."""
        failed = next((o for o in outcomes if o.status != "ok"), None)
        if failed is None:
            return None
        if failed.status == "not_run":
            # The run was stopped by an earlier case (its time or output limit, a crash) before this one.
            result = CaseResult(name=case.name, visible=case.visible, status="runtime_error", message=NOT_RUN)
            return CaseEvaluation(result, not_run=True)
        message = f"{failed.error_type}: {failed.error_message}".strip(": ") or failed.status.replace(
            "_", " "
        )
        return CaseEvaluation(
            CaseResult(name=case.name, visible=case.visible, status=failed.status, message=message),
            error_lines=failed.error_lines,
        )

    def evaluate(self, case: Case, outcomes: Sequence[StepOutcome]) -> CaseEvaluation:
        failed = self.failed_call(case, outcomes)
        if failed is not None:
            return failed
        expected, tolerances = self.reference_outputs(case)
        actual = self.candidate_outputs(case, outcomes)
        evaluation = CaseEvaluation(
            CaseResult(name=case.name, visible=case.visible, status="passed"),
            outputs=actual,
            expected=expected,
            tolerances=tolerances,
        )
        worst_abs = worst_rel = 0.0
        problems = []
        for name, reference in expected.items():
            comparison = compare_array(name, actual.get(name), reference, tolerances[name])
            worst_abs = max(worst_abs, comparison.max_abs_err or 0.0)
            worst_rel = max(worst_rel, comparison.max_rel_err or 0.0)
            if not comparison.ok:
                problems.append(comparison.message)  # every wrong output is named (dx, dgamma, dbeta…)
                evaluation.wrong_outputs.append(name)
                evaluation.shape_mismatch |= comparison.message.startswith(f"{name} has shape")
                evaluation.dtype_mismatch |= comparison.message.startswith(f"{name} has dtype")
        if problems:
            evaluation.result.status = "wrong_answer"
            evaluation.result.message = "; ".join(problems)
        evaluation.result.max_abs_err, evaluation.result.max_rel_err = worst_abs, worst_rel
        mutated = self.mutated_inputs(case, outcomes)
        if mutated and evaluation.result.status == "passed":
            evaluation.result.status = "wrong_answer"
            evaluation.result.message = f"the input {', '.join(mutated)} was modified in place"
        evaluation.input_mutated = bool(mutated)
        return evaluation

    def explained_by(self, mistake: Mistake, case: Case, evaluation: CaseEvaluation) -> bool:
        """Does this mistake (in any of its forms) reproduce the candidate's outputs, up to noise, on a case
        where it differs from the truth?"""
        if mistake.shows_in is not None and not mistake.shows_in(case):
            return False
        candidate, expected = evaluation.outputs, evaluation.expected
        names = mistake.judged_on or tuple(expected)
        allowed = evaluation.allowed
        for kernel in (mistake.kernel, *mistake.variants):
            try:
                with np.errstate(all="ignore"):  # wrong kernels may take square roots of negative numbers
                    wrong = self.run_kernel(kernel, case, np.float64)
            except (ArithmeticError, ValueError, IndexError):
                continue
            distances = {n: gap(wrong[n], expected[n]) for n in names}
            if not any(differs(distances[n], allowed[n]) for n in names):
                continue  # this misconception changes nothing on this case
            if all(
                (distance := distances[n]) is not None
                and resembles(candidate.get(n), wrong[n], distance, allowed[n])
                for n in names
            ):
                return True
        return False

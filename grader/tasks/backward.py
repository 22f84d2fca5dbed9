"""Tasks with a backward pass: besides matching the analytic reference, the gradients must be the
derivative of the candidate's *own* forward pass.

The gradient-check case runs the candidate's forward at the inputs nudged both ways along a few random
directions and compares the slope of `sum(out * dout)` with what the backward pass says it is (the
directional derivative `<grad, direction>`). That tells a recruiter which part is at fault: a forward that
is wrong but differentiated consistently, or a backward that does not match its own forward, and which of
dx, dgamma, dbeta it gets wrong.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from grader import reference
from grader.result import CaseResult
from grader.sandbox import Input, Ref, Step, StepOutcome
from grader.tasks.base import Array, Case, CaseEvaluation, Task, first_result, gradients

# Each differentiable input and the gradient the backward pass returns for it.
DIFFERENTIABLE = (("x", "dx"), ("gamma", "dgamma"), ("beta", "dbeta"))
DIRECTIONS = 2
RELATIVE_STEP = 1e-5
# Central differences in float64 are good to ~1e-9 here; a missing term is off by tens of percent.
RTOL = 1e-5
ROUNDING_SLACK = 64.0
# A probe's output may exceed the reference output's largest magnitude by this factor at most.
MAX_PROBE_SCALE = 1e3


def gradient_check_case(name: str, rng: np.random.Generator, case: Case) -> Case:
    """A visible case built on `case` (whose arrays include x, gamma, beta and dout) plus, for each
    differentiable input, copies nudged by +-h along random unit directions (kept out of the sandbox)."""
    arrays = dict(case.arrays)
    probes: dict[str, list[tuple[Array, float]]] = {}
    for input_name, _ in DIFFERENTIABLE:
        base = case.arrays[input_name]
        step = RELATIVE_STEP * max(1.0, float(np.sqrt(np.mean(base**2))))
        probes[input_name] = []
        for k in range(DIRECTIONS):
            direction = rng.normal(size=base.shape)
            direction /= np.linalg.norm(direction)
            arrays[f"{input_name}+{k}"] = base + step * direction
            arrays[f"{input_name}-{k}"] = base - step * direction
            probes[input_name].append((direction, step))
    return Case(name, True, arrays, case.params, kind="gradient_check", checks={"probes": probes})


class BackwardTask(Task):
    """A task whose candidate writes a forward pass returning `(out, cache)` and backward functions taking
    `(dout, cache)` and returning `(dx, dgamma, dbeta)`."""

    backward_functions: tuple[str, ...]
    # Whether value cases compare the forward pass's `out` (a backward-only task need not receive it).
    grades_forward_output = True

    @abstractmethod
    def forward_call(self, case: Case, inputs: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        """The forward function's name and its arguments, with `inputs` standing for the case's arrays."""

    def forward_step(self, case: Case, prefix: str, **options: Any) -> Step:
        call, args = self.forward_call(case, {name: Input(prefix + name) for name in case.arrays})
        return Step(call, args, **options)

    @staticmethod
    def backward_step(function: str, prefix: str, **options: Any) -> Step:
        """A backward function called on the upstream gradient and the cache the forward step saved."""
        return Step(function, (Input(prefix + "dout"), Ref(prefix + "fwd", (1,))), **options)

    def steps(self, case: Case, prefix: str) -> list[Step]:
        """The forward pass (its arguments reported, to catch inputs modified in place), then every backward
        function on its cache."""
        forward = self.forward_step(
            case, prefix, save_as=prefix + "fwd", report_args=True, return_result=self.grades_forward_output
        )
        return [forward, *(self.backward_step(name, prefix) for name in self.backward_functions)]

    def candidate_outputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> dict[str, object]:
        """`out` from the forward pass and the first backward function's gradients."""
        return {"out": first_result(outcomes[0].result), **gradients(outcomes[1].result)}

    def calls(self, case: Case, prefix: str) -> list[Step]:
        if case.kind != "gradient_check":
            return self.steps(case, prefix)
        steps = [self.forward_step(case, prefix, save_as=prefix + "fwd", return_result=False)]
        steps += [self.backward_step(name, prefix) for name in self.backward_functions]
        inputs = {name: Input(prefix + name) for name in case.arrays}
        for input_name, _ in DIFFERENTIABLE:
            for k in range(DIRECTIONS):
                for sign in "+-":
                    nudged = {**inputs, input_name: Input(f"{prefix}{input_name}{sign}{k}")}
                    steps.append(Step(*self.forward_call(case, nudged)))
        return steps

    def evaluate(self, case: Case, outcomes: Sequence[StepOutcome]) -> CaseEvaluation:
        if case.kind != "gradient_check":
            return super().evaluate(case, outcomes)
        failed = self.failed_call(case, outcomes)
        if failed is not None:
            return failed
        evaluation = CaseEvaluation(CaseResult(name=case.name, visible=case.visible, status="passed"))
        slopes = self._numeric_slopes(case, outcomes[1 + len(self.backward_functions) :])
        if isinstance(slopes, str):
            evaluation.result.status, evaluation.result.message = "wrong_answer", slopes
            return evaluation
        problems = []
        for function, outcome in zip(self.backward_functions, outcomes[1:], strict=False):
            returned = gradients(outcome.result)
            for input_name, gradient_name in DIFFERENTIABLE:
                gradient = returned[gradient_name]
                problem = _malformed(case, input_name, gradient)  # says nothing of the forward pass
                if not problem:
                    assert isinstance(gradient, np.ndarray)  # _malformed checked it
                    problem = _disagrees(case, input_name, gradient, slopes[input_name])
                    if problem:
                        evaluation.inconsistent_gradients.append(f"{function}: {gradient_name}")
                if problem:
                    problems.append(f"{gradient_name} from {function} {problem}")
        if problems:
            evaluation.result.status = "wrong_answer"
            evaluation.result.message = "; ".join(problems)
        return evaluation

    def reference_forward_output(self, case: Case) -> Array:
        """The reference forward pass's output at the case's own inputs (the same call the candidate gets)."""
        call, args = self.forward_call(case, {name: np.array(value) for name, value in case.arrays.items()})
        return np.asarray(first_result(getattr(reference, call)(*copy.deepcopy(args))), dtype=np.float64)

    def _numeric_slopes(
        self, case: Case, probes: Sequence[StepOutcome]
    ) -> dict[str, list[tuple[float, float]]] | str:
        """For each input and direction, the central difference of sum(out * dout) and its rounding error
        bound; a message instead when the forward pass returned something that cannot be differentiated.

        The rounding bound comes from the reference forward's scale, never from what the candidate returned:
        a forward that returns huge values on the probe calls would otherwise widen its own allowance until
        any backward pass agreed with it."""
        dout = case.arrays["dout"]
        expected = self.reference_forward_output(case)
        magnitude = float(np.sum(np.abs(expected * dout)))
        largest = MAX_PROBE_SCALE * max(1.0, float(np.max(np.abs(expected))))
        slopes: dict[str, list[tuple[float, float]]] = {}
        remaining = iter(probes)
        for input_name, _ in DIFFERENTIABLE:
            slopes[input_name] = []
            for _direction, step in case.checks["probes"][input_name]:
                plus, minus = (first_result(next(remaining).result) for _ in "+-")
                for out in (plus, minus):
                    if not isinstance(out, np.ndarray) or out.shape != dout.shape:
                        return (
                            "the forward pass did not return an output of the input's shape, so the backward"
                            " pass could not be checked against it"
                        )
                    if out.dtype != np.float64:
                        return (
                            f"the forward pass returned {out.dtype} instead of float64, too coarse for the"
                            " backward pass to be checked against it"
                        )
                    if not np.all(np.isfinite(out)) or float(np.max(np.abs(out), initial=0.0)) > largest:
                        return (
                            "the forward pass returned values far outside the range of a normalized output,"
                            " so the backward pass could not be checked against it"
                        )
                assert isinstance(plus, np.ndarray) and isinstance(minus, np.ndarray)
                difference = float(np.sum((plus - minus) * dout))
                rounding = ROUNDING_SLACK * float(np.finfo(np.float64).eps) * magnitude / step
                slopes[input_name].append((difference / (2 * step), rounding))
        return slopes


def _malformed(case: Case, input_name: str, gradient: object) -> str:
    """Why a returned gradient cannot be checked at all (missing, misshapen, not finite), or ""."""
    shape = case.arrays[input_name].shape
    if gradient is None:
        return "is missing (the backward pass returned no such gradient)"
    if not isinstance(gradient, np.ndarray) or gradient.shape != shape:
        found = gradient.shape if isinstance(gradient, np.ndarray) else type(gradient).__name__
        return f"has shape {found}, expected {shape}"
    if not np.all(np.isfinite(gradient)):
        return "contains NaN or infinity"
    return ""


def _disagrees(case: Case, input_name: str, gradient: Array, slopes: list[tuple[float, float]]) -> str:
    """Why a well-formed gradient is not the derivative of the forward pass, or "" if it is."""
    norm = float(np.linalg.norm(gradient))
    for (direction, _), (numeric, rounding) in zip(case.checks["probes"][input_name], slopes, strict=True):
        analytic = float(np.sum(gradient * direction))
        if abs(analytic - numeric) > RTOL * (norm + abs(numeric)) + rounding + 1e-12:
            return (
                "disagrees with finite differences of the submitted forward pass (slope along a random"
                f" direction: {analytic:.6g} from the gradient, {numeric:.6g} measured)"
            )
    return ""

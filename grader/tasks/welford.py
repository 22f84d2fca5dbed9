"""welford: streaming mean and variance, exact under any chunking and stable far from zero."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from grader.reference import welford_finalize, welford_merge, welford_update
from grader.sandbox import Input, Ref, Step, StepOutcome
from grader.tasks.base import Case, Mistake, Outputs, Task, named_parts

Array = np.ndarray
State = tuple[int, Array, Array]

STATEMENT = """\
### Streaming statistics (Welford)

Running statistics are often computed over data that arrives in chunks, or on several workers whose
results are combined. Implement, with `state = (count, mean, m2)` where `m2` is the sum of squared
deviations from the mean, starting from `(0, zeros(D), zeros(D))`:

* `welford_update(state, x)` → new state, after adding the rows of a chunk `x` of shape `(n, D)`
  (`n` may be 0);
* `welford_merge(a, b)` → the state of the two streams combined;
* `welford_finalize(state)` → `(mean, var_biased, var_unbiased)`, dividing `m2` by `count` and by
  `count - 1`.

Results must be exact (to rounding) whatever the chunking, and **stable**: values around `1e8` with a
spread of 1 must give a variance of about 1. Do not modify inputs in place.
"""

STARTER = """\
import numpy as np


def welford_update(state, x):
    count, mean, m2 = state
    raise NotImplementedError


def welford_merge(a, b):
    raise NotImplementedError


def welford_finalize(state):
    count, mean, m2 = state
    raise NotImplementedError
"""


def run_plan(
    update: Callable[..., Any],
    merge: Callable[..., Any],
    finalize: Callable[..., Any],
    streams: Sequence[Sequence[Array]],
    dtype: type,
) -> Outputs:
    """Feed each stream's chunks through update, merge the streams, finalize."""
    states = []
    for chunks in streams:
        d = chunks[0].shape[1]
        state: State = (0, np.zeros(d, dtype=dtype), np.zeros(d, dtype=dtype))
        for chunk in chunks:
            state = update(state, chunk.astype(dtype))
        states.append(state)
    final = states[0] if len(states) == 1 else merge(states[0], states[1])
    mean, var, unbiased = finalize(final)
    return {"mean": np.asarray(mean), "var": np.asarray(var), "var_unbiased": np.asarray(unbiased)}


def _naive_update(state: State, x: Array) -> State:
    """Accumulates sums of squares: E[x^2] - E[x]^2 in disguise."""
    count, mean, m2 = state
    n = count + x.shape[0]
    if n == 0:
        return state
    total = count * mean + x.sum(axis=0)
    squares = m2 + count * mean**2 + (x**2).sum(axis=0)
    new_mean = total / n
    return n, new_mean, squares - n * new_mean**2


def _merge_without_delta(a: State, b: State) -> State:
    count = a[0] + b[0]
    return count, (a[0] * a[1] + b[0] * b[1]) / count, a[2] + b[2]


def _update_via(merge: Callable[[State, State], State]) -> Callable[[State, Array], State]:
    """An update that adds a chunk by merging in its own two-pass statistics, as many solutions do."""

    def update(state: State, x: Array) -> State:
        if x.shape[0] == 0:
            return state
        mean = x.mean(axis=0)
        return merge(state, (x.shape[0], mean, ((x - mean) ** 2).sum(axis=0)))

    return update


def _swapped_finalize(state: State) -> tuple[Array, Array, Array]:
    mean, biased, unbiased = welford_finalize(state)
    return mean, unbiased, biased


class Welford(Task):
    id = "welford"
    title = "Streaming statistics (Welford)"
    functions = ("welford_update", "welford_merge", "welford_finalize")
    statement = STATEMENT
    starter = STARTER
    mistakes = (
        Mistake(
            "unstable_variance",
            "{Code} accumulates sums of squares (E[x^2] - E[x]^2), which loses all precision for values far"
            " from"
            " zero; updating the mean and the sum of squared deviations keeps it.",
            partial(run_plan, _naive_update, welford_merge, welford_finalize),
            judged_on=("var",),
        ),
        Mistake(
            "merge_missing_delta",
            "{Code} merges two streams by adding their sums of squared deviations without the term for the"
            " difference between their means (delta^2 * n_a * n_b / n).",
            partial(run_plan, welford_update, _merge_without_delta, welford_finalize),
            judged_on=("var",),
            variants=(
                partial(run_plan, _update_via(_merge_without_delta), _merge_without_delta, welford_finalize),
            ),
        ),
        Mistake(
            "unbiased_variance",
            "{Code} returns the unbiased variance (divide by count - 1) where the biased one (divide by"
            " count) is"
            " asked for, and the other way round.",
            partial(run_plan, welford_update, welford_merge, _swapped_finalize),
            judged_on=("var",),
        ),
    )

    def reference(self) -> Callable[..., Any]:
        return partial(run_plan, welford_update, welford_merge, welford_finalize)

    def cases(self, seed: int) -> list[Case]:
        sample = np.random.default_rng(2030)
        cases = [self._case("sample_two_chunks", True, sample, [[3, 2]], 2)]
        rng = np.random.default_rng([seed, 707])
        cases += [
            # one chunk: the update without any merge
            self._case("one_chunk", False, rng, [[10]], 3),
            # one row at a time: the update of a single sample
            self._case("single_rows", False, rng, [[1] * 12], 2),
            # an empty chunk: a division by zero in the update
            self._case("uneven_with_empty", False, rng, [[1, 5, 0, 2, 7]], 4),
            # values far from zero: sums of squares lose everything
            self._case("offset_1e8", False, rng, [[4, 9, 3]], 3, offset=1e8),
            # streams with different means: the merge's delta term
            self._case("merge_different_means", False, rng, [[3, 4], [6]], 3, shift=25.0),
            # a stream of one sample: the merge's weights
            self._case("merge_with_one_sample", False, rng, [[5, 2], [1]], 2, shift=-7.0),
        ]
        return cases

    @staticmethod
    def _case(
        name: str,
        visible: bool,
        rng: np.random.Generator,
        plan: list[list[int]],
        d: int,
        offset: float = 0.0,
        shift: float = 0.0,
    ) -> Case:
        arrays: dict[str, Array] = {"zeros": np.zeros(d)}
        center = offset + rng.normal(0.0, 3.0, size=d)
        for s, sizes in enumerate(plan):
            for i, size in enumerate(sizes):
                arrays[f"s{s}_{i}"] = (
                    center + s * shift + rng.normal(size=(size, d)) * rng.uniform(0.5, 2.0, d)
                )
        return Case(name, visible, arrays, {"plan": [len(sizes) for sizes in plan]})

    def _streams(self, case: Case) -> list[list[Array]]:
        return [[case.arrays[f"s{s}_{i}"] for i in range(n)] for s, n in enumerate(case.params["plan"])]

    def steps(self, case: Case, prefix: str) -> list[Step]:
        steps, last = [], []
        zeros = Input(prefix + "zeros")
        for s, n in enumerate(case.params["plan"]):
            state: Any = (0, zeros, zeros)
            for i in range(n):
                name = f"{prefix}s{s}_{i}_state"
                steps.append(
                    Step(
                        "welford_update",
                        (state, Input(f"{prefix}s{s}_{i}")),
                        save_as=name,
                        return_result=False,
                        report_args=True,
                    )
                )
                state = Ref(name)
            last.append(state)
        final = last[0]
        if len(last) == 2:
            steps.append(
                Step("welford_merge", (last[0], last[1]), save_as=prefix + "merged", return_result=False)
            )
            final = Ref(prefix + "merged")
        return [*steps, Step("welford_finalize", (final,))]

    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        outputs: Outputs = kernel(self._streams(case), dtype)
        return outputs

    def candidate_outputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> dict[str, object]:
        return named_parts(outcomes[-1].result, ("mean", "var", "var_unbiased"))

    def mutated_inputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> list[str]:
        mutated = []
        for outcome, name in zip(outcomes, self._chunk_names(case), strict=False):
            after = outcome.args_after or []
            if len(after) > 1 and not np.array_equal(after[1], case.arrays[name]):
                mutated.append("x")
        return sorted(set(mutated))

    def _chunk_names(self, case: Case) -> list[str]:
        return [f"s{s}_{i}" for s, n in enumerate(case.params["plan"]) for i in range(n)]

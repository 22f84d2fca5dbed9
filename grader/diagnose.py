"""Naming the misconception behind wrong answers, from the cases they got wrong."""

from __future__ import annotations

from collections.abc import Sequence

from grader.result import Diagnosis
from grader.tasks.base import Case, CaseEvaluation, Task

SHAPE_MISMATCH = (
    "The output does not have the shape the function must return "
    "(often a reduction that dropped or kept an axis)."
)
INPUT_MUTATED = (
    "The function modifies its input array in place, which corrupts the caller's data "
    "(use x - mean, not x -= mean)."
)


GENERIC_CODES = frozenset({"shape_mismatch", "input_mutated"})
INCONSISTENT = "backward_inconsistent_with_forward"
TOO_SLOW = "too_slow"
AFTER_CAUSES = frozenset({INCONSISTENT, TOO_SLOW})


def _inconsistent_gradients(names: Sequence[str]) -> Diagnosis:
    return Diagnosis(
        code=INCONSISTENT,
        confidence=1.0,
        message=(
            "The backward pass is not the derivative of the candidate's own forward pass: "
            f"{', '.join(names)} disagree with finite differences of it. The fault is in the backward pass, "
            "whatever the forward pass does."
        ),
    )


def _too_slow(slowdown: float, others_right: bool) -> Diagnosis:
    """Only what was measured: the ratio, and whether the rest was right (not a guess at the cause)."""
    rest = "Every other case is right; only" if others_right else "Besides the cases it gets wrong,"
    return Diagnosis(
        code=TOO_SLOW,
        confidence=1.0,
        message=(
            f"{rest} the speed check fails: on a large input the code took {slowdown:.1f}x the CPU time"
            " of the reference closed form, measured alike."
        ),
    )


def diagnose(task: Task, evaluated: Sequence[tuple[Case, CaseEvaluation]]) -> list[Diagnosis]:
    """Every mistake that reproduces the candidate's outputs, ranked by the share of failed cases it
    explains, then what the other checks found (inconsistent gradients, slowness). A submission that got
    every case right gets none."""
    found: list[Diagnosis] = []
    inconsistent = [name for _, ev in evaluated for name in ev.inconsistent_gradients]
    if inconsistent:
        found.append(_inconsistent_gradients(list(dict.fromkeys(inconsistent))))
    slowdowns = [ev.too_slow_by for _, ev in evaluated if ev.too_slow_by is not None]
    if slowdowns:
        others_right = all(ev.result.status == "passed" for _, ev in evaluated if ev.too_slow_by is None)
        found.append(_too_slow(max(slowdowns), others_right))
    # Misconceptions are recognised in outputs compared with the reference, not in the other checks.
    values = [(case, ev) for case, ev in evaluated if case.kind == "values"]
    wrong = [(case, ev) for case, ev in values if ev.result.status == "wrong_answer"]
    if wrong:
        found += _misconceptions(task, values, wrong)
    # On equal confidence a named misconception says more than the generic shape or mutation findings; the
    # other checks are certain but say nothing of why, so they come after any named cause.
    ranked = sorted(found, key=lambda d: (d.code in AFTER_CAUSES, -d.confidence, d.code in GENERIC_CODES))
    return first_per_code(ranked)


def first_per_code(ranked: Sequence[Diagnosis]) -> list[Diagnosis]:
    """A code seen by several mistakes (say, in two backward functions) is reported once, where it first
    ranks."""
    first: dict[str, Diagnosis] = {}
    for diagnosis in ranked:
        first.setdefault(diagnosis.code, diagnosis)
    return list(first.values())


def _misconceptions(
    task: Task, values: Sequence[tuple[Case, CaseEvaluation]], wrong: Sequence[tuple[Case, CaseEvaluation]]
) -> list[Diagnosis]:
    found = []
    shape = sum(ev.shape_mismatch for _, ev in wrong)
    if shape:
        found.append(
            Diagnosis(code="shape_mismatch", confidence=round(shape / len(wrong), 3), message=SHAPE_MISMATCH)
        )
    mutated = sum(ev.input_mutated for _, ev in values)
    if mutated:
        found.append(
            Diagnosis(code="input_mutated", confidence=round(mutated / len(values), 3), message=INPUT_MUTATED)
        )
    # Each case is judged by the task it belongs to (a part's cases by the part's own mistakes); shapes are
    # checked on the outputs each mistake is judged on, so no case needs excluding.
    for owner in (task, *task.parts.values()):
        own = [(case, ev) for case, ev in wrong if task.part_of(case) is owner]
        for mistake in owner.mistakes if own else ():
            explained = sum(owner.explained_by(mistake, case, ev) for case, ev in own)
            if explained:
                found.append(
                    Diagnosis(
                        code=mistake.code,
                        confidence=round(explained / len(wrong), 3),
                        message=mistake.message,
                    )
                )
    return found

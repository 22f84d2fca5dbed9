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


def diagnose(task: Task, evaluated: Sequence[tuple[Case, CaseEvaluation]]) -> list[Diagnosis]:
    """Every mistake that reproduces the candidate's outputs, ranked by the share of failed cases it
    explains. A submission with no wrong answers gets none."""
    if not any(ev.result.status == "wrong_answer" for _, ev in evaluated):
        return []
    found: list[Diagnosis] = []
    inconsistent = [name for _, ev in evaluated for name in ev.inconsistent_gradients]
    if inconsistent:
        found.append(_inconsistent_gradients(list(dict.fromkeys(inconsistent))))
    # Misconceptions are recognised in outputs compared with the reference, not in the other checks.
    wrong = [
        (c, ev) for c, ev in evaluated if ev.result.status == "wrong_answer" and c.kind != "gradient_check"
    ]
    if not wrong:
        return found
    shape = sum(ev.shape_mismatch for _, ev in wrong)
    if shape:
        found.append(
            Diagnosis(code="shape_mismatch", confidence=round(shape / len(wrong), 3), message=SHAPE_MISMATCH)
        )
    mutated = sum(ev.input_mutated for _, ev in evaluated)
    if mutated:
        found.append(
            Diagnosis(
                code="input_mutated", confidence=round(mutated / len(evaluated), 3), message=INPUT_MUTATED
            )
        )
    for mistake in task.mistakes:
        # Shapes are checked on the outputs each mistake is judged on, so no case needs excluding.
        explained = sum(task.explained_by(mistake, case, ev) for case, ev in wrong)
        if explained:
            found.append(
                Diagnosis(
                    code=mistake.code, confidence=round(explained / len(wrong), 3), message=mistake.message
                )
            )
    # On equal confidence a named misconception says more than the generic shape or mutation findings; an
    # inconsistent backward pass is certain but says nothing of why, so it comes after any named cause.
    return sorted(found, key=lambda d: (d.code == INCONSISTENT, -d.confidence, d.code in GENERIC_CODES))

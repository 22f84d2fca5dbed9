"""Naming the misconception behind wrong answers, from the cases they got wrong."""

from __future__ import annotations

from collections.abc import Sequence

from grader import signatures
from grader.result import Diagnosis
from grader.tasks.base import Case, CaseEvaluation, Task
from grader.wording import Audience, speak

SHAPE_MISMATCH = (
    "{Code} returns an output of another shape than the function must return (often a reduction that"
    " dropped or kept an axis)."
)
DTYPE_MISMATCH = (
    "{Code} returns arrays of another dtype than the statement asks for (float32 where float64 is asked,"
    " say)."
)
INPUT_MUTATED = (
    "{Code} modifies an input array in place, which corrupts the caller's data (x - mean leaves x alone;"
    " x -= mean does not)."
)


GENERIC_CODES = frozenset({"shape_mismatch", "dtype_mismatch", "input_mutated"})
INCONSISTENT = "backward_inconsistent_with_forward"
TOO_SLOW = "too_slow"
AFTER_CAUSES = frozenset({INCONSISTENT, TOO_SLOW})


def _inconsistent_gradients(names: Sequence[str]) -> str:
    return (
        "{Your} backward pass is not the derivative of {your} own forward pass: "
        f"{', '.join(names)} disagree with finite differences of it. The fault is in the backward pass, "
        "whatever the forward pass does."
    )


def _too_slow(slowdown: float, others_right: bool) -> str:
    """Only what was measured: the ratio, and whether the rest was right (not a guess at the cause)."""
    rest = "Every other case is right; only" if others_right else "Besides the cases it gets wrong,"
    return (
        f"{rest} the speed check fails: on a large input {{code}} took {slowdown:.1f}x the CPU time"
        " of the reference closed form, measured alike."
    )


def diagnose(
    task: Task, evaluated: Sequence[tuple[Case, CaseEvaluation]], audience: Audience = "recruiter"
) -> list[Diagnosis]:
    """Every misconception the wrong outputs show (a wrong kernel reproduces them, or their signature
    reads them: see grader.signatures), ranked by the share of failed cases it explains, then what the
    other checks found (inconsistent gradients, slowness), each worded for its reader. A submission that
    got every case right gets none."""
    found: list[Diagnosis] = []
    inconsistent = [name for _, ev in evaluated for name in ev.inconsistent_gradients]
    if inconsistent:
        found.append(
            Diagnosis(
                code=INCONSISTENT,
                confidence=1.0,
                message=_inconsistent_gradients(list(dict.fromkeys(inconsistent))),
            )
        )
    slowdowns = [ev.too_slow_by for _, ev in evaluated if ev.too_slow_by is not None]
    if slowdowns:
        others_right = all(ev.result.status == "passed" for _, ev in evaluated if ev.too_slow_by is None)
        found.append(
            Diagnosis(code=TOO_SLOW, confidence=1.0, message=_too_slow(max(slowdowns), others_right))
        )
    # Misconceptions are recognised in outputs compared with the reference, not in the other checks.
    values = [(case, ev) for case, ev in evaluated if case.kind == "values"]
    wrong = [(case, ev) for case, ev in values if ev.result.status == "wrong_answer"]
    if wrong:
        found += _misconceptions(task, values, wrong)
    found = [d.model_copy(update={"message": speak(d.message, audience)}) for d in found]
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
    dtype = sum(ev.dtype_mismatch for _, ev in wrong)
    if dtype:
        found.append(
            Diagnosis(code="dtype_mismatch", confidence=round(dtype / len(wrong), 3), message=DTYPE_MISMATCH)
        )
    mutated = sum(ev.input_mutated for _, ev in values)
    if mutated:
        found.append(
            Diagnosis(code="input_mutated", confidence=round(mutated / len(values), 3), message=INPUT_MUTATED)
        )
    # Each case is judged by the task it belongs to (a part's cases by the part's own mistakes); shapes are
    # checked on the outputs each mistake is judged on, so no case needs excluding. A misconception seen both
    # ways (a wrong kernel reproduces some cases, its signature reads others) counts every case once.
    for owner in (task, *task.parts.values()):
        own = [(case, ev) for case, ev in wrong if task.part_of(case) is owner]
        if not own:
            continue
        explained: dict[tuple[str, str], set[int]] = {}
        for mistake in owner.mistakes:
            cases = {i for i, (case, ev) in enumerate(own) if owner.explained_by(mistake, case, ev)}
            if cases:
                explained.setdefault((mistake.code, mistake.message), set()).update(cases)
        owned = [(case, ev) for case, ev in values if task.part_of(case) is owner]
        reproduced = set().union(*explained.values())
        for i, (case, ev) in enumerate(own):
            if i in reproduced:
                continue  # a wrong kernel reproduces these outputs: nothing is left for a signature to read
            for code in sorted(signatures.codes(owner, case, ev, owned)):
                explained.setdefault((code, signatures.message(owner, code)), set()).add(i)
        found += [
            Diagnosis(code=code, confidence=round(len(cases) / len(wrong), 3), message=message)
            for (code, message), cases in explained.items()
        ]
    return found

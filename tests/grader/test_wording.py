"""Every diagnosis is spoken to its reader: "your code" to the candidate after a sample run, "the
candidate's code" to the hiring team; and neither carries a case's inputs."""

from __future__ import annotations

import re

import pytest

from grader import diagnose, signatures
from grader.tasks import TASKS
from grader.wording import AUDIENCES, Audience, speak

TEMPLATES = sorted(
    {m.message for task in TASKS.values() for m in task.all_mistakes}
    | set(signatures.MESSAGES.values())
    | {diagnose.SHAPE_MISMATCH, diagnose.DTYPE_MISMATCH, diagnose.INPUT_MUTATED}
    | {diagnose._inconsistent_gradients(["batchnorm_backward: dx"]), diagnose._too_slow(3.4, True)}
    | {diagnose._too_slow(3.4, False)}
)
ADDRESSES_THE_CANDIDATE = re.compile(r"\byou(r)?\b", re.IGNORECASE)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t[:50])
def test_each_diagnosis_names_its_subject_for_either_reader(template: str) -> None:
    to_candidate, to_recruiter = speak(template, "candidate"), speak(template, "recruiter")
    assert ADDRESSES_THE_CANDIDATE.search(to_candidate) and "candidate" not in to_candidate
    assert "the candidate's" in to_recruiter.lower() and not ADDRESSES_THE_CANDIDATE.search(to_recruiter)


ONE_PASS = """
import numpy as np

def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    var = (x * x).mean(axis=0) - mean * mean
    return gamma * (x - mean) / np.sqrt(var + eps) + beta
"""
UNBIASED = """
import numpy as np

def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + eps) + beta
"""


@pytest.mark.parametrize("audience", AUDIENCES)
def test_grade_words_its_diagnoses_for_the_reader_it_is_asked_for(runner, audience: Audience) -> None:  # type: ignore[no-untyped-def]
    from grader import grade

    result = grade("bn-forward-train", UNBIASED, runner=runner, audience=audience)
    opening = {"candidate": "Your code ", "recruiter": "The candidate's code "}[audience]
    assert result.diagnoses and all(d.message.startswith(opening) for d in result.diagnoses)


def test_no_diagnosis_carries_a_hidden_input(runner) -> None:  # type: ignore[no-untyped-def]
    from grader import grade
    from grader.grading import get_task

    result = grade("bn-forward-train", ONE_PASS, runner=runner)
    assert [d.code for d in result.diagnoses] == ["unstable_variance"]
    hidden = [case for case in get_task("bn-forward-train").cases(0) if not case.visible]
    for case in hidden:
        for value in case.arrays["x"].ravel()[:5]:
            assert all(f"{value:.4g}" not in d.message for d in result.diagnoses)

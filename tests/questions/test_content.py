"""The shipped batch-normalization pack: enough questions of every kind, every topic, difficulty and role
covered, the grader's misconceptions asked about, and no wording that gives an answer away."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import get_args

import pytest

from app.questions.service import load_bank
from app.questions.spec import Coding, JobRole, McqMulti, McqSingle, Topic, Written
from grader import list_tasks

ENTRIES = [entry.spec for entry in load_bank().entries]
CHOICE = [spec for spec in ENTRIES if isinstance(spec, McqSingle | McqMulti)]
SINGLE = [spec for spec in CHOICE if isinstance(spec, McqSingle)]
# The misconceptions issue #5 names, each as the grader codes that diagnose it in code.
MISCONCEPTION_FAMILIES = {
    "biased vs unbiased variance": {"unbiased_variance", "biased_running_var", "unbiased_running_var"},
    "eps placement": {"eps_outside_sqrt", "running_var_includes_eps"},
    "momentum conventions": {"momentum_reversed", "momentum_none_not_cumulative"},
    "train vs eval statistics": {"test_uses_batch_stats", "no_running_update"},
    "axis choice": {"wrong_axis", "per_sample_statistics", "per_pixel_statistics"},
}


def test_counts_per_type() -> None:
    counts = Counter(spec.type for spec in ENTRIES)
    assert counts["mcq_single"] + counts["mcq_multi"] >= 80
    assert counts["mcq_single"] >= 40 and counts["mcq_multi"] >= 10
    assert counts["numeric"] >= 20
    assert counts["written"] >= 12
    assert sorted(spec.task for spec in ENTRIES if isinstance(spec, Coding)) == list_tasks()


@pytest.mark.parametrize("topic", get_args(Topic))
def test_every_topic_has_at_least_five_questions(topic: str) -> None:
    assert sum(spec.topic == topic for spec in ENTRIES) >= 5


def test_every_difficulty_and_role_is_represented_in_several_types() -> None:
    for difficulty in (1, 2, 3):
        assert len({spec.type for spec in ENTRIES if spec.difficulty == difficulty}) >= 3, difficulty
    for role in get_args(JobRole):
        assert sum(role in spec.roles for spec in ENTRIES) >= 20, role
        assert any(role in spec.roles and isinstance(spec, Written) for spec in ENTRIES), role


@pytest.mark.parametrize("family", sorted(MISCONCEPTION_FAMILIES))
def test_the_graders_misconceptions_are_asked_about(family: str) -> None:
    tagged = [
        spec.title
        for spec in CHOICE
        for option in spec.options
        if option.misconception in MISCONCEPTION_FAMILIES[family]
    ]
    assert len(tagged) >= 2, tagged


def test_no_crutch_options_or_repeated_questions() -> None:
    crutch = re.compile(r"\b(all|none|both) of the (above|others)\b", re.I)
    assert not [spec.title for spec in CHOICE if any(crutch.search(o.text) for o in spec.options)]
    for attribute in ("title", "prompt"):
        repeated = [v for v, n in Counter(getattr(spec, attribute) for spec in ENTRIES).items() if n > 1]
        assert not repeated, repeated
    for spec in CHOICE:
        assert len({o.text for o in spec.options}) == len(spec.options), spec.title
        assert all(o.explanation != o.text for o in spec.options), spec.title


def _strictly(spec: McqSingle, pick: int) -> bool:
    lengths = sorted(len(o.text) for o in spec.options)
    correct = next(len(o.text) for o in spec.options if o.correct)
    return correct == lengths[pick] and lengths.count(correct) == 1


def test_option_length_does_not_give_the_answer_away() -> None:
    """With four options chance is about 25 %; a writer's habit of making the right answer the most
    careful (longest) one is the classic tell, and overcorrecting makes it the shortest."""
    longest = [spec.title for spec in SINGLE if _strictly(spec, -1)]
    shortest = [spec.title for spec in SINGLE if _strictly(spec, 0)]
    assert len(longest) <= 0.2 * len(SINGLE), longest
    assert len(shortest) <= 0.25 * len(SINGLE), shortest


def test_the_readme_states_the_packs_true_size() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    stated = re.search(
        r"(\d+) multiple-choice \((\d+)\s+single-answer, (\d+) multi-answer\), (\d+) numeric, (\d+) written",
        readme,
    )
    assert stated, "README no longer describes the pack's size"
    counts = Counter(spec.type for spec in ENTRIES)
    assert [int(n) for n in stated.groups()] == [
        len(CHOICE),
        counts["mcq_single"],
        counts["mcq_multi"],
        counts["numeric"],
        counts["written"],
    ]

"""The grader on a corpus of implementations written the ways real people write them (loops, einsum,
keepdims, staged graphs, float32, each misconception alone or with another): every file states the verdict
it deserves and the diagnoses a careful grader names, its most likely misconception first. The expectations
come from the code's own mathematics, not from what the grader said."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.result import GradeResult

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*/*.py"))


def expectation(path: Path) -> tuple[str, list[str]]:
    text = path.read_text()
    verdict = re.search(r"^# verdict: (\w+)$", text, re.MULTILINE)
    codes = re.search(r"^# diagnoses: (.+)$", text, re.MULTILINE)
    assert verdict and codes, f"{path.name} states no verdict or diagnoses"
    listed = [code.strip() for code in codes.group(1).split(",")]
    return verdict.group(1), [] if listed == ["none"] else listed


def test_the_corpus_covers_every_style_and_new_misconception() -> None:
    assert len(FILES) >= 25
    stated = {code for path in FILES for code in expectation(path)[1]}
    assert {
        "float32_precision",
        "unstable_variance",
        "wrong_default_eps",
        "eps_ignored",
        "test_mode_no_eps",
        "groupnorm_per_pixel_statistics",
        "groupnorm_per_channel_statistics",
    } <= stated


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_file_gets_its_verdict_and_diagnoses(grade_source, path: Path) -> None:  # type: ignore[no-untyped-def]
    verdict, codes = expectation(path)
    result: GradeResult = grade_source(path.parent.name, path.read_text())
    named = [d.code for d in result.diagnoses]
    failed = [(c.name, c.status, c.message) for c in result.cases if c.status != "passed"]
    assert result.verdict == verdict, failed
    if not codes:
        assert named == [], named
        return
    assert named[0] == codes[0], named
    assert set(codes) <= set(named), named

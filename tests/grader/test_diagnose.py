"""Diagnosis ranking helpers."""

from __future__ import annotations

from grader.diagnose import first_per_code
from grader.result import Diagnosis


def _d(code: str, confidence: float) -> Diagnosis:
    return Diagnosis(code=code, confidence=confidence, message=code)


def test_each_code_is_kept_once_where_it_first_ranks() -> None:
    ranked = [_d("a", 1.0), _d("b", 0.9), _d("a", 0.5), _d("c", 0.4), _d("b", 0.1)]
    assert [(d.code, d.confidence) for d in first_per_code(ranked)] == [("a", 1.0), ("b", 0.9), ("c", 0.4)]

"""What the task tests assert about a grading."""

from __future__ import annotations

from grader.result import GradeResult


def assert_accepted(result: GradeResult) -> None:
    """Every case passed and nothing was diagnosed; on failure, the failing cases are shown."""
    assert result.verdict == "accepted", [(c.name, c.message) for c in result.cases if c.status != "passed"]
    assert result.score == 1.0
    assert result.diagnoses == []


def assert_named_first(result: GradeResult, code: str) -> None:
    """The submission was rejected (wholly or partly) and `code` is the first diagnosis."""
    assert result.verdict in ("rejected", "partially_accepted"), result.verdict
    assert result.diagnoses, [(c.name, c.message) for c in result.cases]
    assert result.diagnoses[0].code == code, [(d.code, d.confidence) for d in result.diagnoses]


def assert_only_gradient_inconsistent(result: GradeResult, function: str, gradient: str) -> None:
    """The gradient check blames exactly `gradient` from `function`, and the diagnosis says so."""
    check = next(c for c in result.cases if c.name == "gradient_check")
    assert check.status == "wrong_answer", check
    others = {"dx", "dgamma", "dbeta"} - {gradient}
    assert check.message.startswith(f"{gradient} from {function} disagrees"), check.message
    assert not any(f"{name} from" in check.message for name in others), check.message
    codes = [d.code for d in result.diagnoses]
    assert "backward_inconsistent_with_forward" in codes, codes

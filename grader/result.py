"""The grading contract (docs/architecture.md), as pydantic models; `GradeResult.model_dump_json()` is what
`assay grade --json` prints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["accepted", "partially_accepted", "rejected", "compile_error"]
CaseStatus = Literal[
    "passed",
    "wrong_answer",
    "runtime_error",
    "time_limit_exceeded",
    "memory_limit_exceeded",
    "output_limit_exceeded",
    "invalid_output",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseShown(_Model):
    """What a visible (sample) case lets the candidate see: short previews of the inputs, of what their code
    returned and of what was expected. Hidden cases never carry one."""

    inputs: dict[str, str]
    got: dict[str, str]
    expected: dict[str, str]


class TraceLine(_Model):
    """One frame of the candidate's own code in an error's traceback: the line, its function and its text
    (taken from the submitted source, not from the sandbox)."""

    line: int
    function: str
    code: str


class CaseResult(_Model):
    name: str
    visible: bool
    status: CaseStatus
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    message: str = ""
    shown: CaseShown | None = None
    # A speed case's measured time over the reference's (both timed by the supervisor alike).
    speed_ratio: float | None = None
    # Where the candidate's code failed, innermost last: visible cases only, like `shown`.
    trace: list[TraceLine] = Field(default_factory=list)


class Diagnosis(_Model):
    code: str
    confidence: float = Field(ge=0, le=1)
    message: str


class RunOutput(_Model):
    """What the candidate's code printed during a sample run, cut to a readable length. Final gradings never
    carry it: their hidden cases' inputs could be printed into stored results."""

    stdout: str
    stderr: str
    truncated: bool


class Timings(_Model):
    wall_s: float


class GradeResult(_Model):
    task_id: str
    score: float = Field(ge=0, le=1)
    verdict: Verdict
    cases: list[CaseResult]
    diagnoses: list[Diagnosis]
    timings: Timings
    output: RunOutput | None = None

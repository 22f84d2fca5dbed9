"""Assay's grader: a library that never imports `app`.

    grade(task_id, source, *, seed=0, limits=None) -> GradeResult    the contract: docs/architecture.md
    list_tasks() -> list[str]
    diagnosis_codes() -> frozenset[str]                              every code a result can carry

Candidate code runs only in the sandbox (grader.sandbox); reference kernels (grader.reference) run here.
Errors: UnknownTask for a task id that does not exist; grader.sandbox.SandboxUnavailable when this host
cannot run sandboxes.
"""

from __future__ import annotations

from grader.grading import UnknownTask, diagnosis_codes, get_task, grade, list_tasks
from grader.result import CaseResult, Diagnosis, GradeResult

__all__ = [
    "CaseResult",
    "Diagnosis",
    "GradeResult",
    "UnknownTask",
    "diagnosis_codes",
    "get_task",
    "grade",
    "list_tasks",
]

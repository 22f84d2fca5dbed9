"""Assay's grader: a library that never imports `app`.

Tasks register here as the grading issue lands them; until then the registry is empty, and asking for any
task is the usage error "unknown task" of the grading contract.
"""

from __future__ import annotations


class UnknownTask(LookupError):
    """The task id is not one of `list_tasks()`."""


_TASKS: dict[str, str] = {}


def list_tasks() -> list[str]:
    return sorted(_TASKS)


def require_task(task_id: str) -> str:
    if task_id not in _TASKS:
        known = ", ".join(list_tasks()) or "none are installed yet"
        raise UnknownTask(f"unknown task {task_id!r} (known tasks: {known})")
    return _TASKS[task_id]


__all__ = ["UnknownTask", "list_tasks", "require_task"]

"""What a run asks of a sandbox and what comes back: limits, inputs, steps, the request header the
harness reads, and the outcome of each step."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, Any, Literal, Protocol

import numpy as np
from numpy.lib import format as npy_format

RunStatus = Literal[
    "ok",
    "compile_error",
    "runtime_error",
    "time_limit_exceeded",
    "memory_limit_exceeded",
    "output_limit_exceeded",
    "invalid_output",
]
# "not_run": the step never started, or finished but its result was lost when the run was stopped; the
# grader may run it again in a fresh sandbox. The harness itself never reports it.
StepStatus = Literal[
    "ok",
    "runtime_error",
    "time_limit_exceeded",
    "memory_limit_exceeded",
    "output_limit_exceeded",
    "invalid_output",
    "not_run",
]
REPORTED_STEP_STATUSES: frozenset[str] = frozenset(StepStatus.__args__) - {"not_run"}  # type: ignore[attr-defined]
FATAL_STATUSES = frozenset({"compile_error", "runtime_error", "time_limit_exceeded", "memory_limit_exceeded"})
MIB = 1024 * 1024


class SandboxUnavailable(RuntimeError):
    """This host cannot run sandboxes (bwrap missing, user namespaces off, no readable interpreter…)."""


# ---------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: float = 5.0
    call_timeout_s: float = 3.0
    memory_mb: int = 256
    output_mb: int = 32
    stream_kb: int = 64
    processes: int = 16
    open_files: int = 64
    file_mb: int = 8

    def for_harness(self) -> dict[str, Any]:
        return {
            "cpu_s": self.cpu_s,
            "call_timeout_s": self.call_timeout_s,
            "memory_bytes": self.memory_mb * MIB,
            "output_bytes": self.output_mb * MIB,
            "file_bytes": self.file_mb * MIB,
            "open_files": self.open_files,
            "processes": self.processes,
        }


@dataclass(frozen=True)
class Input:
    """An argument taken from the request's input arrays (a fresh copy per step)."""

    name: str


@dataclass(frozen=True)
class Ref:
    """An argument taken from an earlier step's saved result, e.g. Ref("fwd", (1,)) for its cache."""

    name: str
    path: tuple[int | str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One call inside the sandbox: `call` is a function name, or "saved_name.method"."""

    call: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    save_as: str | None = None
    return_result: bool = True
    report_args: bool = False
    # Timed from outside (see _Clock): the step's inputs reach the sandbox only when it is about to run.
    timed: bool = False


@dataclass(frozen=True)
class RunRequest:
    source: str
    steps: Sequence[Step]
    inputs: Mapping[str, np.ndarray]
    limits: Limits = Limits()

    @cached_property
    def deferred(self) -> dict[int, list[str]]:
        """For each timed step, the inputs only it uses: sent when it is about to run, not with the
        request (computed once: the header, the request's writer and the clock all need it)."""
        used = {i: sorted(_inputs_of((step.args, step.kwargs))) for i, step in enumerate(self.steps)}
        deferred = {i: names for i, names in used.items() if self.steps[i].timed}
        for i, names in used.items():
            for j, later in deferred.items():
                if i != j and set(names) & set(later):
                    raise ValueError(f"a timed step's inputs must be its own (steps {i} and {j} share some)")
        return deferred

    @cached_property
    def up_front(self) -> list[str]:
        """The inputs sent with the request, in order."""
        later = {name for names in self.deferred.values() for name in names}
        return [name for name in self.inputs if name not in later]

    @property
    def max_result_items(self) -> int:
        """What the result stream may hold: a mark and at most a frame per call, a request for each timed
        step's inputs, and the final frame. More is a flood, refused before it costs an object an item."""
        return 2 * len(self.steps) + len(self.deferred) + 2


def _encode_arg(value: Any, input_names: frozenset[str]) -> Any:
    if isinstance(value, Input):
        if value.name not in input_names:
            raise ValueError(f"step refers to unknown input {value.name!r}")
        return {"$input": value.name}
    if isinstance(value, Ref):
        return {"$ref": value.name, "path": list(value.path)}
    if isinstance(value, dict):
        return {"$dict": {str(k): _encode_arg(v, input_names) for k, v in value.items()}}
    if isinstance(value, tuple):
        return {"$tuple": [_encode_arg(v, input_names) for v in value]}
    if isinstance(value, list):
        return {"$list": [_encode_arg(v, input_names) for v in value]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot pass {type(value).__name__} into the sandbox; use Input() for arrays")


def _inputs_of(value: Any) -> set[str]:
    if isinstance(value, Input):
        return {value.name}
    if isinstance(value, dict):
        return set().union(*map(_inputs_of, value.values()))
    if isinstance(value, tuple | list):
        return set().union(*map(_inputs_of, value))
    return set()


def request_header(request: RunRequest) -> bytes:
    """The request's JSON header, length-prefixed; raises before anything runs if a step is malformed."""
    names = frozenset(request.inputs)
    header = {
        "source": request.source,
        "limits": request.limits.for_harness(),
        "steps": [
            {
                "call": step.call,
                "args": [_encode_arg(a, names) for a in step.args],
                "kwargs": {k: _encode_arg(v, names) for k, v in step.kwargs.items()},
                "save_as": step.save_as,
                "return_result": step.return_result,
                "report_args": step.report_args,
            }
            for step in request.steps
        ],
    }
    header["inputs"] = request.up_front
    header["deferred"] = {str(index): step_names for index, step_names in request.deferred.items()}
    encoded = json.dumps(header).encode()
    return struct.pack("<I", len(encoded)) + encoded


def write_request(header: bytes, request: RunRequest, stream: IO[bytes]) -> None:
    """The total length, the header, then each input sent up front (RunRequest.up_front) as an .npy record
    whose data is the array's own memory (no copy), streamed so the harness reads while we write."""
    write_block(stream, header, [request.inputs[name] for name in request.up_front])


def write_block(stream: IO[bytes], prefix: bytes, arrays: Sequence[np.ndarray]) -> None:
    records: list[tuple[bytes, np.ndarray]] = []
    for value in arrays:
        array = np.ascontiguousarray(value)
        header_buffer = io.BytesIO()
        npy_format.write_array_header_1_0(header_buffer, npy_format.header_data_from_array_1_0(array))
        records.append((header_buffer.getvalue(), array))
    stream.write(struct.pack("<Q", len(prefix) + sum(len(h) + a.nbytes for h, a in records)))
    stream.write(prefix)
    for npy_header, array in records:
        stream.write(npy_header)
        if array.nbytes:
            stream.write(array.data.cast("B"))
    stream.flush()


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class StepOutcome:
    status: StepStatus
    result: Any = None
    args_after: list[Any] | None = None
    kwargs_after: dict[str, Any] | None = None
    error_type: str = ""
    error_message: str = ""
    # Where in the candidate's file the error came from: (line number, function name), innermost last.
    error_lines: tuple[tuple[int, str], ...] = ()
    # A timed step's CPU time, counted by the kernel between sending its inputs and receiving its result.
    cpu_s: float | None = None


@dataclass(frozen=True)
class RunResult:
    status: RunStatus
    steps: list[StepOutcome]
    stdout: str = ""
    stderr: str = ""
    streams_truncated: bool = False
    message: str = ""
    error_lines: tuple[tuple[int, str], ...] = ()  # of a compile error or an error while loading the module
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_mb: float = 0.0


class Runner(Protocol):
    """What the grader needs from an executor; tests may swap in their own."""

    def run(self, request: RunRequest) -> RunResult: ...

"""The only code that runs inside the sandbox with the candidate. Standalone: it imports nothing from Assay.

Protocol (the supervisor is grader/sandbox.py):
  * started warm, before any submission: imports NumPy, writes one READY frame on the result fd, then
    blocks on stdin;
  * stdin, then EOF: u32 header length, a JSON header {source, steps, limits}, then an .npz of input arrays
    (read with allow_pickle=False);
  * the result fd named by argv[1] (never stdout, which belongs to the candidate): one frame per step,
    u64 length + .npz bytes, the .npz holding the step's arrays and a "__meta__" JSON record; then a DONE
    frame, then os._exit.

Everything here is trusted only until the candidate's code runs; after that the candidate could rewrite any
of it. That is fine: whatever it writes is only its own output, which the supervisor validates as untrusted
bytes and compares, outside, with references the sandbox never sees.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import struct
import sys
import time
import types
from typing import Any

sys.path.insert(0, "/opt/assay/site")
import numpy as np  # (the path above is where the supervisor binds NumPy)

READY, STEP, DONE, FATAL = "ready", "step", "done", "fatal"
MAX_MESSAGE = 2000
MAX_DEPTH = 6
MAX_ARRAYS_PER_STEP = 64


class CallTimedOut(BaseException):
    """Raised from the timer signal; a BaseException so a candidate's `except Exception` cannot swallow it."""


class OutputTooLarge(Exception):
    pass


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_frame(fd: int, meta: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
    buffer = io.BytesIO()
    payload = dict(arrays or {})
    payload["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(buffer, **payload)  # type: ignore[arg-type]
    data = buffer.getbuffer()
    write_all(fd, struct.pack("<Q", len(data)))
    write_all(fd, data)


def short(text: object) -> str:
    text = str(text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


class Encoder:
    """Turns a returned Python value into JSON plus named arrays; anything else becomes an opaque marker."""

    def __init__(self, budget: int) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.budget = budget

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            return {"$opaque": "too deeply nested"}
        if isinstance(value, np.ndarray | np.generic):
            if len(self.arrays) >= MAX_ARRAYS_PER_STEP:
                return {"$opaque": "too many arrays"}
            array = np.asarray(value)
            if array.dtype.hasobject or array.dtype.fields is not None:
                return {"$opaque": f"array of dtype {array.dtype}"}
            self.budget -= array.nbytes
            if self.budget < 0:
                raise OutputTooLarge(
                    f"the returned arrays exceed the output limit ({array.shape} {array.dtype})"
                )
            name = f"a{len(self.arrays)}"
            self.arrays[name] = np.ascontiguousarray(array)
            return {"$array": name, "$type": type(value).__name__}
        if value is None or isinstance(value, bool | int | str):
            return value if not isinstance(value, str) else short(value)
        if isinstance(value, float):
            return (
                value
                if value == value and value not in (float("inf"), float("-inf"))
                else {"$float": repr(value)}
            )
        if isinstance(value, tuple | list):
            return {"$seq": [self.encode(v, depth + 1) for v in value[:64]], "$kind": type(value).__name__}
        if isinstance(value, dict):
            return {"$dict": {short(k): self.encode(v, depth + 1) for k, v in list(value.items())[:64]}}
        return {"$opaque": type(value).__name__}


def resolve(spec: Any, inputs: dict[str, np.ndarray], saved: dict[str, Any]) -> Any:
    """Build an argument from its JSON description; arrays are fresh copies so mutations stay visible."""
    if isinstance(spec, dict):
        if "$input" in spec:
            return np.array(inputs[spec["$input"]], copy=True)
        if "$ref" in spec:
            value = saved[spec["$ref"]]
            for key in spec.get("path", []):
                value = (
                    value[key] if not isinstance(key, str) or isinstance(value, dict) else getattr(value, key)
                )
            return value
        if "$dict" in spec:
            return {k: resolve(v, inputs, saved) for k, v in spec["$dict"].items()}
        if "$tuple" in spec:
            return tuple(resolve(v, inputs, saved) for v in spec["$tuple"])
        if "$list" in spec:
            return [resolve(v, inputs, saved) for v in spec["$list"]]
    return spec


def target(module: types.ModuleType, saved: dict[str, Any], dotted: str) -> Any:
    head, *rest = dotted.split(".")
    value = saved[head] if head in saved else getattr(module, head)
    for name in rest:
        value = getattr(value, name)
    return value


def apply_limits(limits: dict[str, Any]) -> None:
    with open("/proc/self/statm") as statm_file:
        statm = statm_file.read().split()
    current_vm = int(statm[0]) * resource.getpagesize()
    address_space = current_vm + int(limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime + limits["cpu_s"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def on_timer(signum: int, frame: object) -> None:
    raise CallTimedOut()


def run_step(
    index: int,
    step: dict[str, Any],
    module: types.ModuleType,
    inputs: dict[str, np.ndarray],
    saved: dict[str, Any],
    limits: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    started = time.perf_counter()
    meta = {"kind": STEP, "index": index, "status": "ok"}
    encoder = Encoder(limits["output_bytes"])
    args = kwargs = None
    try:
        func = target(module, saved, step["call"])
        args = [resolve(a, inputs, saved) for a in step.get("args", [])]
        kwargs = {k: resolve(v, inputs, saved) for k, v in step.get("kwargs", {}).items()}
        signal.setitimer(signal.ITIMER_REAL, limits["call_timeout_s"])
        try:
            result = func(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            leave_if_forked()
        if step.get("save_as"):
            saved[step["save_as"]] = result
        if step.get("return_result", True):
            meta["result"] = encoder.encode(result)
    except CallTimedOut:
        meta.update(status="time_limit_exceeded", error={"type": "TimeLimitExceeded", "message": ""})
    except OutputTooLarge as exc:
        encoder.arrays.clear()
        meta.pop("result", None)
        meta.update(
            status="output_limit_exceeded", error={"type": "OutputLimitExceeded", "message": str(exc)}
        )
    except MemoryError:
        meta.update(status="memory_limit_exceeded", error={"type": "MemoryError", "message": ""})
    except BaseException as exc:  # the candidate's error, reported and survived
        leave_if_forked()
        meta.update(status="runtime_error", error={"type": type(exc).__name__, "message": short(exc)})
    if step.get("report_args") and args is not None and meta["status"] == "ok":
        try:
            meta["args_after"] = encoder.encode(list(args))
            meta["kwargs_after"] = encoder.encode(kwargs)
        except OutputTooLarge as exc:
            encoder.arrays.clear()
            meta = {
                "kind": STEP,
                "index": index,
                "status": "output_limit_exceeded",
                "error": {"type": "OutputLimitExceeded", "message": str(exc)},
            }
    meta["wall_s"] = time.perf_counter() - started
    return meta, encoder.arrays


HARNESS_PID = os.getpid()


def leave_if_forked() -> None:
    """A process the candidate forked must not go on to run the harness and report results."""
    if os.getpid() != HARNESS_PID:
        os._exit(0)


def send_step(out: int, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    try:
        write_frame(out, meta, arrays)
    except MemoryError:
        write_frame(
            out,
            {
                "kind": STEP,
                "index": meta["index"],
                "status": "memory_limit_exceeded",
                "error": {"type": "MemoryError", "message": "while sending the result"},
            },
        )


def main() -> None:
    out = int(sys.argv[1])
    signal.signal(signal.SIGALRM, on_timer)
    write_frame(out, {"kind": READY})

    raw = sys.stdin.buffer.read()
    (header_length,) = struct.unpack_from("<I", raw, 0)
    header = json.loads(raw[4 : 4 + header_length])
    with np.load(io.BytesIO(raw[4 + header_length :]), allow_pickle=False) as archive:
        inputs = {name: archive[name] for name in archive.files}
    del raw
    limits = header["limits"]
    apply_limits(limits)

    module = types.ModuleType("solution")
    module.__file__ = "solution.py"
    sys.modules["solution"] = module
    try:
        code = compile(header["source"], "solution.py", "exec")
    except (SyntaxError, ValueError) as exc:
        write_frame(
            out,
            {
                "kind": FATAL,
                "status": "compile_error",
                "error": {"type": type(exc).__name__, "message": short(exc)},
            },
        )
        os._exit(0)
    signal.setitimer(signal.ITIMER_REAL, limits["call_timeout_s"])
    try:
        exec(code, module.__dict__)  # noqa: S102 - this is the sandbox's purpose
        signal.setitimer(signal.ITIMER_REAL, 0)
        leave_if_forked()
    except CallTimedOut:
        write_frame(
            out,
            {
                "kind": FATAL,
                "status": "time_limit_exceeded",
                "error": {"type": "TimeLimitExceeded", "message": "while loading the module"},
            },
        )
        os._exit(0)
    except MemoryError:
        write_frame(
            out,
            {
                "kind": FATAL,
                "status": "memory_limit_exceeded",
                "error": {"type": "MemoryError", "message": ""},
            },
        )
        os._exit(0)
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        write_frame(
            out,
            {
                "kind": FATAL,
                "status": "runtime_error",
                "error": {"type": type(exc).__name__, "message": short(exc)},
            },
        )
        os._exit(0)

    saved: dict[str, Any] = {}
    for index, step in enumerate(header["steps"]):
        meta, arrays = run_step(index, step, module, inputs, saved, limits)
        send_step(out, meta, arrays)
        del meta, arrays
    sys.stdout.flush()
    sys.stderr.flush()
    write_frame(out, {"kind": DONE})
    os._exit(0)


if __name__ == "__main__":
    main()

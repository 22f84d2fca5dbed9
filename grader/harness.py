"""The only code that runs inside the sandbox with the candidate. Standalone: it imports nothing from Assay.

Protocol (the supervisor is grader/sandbox/process.py):
  * started warm, before any submission: imports NumPy, pays first-use costs, writes a READY frame on the
    result fd (argv[1]), then blocks on stdin;
  * stdin: u64 length of the rest, u32 header length, a JSON header {source, steps, limits, inputs,
    deferred}, then the input arrays as consecutive .npy records, each read with np.load(allow_pickle=False);
  * a timed step's inputs ("deferred", by step) are not in the request: before such a step the harness
    writes WANT | k on the result fd and reads them (u64 length, .npy records) from stdin, runs the step,
    sends its result at once, and waits for an empty block saying the clock was read. The supervisor times
    the step from outside, by the kernel's count of this process's CPU time between the two, on inputs
    nobody saw before (so nothing can be computed ahead);
  * on the result fd (never stdout, which belongs to the candidate), a stream of items, each a u64 word:
      - MARK | k: "step k starts" (no body), so a run killed mid-step still says which step was running;
      - a byte length, then that many bytes of .npz holding the arrays of one or more finished steps and a
        "__meta__" JSON record. Steps are batched, one archive per FLUSH_S of work, because each archive
        costs as much as a small step.
    then a final frame marked done (with the process's CPU time and peak memory), the END word, os._exit.

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
import zlib
from typing import Any, NoReturn

sys.path.insert(0, "/opt/assay/site")
import numpy as np  # (the path above is where the supervisor binds NumPy)

MARK = 1 << 63
WANT = MARK | 1 << 32  # | k: "send step k's deferred inputs"
END = MARK | 0xFFFFFFFF  # after the final frame: the supervisor may stop reading
FLUSH_S = 0.02
MAX_MESSAGE = 2000
MAX_DEPTH = 6
MAX_ARRAYS_PER_STEP = 64
MAX_OWN_FRAMES = 5


class CallTimedOut(BaseException):
    """Raised from the timer signal; a BaseException so a candidate's `except Exception` cannot swallow it."""


class OutputTooLarge(Exception):
    pass


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


ZIP_LOCAL = struct.Struct("<4s5H3I2H")
ZIP_CENTRAL = struct.Struct("<4s6H3I5H2I")
ZIP_END = struct.Struct("<4s4H2IH")
DOS_DATE_1980_01_01 = 0x21


def npz_parts(arrays: dict[str, np.ndarray]) -> list[bytes | memoryview]:
    """The pieces of an uncompressed .npz (a zip of .npy files, as np.savez writes and np.load reads),
    with each array's memory referenced rather than copied, so it goes straight to the pipe."""
    parts: list[bytes | memoryview] = []
    central: list[bytes] = []
    offset = 0
    for name, value in arrays.items():
        array = np.ascontiguousarray(value)
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
        head = header.getvalue()
        body = array.data.cast("B") if array.nbytes else b""
        crc = zlib.crc32(body, zlib.crc32(head))
        size = len(head) + array.nbytes
        filename = f"{name}.npy".encode()
        local = ZIP_LOCAL.pack(
            b"PK\x03\x04", 20, 0, 0, 0, DOS_DATE_1980_01_01, crc, size, size, len(filename), 0
        )
        parts += [local, filename, head, body]
        central.append(
            ZIP_CENTRAL.pack(
                b"PK\x01\x02",
                20,
                20,
                0,
                0,
                0,
                DOS_DATE_1980_01_01,
                crc,
                size,
                size,
                len(filename),
                0,
                0,
                0,
                0,
                0o100644 << 16,
                offset,
            )
            + filename
        )
        offset += len(local) + len(filename) + size
    directory = b"".join(central)
    parts += [
        directory,
        ZIP_END.pack(b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0),
    ]
    return parts


def write_frame(fd: int, meta: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
    payload = dict(arrays or {})
    payload["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    parts = npz_parts(payload)
    write_all(fd, struct.pack("<Q", sum(len(part) for part in parts)))
    for part in parts:
        write_all(fd, part)


def short(text: object) -> str:
    text = str(text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


class Encoder:
    """Turns a returned Python value into JSON plus named arrays; anything else becomes an opaque marker."""

    def __init__(self, prefix: str, budget: int) -> None:
        self.prefix = prefix
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
            name = f"{self.prefix}{len(self.arrays)}"
            self.arrays[name] = np.ascontiguousarray(array)
            return {"$array": name, "$type": type(value).__name__}
        if value is None or isinstance(value, bool | int | str):
            return value if not isinstance(value, str) else short(value)
        if isinstance(value, float):
            finite = value == value and value not in (float("inf"), float("-inf"))
            return value if finite else {"$float": repr(value)}
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
        current_vm = int(statm_file.read().split()[0]) * resource.getpagesize()
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


def own_lines(exc: BaseException) -> list[list[Any]]:
    """Where in the candidate's file an exception came from, innermost last, as [line, function] pairs:
    their own frames only (not NumPy's, not ours), the last few. The host adds each line's text from the
    source it sent, so nothing here has to be believed but two small numbers and a name."""
    frames: list[list[Any]] = []
    trace = exc.__traceback__
    while trace is not None:
        code = trace.tb_frame.f_code
        if code.co_filename == "solution.py":
            frames.append([trace.tb_lineno, code.co_name])
        trace = trace.tb_next
    if isinstance(exc, SyntaxError) and exc.filename == "solution.py" and exc.lineno:
        frames.append([exc.lineno, "<module>"])
    return frames[-MAX_OWN_FRAMES:]


def error(status: str, kind: str, message: object = "", cause: BaseException | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"type": kind, "message": short(message)}
    if cause is not None:
        record["lines"] = own_lines(cause)
    return {"status": status, "error": record}


def run_step(
    index: int,
    step: dict[str, Any],
    module: types.ModuleType,
    inputs: dict[str, np.ndarray],
    saved: dict[str, Any],
    limits: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    meta: dict[str, Any] = {"index": index, "status": "ok"}
    encoder = Encoder(f"s{index}_", limits["output_bytes"])
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
        if step.get("save_as"):
            saved[step["save_as"]] = result
        if step.get("return_result", True):
            meta["result"] = encoder.encode(result)
        if step.get("report_args"):
            meta["args_after"] = encoder.encode(list(args))
            meta["kwargs_after"] = encoder.encode(kwargs)
    except CallTimedOut as exc:  # where it was stopped says where it was stuck
        meta.update(error("time_limit_exceeded", "TimeLimitExceeded", "", exc))
    except OutputTooLarge as exc:
        encoder.arrays.clear()
        meta = {"index": index, **error("output_limit_exceeded", "OutputLimitExceeded", exc)}
    except MemoryError:
        meta.update(error("memory_limit_exceeded", "MemoryError"))
    except BaseException as exc:  # the candidate's error, reported and survived
        meta.update(error("runtime_error", type(exc).__name__, exc, exc))
    return meta, encoder.arrays


class Batch:
    """Finished steps waiting to be sent together."""

    def __init__(self, out: int) -> None:
        self.out = out
        self.metas: list[dict[str, Any]] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.last_flush = time.perf_counter()

    def add(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.metas.append(meta)
        self.arrays.update(arrays)
        if time.perf_counter() - self.last_flush >= FLUSH_S:
            self.flush()

    def flush(self, *, done: bool = False) -> None:
        if self.metas or done:
            meta: dict[str, Any] = {"kind": "steps", "steps": self.metas, "done": done}
            if done:
                usage = resource.getrusage(resource.RUSAGE_SELF)
                meta["usage"] = {"cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_kb": usage.ru_maxrss}
            try:
                write_frame(self.out, meta, self.arrays)
            except MemoryError:
                lost = [
                    {"index": m["index"], **error("memory_limit_exceeded", "MemoryError", "sending results")}
                    for m in self.metas
                ]
                self.arrays.clear()
                write_frame(self.out, {"kind": "steps", "steps": lost, "done": done})
            if done:
                write_all(self.out, struct.pack("<Q", END))
        self.metas, self.arrays = [], {}
        self.last_flush = time.perf_counter()


def fatal(
    out: int, status: str, kind: str, message: object = "", cause: BaseException | None = None
) -> NoReturn:
    write_frame(out, {"kind": "fatal", **error(status, kind, message, cause)})
    os._exit(0)


def read_exactly(source: io.FileIO, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        got = source.readinto(view[filled:])
        if not got:
            raise EOFError("the request ended early")
        filled += got
    return buffer


def read_block() -> io.BytesIO:
    # The length comes first so a block lands in one buffer (reading a pipe to EOF grows and copies).
    stdin = io.FileIO(0, closefd=False)
    (total,) = struct.unpack("<Q", read_exactly(stdin, 8))
    return io.BytesIO(read_exactly(stdin, total))


def read_arrays(stream: io.BytesIO, names: list[str]) -> dict[str, np.ndarray]:
    return {name: np.load(stream, allow_pickle=False) for name in names}


def read_request() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    stream = read_block()
    (header_length,) = struct.unpack("<I", stream.read(4))
    header = json.loads(stream.read(header_length))
    return header, read_arrays(stream, header["inputs"])


def warm_up() -> None:
    """Pay, before READY, the first-use costs a fresh process would otherwise charge to the submission:
    lazily imported modules and code paths (.npy reading, .npz writing, JSON) and a heap grown and touched
    at the sizes submissions use. With GLIBC_TUNABLES set by the supervisor, freed memory stays in the heap,
    so the submission's arrays land on pages that are already mapped (first calls are ~10x faster)."""
    arrays = [np.ones((64, 256)) for _ in range(32)]
    stream = io.BytesIO()
    for array in arrays:
        np.save(stream, array, allow_pickle=False)
    stream.seek(0)
    loaded = {f"a{i}": np.load(stream, allow_pickle=False) for i in range(len(arrays))}
    loaded["__meta__"] = np.frombuffer(json.dumps({"warm": True}).encode(), dtype=np.uint8)
    b"".join(npz_parts(loaded))
    scratch = np.ones(3 << 19)  # 12 MiB, below the mmap threshold, so it comes from (and returns to) the heap
    scratch.mean(axis=0)
    del arrays, loaded, scratch, stream


def main() -> None:
    out = int(sys.argv[1])
    signal.signal(signal.SIGALRM, on_timer)
    warm_up()
    write_frame(out, {"kind": "ready"})

    header, inputs = read_request()
    limits = header["limits"]
    apply_limits(limits)

    module = types.ModuleType("solution")
    module.__file__ = "solution.py"
    sys.modules["solution"] = module
    try:
        code = compile(header["source"], "solution.py", "exec")
    except (SyntaxError, ValueError) as exc:
        fatal(out, "compile_error", type(exc).__name__, exc, exc)
    signal.setitimer(signal.ITIMER_REAL, limits["call_timeout_s"])
    try:
        exec(code, module.__dict__)  # noqa: S102 - the sandbox's purpose  # nosec B102
        signal.setitimer(signal.ITIMER_REAL, 0)
    except CallTimedOut:
        fatal(out, "time_limit_exceeded", "TimeLimitExceeded", "while loading the module")
    except MemoryError:
        fatal(out, "memory_limit_exceeded", "MemoryError")
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        fatal(out, "runtime_error", type(exc).__name__, exc, exc)

    saved: dict[str, Any] = {}
    batch = Batch(out)
    deferred: dict[str, list[str]] = header.get("deferred", {})
    for index, step in enumerate(header["steps"]):
        write_all(out, struct.pack("<Q", MARK | index))
        timed = str(index) in deferred
        if timed:
            batch.flush()  # what is done so far leaves before the clock starts
            write_all(out, struct.pack("<Q", WANT | index))
            inputs.update(read_arrays(read_block(), deferred[str(index)]))
        batch.add(*run_step(index, step, module, inputs, saved, limits))
        if timed:
            batch.flush()  # the result is what stops the clock
            read_block()  # the supervisor has read it: go on (before, this process must not end or work)
    sys.stdout.flush()  # before END: the supervisor stops reading the streams soon after it
    sys.stderr.flush()
    batch.flush(done=True)
    os._exit(0)


if __name__ == "__main__":
    main()

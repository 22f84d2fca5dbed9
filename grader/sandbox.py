"""Running candidate code: bubblewrap sandboxes, warm and single-use, behind the `Runner` protocol.

Each sandbox is launched as

    [cgroup join] prlimit <outer limits> setpriv --reuid=<slot uid> … bwrap <namespaces, binds, seccomp>
        python3 -I -S -B /opt/assay/harness.py <result fd>

* a non-root uid per slot: bwrap run as root would map the sandbox to host root, and per-uid limits stay
  per candidate;
* every namespace unshared (no network at all), nested user namespaces disabled, a fresh /proc, read-only
  binds of only the interpreter, its standard library, the shared libraries and NumPy, empty read-only
  /tmp and /dev/shm, /dev and the root read-only (nothing writable, so no memory held in files), a cleared
  environment with BLAS threads set to 1;
* a seccomp deny-list (grader/seccomp.py) that also keeps the candidate to one process with one thread and
  refuses every way of holding memory outside its address space (SysV IPC, memfds, enlarged pipes); rlimits
  outside (prlimit) and tightened inside by the harness once NumPy is imported and before the candidate's
  code runs;
* cgroup v2 memory, pids and cpu limits where the host delegates them (`cgroup_support()` says why not).

A pool keeps a few sandboxes started, with NumPy imported, each waiting for exactly one submission and
discarded after it, so a submission does not pay for interpreter start-up and no state passes between
candidates. The supervisor enforces wall time, caps every stream it reads, validates results as untrusted
bytes (grader/output.py, interpret_results), and times speed-checked calls itself (_Clock). Reference
outputs are never sent in.
"""

from __future__ import annotations

import ctypes
import fcntl
import io
import itertools
import json
import os
import queue
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import numpy as np
from numpy.lib import format as npy_format

from grader.output import (
    END_MARK,
    STEP_MARK,
    WANT_FLAG,
    InvalidOutput,
    Mark,
    clean_text,
    decode_value,
    parse_frame,
    split_frames,
)
from grader.seccomp import UnsupportedArchitecture, build_filter

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

HARNESS = Path(__file__).with_name("harness.py")
SANDBOX_HARNESS = "/opt/assay/harness.py"
SANDBOX_SITE = "/opt/assay/site"
# Private, empty and read-only mounts inside the sandbox, not the host's shared folders.
SANDBOX_TMP = "/tmp"  # nosec B108
SANDBOX_SHM = "/dev/shm"  # nosec B108
# Nothing in the sandbox is writable: every tmpfs holds host memory (and inodes, which bwrap cannot limit)
# outside RLIMIT_AS, and no task needs a file.
READ_ONLY_MOUNTS = (SANDBOX_TMP, SANDBOX_SHM, "/dev")
MIB = 1024 * 1024
PR_SET_CHILD_SUBREAPER = 36


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
    _write_block(stream, header, [request.inputs[name] for name in request.up_front])


def _write_block(stream: IO[bytes], prefix: bytes, arrays: Sequence[np.ndarray]) -> None:
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
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_mb: float = 0.0


class Runner(Protocol):
    """What the grader needs from an executor; tests may swap in their own."""

    def run(self, request: RunRequest) -> RunResult: ...


# ---------------------------------------------------------------------------------------------- the host


@dataclass(frozen=True)
class Interpreter:
    executable: str
    stdlib: str
    version: str
    shared_library: str | None  # libpython, when the interpreter links it dynamically


_INTERPRETER_PROBE = """
import json, os, sysconfig
var = sysconfig.get_config_var
shared = os.path.join(var("LIBDIR") or "", var("INSTSONAME") or "") if var("Py_ENABLE_SHARED") else ""
shared = shared if shared and os.path.isfile(shared) else ""
print(json.dumps({"stdlib": sysconfig.get_paths()["stdlib"], "shared": shared}))
"""


def _world_readable(path: Path) -> bool:
    """True when a uid with no special rights can reach and read `path` (every parent searchable)."""
    try:
        resolved = path.resolve(strict=True)
    except OSError:
        return False
    for parent in reversed(resolved.parents):
        if not parent.stat().st_mode & 0o001:
            return False
    return bool(resolved.stat().st_mode & 0o004)


@lru_cache(maxsize=1)
def find_interpreter() -> Interpreter:
    """An interpreter of our Python minor version that the sandbox's unprivileged uid can read.

    Our own interpreter often lives somewhere private (e.g. pyenv under /root); NumPy's compiled modules only
    need the same minor version, so the distribution's python3.X serves as well.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(sys.base_prefix) / "bin" / f"python{version}", Path(f"/usr/bin/python{version}")]
    for candidate in candidates:
        if not _world_readable(candidate):
            continue
        probe = subprocess.run(  # noqa: S603 - a fixed interpreter path and a constant script
            [str(candidate), "-I", "-c", _INTERPRETER_PROBE],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if probe.returncode != 0:
            continue
        found = json.loads(probe.stdout)
        stdlib, shared = found["stdlib"], found["shared"] or None
        if _world_readable(Path(stdlib)) and (shared is None or _world_readable(Path(shared))):
            return Interpreter(str(candidate.resolve()), stdlib, version, shared)
    raise SandboxUnavailable(
        f"no Python {version} interpreter readable by an unprivileged user; install Debian's python{version}"
    )


def _numpy_dirs() -> list[tuple[str, str]]:
    package = Path(np.__file__).resolve().parent
    binds = [(str(package), f"{SANDBOX_SITE}/numpy")]
    libs = package.parent / "numpy.libs"
    if libs.is_dir():
        binds.append((str(libs), f"{SANDBOX_SITE}/numpy.libs"))
    return binds


def _library_dir() -> str:
    """The system's shared libraries (libc, libm, libz, libffi…). Never /usr/local/lib: in a container
    image that is where Python packages, Assay itself included, are installed."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    return f"/usr/lib/{multiarch}" if multiarch else "/usr/lib"


def cgroup_support() -> tuple[bool, str]:
    """Whether this host delegates cgroup v2 memory and pids control to us, and if not, why."""
    root = Path("/sys/fs/cgroup")
    controllers_file = root / "cgroup.controllers"
    if not controllers_file.exists():
        return False, "the host uses cgroup v1 (no unified cgroup v2 hierarchy at /sys/fs/cgroup)"
    available = set(controllers_file.read_text().split())
    missing = {"memory", "pids"} - available
    if missing:
        return False, f"cgroup v2 controllers not delegated: {', '.join(sorted(missing))}"
    if not os.access(root, os.W_OK):
        return False, "no write access to /sys/fs/cgroup"
    return True, "cgroup v2 memory and pids limits are applied"


CGROUP_PARENT = Path("/sys/fs/cgroup/assay-sandbox")
CPU_PERIOD_US = 100_000


def _prepare_cgroup(name: str, limits: Limits) -> Path:
    CGROUP_PARENT.mkdir(exist_ok=True)
    with suppress(OSError):  # enabling controllers for children may already be done
        (CGROUP_PARENT / "cgroup.subtree_control").write_text("+memory +pids +cpu")
    group = CGROUP_PARENT / name
    group.mkdir(exist_ok=True)
    # The pool sandbox exists before the request, so the group gets the process-wide ceiling here and the
    # harness applies the request's tighter rlimits inside.
    (group / "memory.max").write_text(str((limits.memory_mb + 512) * MIB))
    (group / "memory.swap.max").write_text("0")
    (group / "pids.max").write_text(str(limits.processes + 4))
    with suppress(OSError):  # the cpu controller may not be delegated; memory and pids are required
        (group / "cpu.max").write_text(f"{CPU_PERIOD_US} {CPU_PERIOD_US}")  # at most one core
    return group


@dataclass(frozen=True)
class HostConfig:
    bwrap: str
    interpreter: Interpreter
    uid_base: int = 61000
    slots: int = 256  # uids reserved for sandboxes on this machine, shared by every process (see UidSlots)
    outer_memory_mb: int = 4096
    outer_processes: int = 64


def detect_host() -> HostConfig:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap is not installed (apt-get install bubblewrap)")
    for tool in ("setpriv", "prlimit"):
        if shutil.which(tool) is None:
            raise SandboxUnavailable(f"{tool} is not installed (apt-get install util-linux)")
    if os.geteuid() != 0:
        raise SandboxUnavailable(
            "the sandbox supervisor must run as root to drop each sandbox to its own uid"
        )
    return HostConfig(bwrap=bwrap, interpreter=find_interpreter())


class UidSlots:
    """Hands out sandbox uids so that no two live sandboxes on this machine share one, whichever process
    (app, several workers) started them: each uid is held through an flock on its own lock file, which the
    kernel releases if the holder dies."""

    LOCK_DIR = Path("/run/assay-sandbox")

    def __init__(self, base: int, count: int) -> None:
        self.uids = range(base, base + count)
        self.LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        self._held: dict[int, int] = {}
        self._lock = threading.Lock()

    def take(self, timeout_s: float = 60.0) -> int:
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                for uid in self.uids:
                    if uid in self._held:
                        continue
                    fd = os.open(self.LOCK_DIR / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        os.close(fd)
                        continue
                    self._held[uid] = fd
                    return uid
            if time.monotonic() > deadline:
                raise SandboxUnavailable(f"all {len(self.uids)} sandbox uids are in use on this machine")
            time.sleep(0.01)

    def give(self, uid: int) -> None:
        with self._lock:
            fd = self._held.pop(uid)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def sandbox_command(
    host: HostConfig, uid: int, result_fd: int, seccomp_fd: int, cgroup: Path | None
) -> list[str]:
    interp = host.interpreter
    binds = [
        ("--ro-bind", interp.executable, interp.executable),
        ("--ro-bind", interp.stdlib, interp.stdlib),
        ("--ro-bind", str(HARNESS), SANDBOX_HARNESS),
    ]
    binds.append(("--ro-bind", _library_dir(), _library_dir()))
    if interp.shared_library and not interp.shared_library.startswith(_library_dir() + "/"):
        binds.append(("--ro-bind", interp.shared_library, interp.shared_library))
    binds += [("--ro-bind", src, dst) for src, dst in _numpy_dirs()]
    if Path("/lib64").is_dir():
        binds.append(("--ro-bind", "/lib64", "/lib64"))
    if Path("/lib").is_symlink():
        binds.append(("--symlink", os.readlink("/lib"), "/lib"))
    command = [
        "prlimit",
        f"--nproc={host.outer_processes}",
        f"--as={host.outer_memory_mb * MIB}",
        "--core=0",
        f"--fsize={16 * MIB}",
        "--nofile=256",
        "--",
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--no-new-privs",
        "--",
        host.bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop",
        "ALL",
        "--hostname",
        "sandbox",
        "--setenv",
        "OPENBLAS_NUM_THREADS",
        "1",
        "--setenv",
        "OMP_NUM_THREADS",
        "1",
        "--setenv",
        "MKL_NUM_THREADS",
        "1",
        "--setenv",
        "PATH",
        "/usr/bin",
        "--setenv",
        "HOME",
        SANDBOX_TMP,
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        "4096",
        "--tmpfs",
        SANDBOX_TMP,
        "--size",
        "4096",
        "--tmpfs",
        SANDBOX_SHM,
    ]
    for kind, src, dst in binds:
        command += [kind, src, dst]
    for packages in ("site-packages", "dist-packages"):
        # Hide packages installed beside the standard library (in a container image, Assay's own code).
        hidden = Path(interp.stdlib) / packages
        if hidden.is_dir():
            command += ["--size", "4096", "--tmpfs", str(hidden), "--remount-ro", str(hidden)]
    for mount in READ_ONLY_MOUNTS:
        command += ["--remount-ro", mount]
    command += [
        "--remount-ro", "/",
        "--chdir", SANDBOX_TMP,
        "--seccomp", str(seccomp_fd),
        "--",
        interp.executable, "-I", "-S", "-B", SANDBOX_HARNESS, str(result_fd),
    ]  # fmt: skip
    if cgroup is not None:
        join = f'echo $$ > "{cgroup}/cgroup.procs" && exec "$@"'
        command = ["/bin/sh", "-c", join, "sandbox", *command]
    return command


# ---------------------------------------------------------------------------------------------- one sandbox


class _Sandbox:
    """One started sandbox, waiting for its single submission."""

    def __init__(self, host: HostConfig, uid: int, cgroup: Path | None) -> None:
        self.uid = uid
        self.cgroup = cgroup
        read_end, write_end = os.pipe()
        seccomp_fd = os.memfd_create("assay-seccomp", 0)
        try:
            os.write(seccomp_fd, _seccomp_program())
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv built above, no shell
                sandbox_command(host, uid, write_end, seccomp_fd, cgroup),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(write_end, seccomp_fd),
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                start_new_session=True,
            )
        finally:
            os.close(write_end)
            os.close(seccomp_fd)
        self.results = read_end
        self.buffer = b""
        self.started = time.monotonic()
        self.init_pid: int | None = None  # the PID namespace's init, the outer bwrap's only child
        self.reaped = False  # the outer process and the init are both reaped (see _reap)
        self.harness_pid: int | None = None  # the candidate's process, as the host sees it (for _Clock)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr, read_end):
            _enlarge_pipe(pipe if isinstance(pipe, int) else pipe.fileno())  # type: ignore[union-attr]

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            items, _ = split_frames(self.buffer, 1024 * 1024, 1)
            if items:
                first = items[0]
                if isinstance(first, Mark) or parse_frame(first, 1024 * 1024).meta.get("kind") != "ready":
                    raise SandboxUnavailable("the sandbox harness did not start correctly")
                self.buffer = self.buffer[8 + first.nbytes :]
                children = self._children()
                self.init_pid = children[0] if len(children) == 1 else None
                harness = _children_of(self.init_pid) if self.init_pid else []
                self.harness_pid = harness[0] if len(harness) == 1 else None
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                self.kill()
                stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise SandboxUnavailable(f"the sandbox did not start: {stderr.strip()[-500:] or 'timed out'}")
            selector = selectors.DefaultSelector()
            selector.register(self.results, selectors.EVENT_READ)
            if selector.select(remaining):
                chunk = os.read(self.results, 65536)
                if not chunk:
                    continue
                self.buffer += chunk
            selector.close()

    def _children(self) -> list[int]:
        return _children_of(self.process.pid)

    def kill(self) -> None:
        """Kill the sandbox's PID namespace by killing its init (the outer bwrap's child): the kernel kills
        everything inside, and the outer bwrap ends."""
        if self.reaped:
            return
        for child in [self.init_pid] if self.init_pid else self._children():
            with suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)
        # No child listed means it is already dead (a zombie is not listed) or not yet born; either way the
        # outer process ends by itself, and killing it now could orphan the init. The callers wait, and only
        # after a grace period kill the outer process (_kill_outer).

    def _reap_orphaned_init(self) -> None:
        """bwrap's outer process exits as soon as the init reports the command's exit status, without
        reaping that init; it is reparented to us (a child subreaper, see BubblewrapRunner) and reaped here.
        Left to PID 1, it stays a zombie wherever PID 1 does not reap orphans (containers, CI runners)."""
        if self.init_pid is None or self.reaped:
            return
        deadline = time.monotonic() + 5
        with suppress(ChildProcessError):  # not our child: a reaper elsewhere took care of it
            while not os.waitpid(self.init_pid, os.WNOHANG)[0] and time.monotonic() < deadline:
                time.sleep(0.005)

    def _kill_outer(self) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def discard(self) -> None:
        self.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill_outer()
            with suppress(ChildProcessError):
                self.process.wait(timeout=10)
        except ChildProcessError:
            pass
        self._reap_orphaned_init()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with suppress(OSError):
                    stream.close()
        with suppress(OSError):
            os.close(self.results)
        if self.cgroup is not None:
            with suppress(OSError):
                self.cgroup.rmdir()

    def execute(self, request: RunRequest) -> RunResult:
        limits = request.limits
        header = request_header(request)
        started = time.monotonic()
        stdin = self.process.stdin
        assert stdin is not None
        try:
            write_request(header, request, stdin)
            if not request.deferred:
                stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the process died; what it left is examined below
        clock = _Clock(self, request)
        try:
            collected = _collect(self, limits, started, clock)
        except BaseException:
            self.kill()
            raise
        finally:
            clock.stop()
        if collected.ended:
            # Finished normally: the figures come from the harness and the teardown happens in the background.
            return interpret_results(request, collected, None, time.monotonic() - started)
        self.kill()
        rusage = _reap(self)
        return interpret_results(request, collected, rusage, time.monotonic() - started)


def _children_of(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cpu_seconds(pid: int | None) -> float | None:
    """CPU time the kernel has counted for a process's (only) thread, in ns precision: /proc/PID/schedstat.
    The sandbox allows no second thread (grader/seccomp.py), so this is the whole process's."""
    if pid is None:
        return None
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


class _Clock:
    """Times the timed steps of a run from outside the sandbox, where the candidate cannot reach.

    The harness asks for a timed step's inputs (a WANT mark) and only then receives them, so nothing can be
    computed ahead; the clock reads the kernel's count of the sandboxed process's CPU time when the request
    arrives and again when the next frame (which must carry that step's result) arrives; the harness then
    waits, idle, for an empty block saying so (it must not go on working, or end, before the clock is read).
    What goes to the sandbox is written by a thread of its own, so a sandbox that asks and then does not
    read cannot block us."""

    def __init__(self, sandbox: _Sandbox, request: RunRequest) -> None:
        self.sandbox, self.request, self.deferred = sandbox, request, request.deferred
        self.offset = self.frames = self.items = 0
        self.running: tuple[int, float] | None = None  # the timed step waiting for its result, and its start
        self.cpu_s: dict[int, float] = {}
        self.frame_of: dict[int, int] = {}  # the frame (by order) whose arrival stopped each step's clock
        self.asked: set[int] = set()
        self._sends: queue.Queue[tuple[int, bool] | None] = queue.Queue()  # (step, inputs or go-on)
        self._writer: threading.Thread | None = None
        if self.deferred:
            self._writer = threading.Thread(target=self._send_inputs, name="sandbox-inputs", daemon=True)
            self._writer.start()

    def _send_inputs(self) -> None:
        stdin = self.sandbox.process.stdin
        assert stdin is not None
        released = 0
        try:
            while (send := self._sends.get()) is not None:
                index, inputs = send
                if inputs:
                    _write_block(stdin, b"", [self.request.inputs[name] for name in self.deferred[index]])
                else:
                    _write_block(stdin, b"", [])
                    released += 1
                    if released == len(self.deferred):
                        break  # every timed step has run: the harness reads nothing more
        except (BrokenPipeError, OSError, ValueError):
            pass  # the sandbox ended or stopped reading; its verdict comes from what it wrote
        finally:
            with suppress(OSError, ValueError):
                stdin.close()

    def stop(self) -> None:
        """No more inputs to send. A writer still blocked on a sandbox that asked and stopped reading ends
        when that sandbox is discarded (its pipe breaks); it is not waited for."""
        self._sends.put(None)
        if self._writer is not None:
            self._writer.join(timeout=0.1)

    def feed(self, results: bytearray | bytes, max_frame_bytes: int) -> None:
        """Look at the items that have arrived completely since the last call (cheap: the words only)."""
        while len(results) - self.offset >= 8 and self.items < self.request.max_result_items:
            (word,) = struct.unpack_from("<Q", results, self.offset)
            if word == END_MARK or (not word & STEP_MARK and word > max_frame_bytes):
                return  # the end, or a lie that interpret_results reports
            if word & STEP_MARK:
                self.offset += 8
                self.items += 1
                index = word & 0xFFFFFFFF
                if (
                    word & WANT_FLAG
                    and index in self.deferred
                    and index not in self.asked
                    and self.running is None
                ):
                    started = _cpu_seconds(self.sandbox.harness_pid)
                    self.asked.add(index)
                    if started is not None:
                        self.running = (index, started)
                    self._sends.put((index, True))
                continue
            if len(results) - self.offset - 8 < word:
                return  # the frame is still arriving
            self.offset += 8 + word
            self.items += 1
            if self.running is not None:
                index, started = self.running
                finished = _cpu_seconds(self.sandbox.harness_pid)
                if finished is not None:
                    self.cpu_s[index], self.frame_of[index] = finished - started, self.frames
                self.running = None
                self._sends.put((index, False))
            self.frames += 1


def _become_subreaper() -> None:
    """Orphaned sandbox inits come to this process instead of PID 1 (see _Sandbox._reap_orphaned_init)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SandboxUnavailable(f"cannot become a child subreaper: {os.strerror(ctypes.get_errno())}")


def _enlarge_pipe(fd: int) -> None:
    """1 MiB pipes: a few large transfers instead of a context switch every 64 KiB."""
    with suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)


@lru_cache(maxsize=1)
def _seccomp_program() -> bytes:
    try:
        return build_filter()
    except UnsupportedArchitecture as exc:
        raise SandboxUnavailable(str(exc)) from None


@dataclass
class Collected:
    results: bytearray
    stdout: bytes
    stderr: bytes
    truncated: bool
    killed_for: Literal["", "wall", "output", "streams"]
    ended: bool  # the harness wrote its END word: everything it had to say is here
    step_cpu_s: dict[int, float] = field(default_factory=dict)  # timed steps, measured by _Clock
    stopped_by_frame: dict[int, int] = field(default_factory=dict)  # ...and the frame that stopped each clock


def _collect(sandbox: _Sandbox, limits: Limits, started: float, clock: _Clock) -> Collected:
    """Read results, stdout and stderr together until EOF, the wall limit or a cap, whichever comes first."""
    process = sandbox.process
    assert process.stdout is not None and process.stderr is not None
    stream_cap = limits.stream_kb * 1024
    stream_kill = max(stream_cap * 16, 1024 * 1024)
    output_cap = limits.output_mb * MIB
    results = bytearray(sandbox.buffer)
    kept = {process.stdout.fileno(): bytearray(), process.stderr.fileno(): bytearray()}
    seen = dict.fromkeys(kept, 0)
    killed_for: Literal["", "wall", "output", "streams"] = ""
    selector = selectors.DefaultSelector()
    for fd in (sandbox.results, *kept):
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    deadline = started + limits.wall_s
    end_word = struct.pack("<Q", END_MARK)
    ended = False
    try:
        while selector.get_map() and not ended:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                killed_for = "wall"
                break
            for key, _ in selector.select(remaining):
                fd = int(key.fd)
                try:
                    chunk = os.read(fd, 1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(fd)
                    continue
                if fd == sandbox.results:
                    results += chunk
                    clock.feed(results, output_cap)
                    if len(results) > output_cap:
                        killed_for = "output"
                    ended = results.endswith(end_word)
                else:
                    seen[fd] += len(chunk)
                    room = stream_cap - len(kept[fd])
                    if room > 0:
                        kept[fd] += chunk[:room]
                    if seen[fd] > stream_kill:
                        killed_for = "streams"
            if killed_for:
                break
        if ended:
            # The harness flushed stdout and stderr before END; take what is already in the pipes.
            for fd in kept:
                with suppress(BlockingIOError):
                    while chunk := os.read(fd, 1 << 16):
                        seen[fd] += len(chunk)
                        kept[fd] += chunk[: max(0, stream_cap - len(kept[fd]))]
    finally:
        selector.close()
    if killed_for:
        sandbox.kill()
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    return Collected(
        results=results,
        stdout=bytes(kept[out_fd]),
        stderr=bytes(kept[err_fd]),
        truncated=any(seen[fd] > stream_cap for fd in kept),
        killed_for=killed_for,
        ended=ended and not killed_for,
        step_cpu_s=clock.cpu_s,
        stopped_by_frame=clock.frame_of,
    )


@dataclass(frozen=True)
class _Rusage:
    returncode: int
    cpu_s: float
    max_rss_mb: float


def _reap(sandbox: _Sandbox, grace_s: float = 5.0) -> _Rusage:
    """Wait for the killed sandbox's outer process and its PID namespace's init, with their resource usage;
    never waits forever. The init reaps the harness, so its figures are the candidate's process's, counted
    by the kernel: what the candidate cannot forge (a self-sent SIGXCPU is not CPU time)."""
    process = sandbox.process
    deadline = time.monotonic() + grace_s
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                sandbox._kill_outer()
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.002)
    except ChildProcessError:
        return _Rusage(process.returncode or 0, 0.0, 0.0)
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu_s, max_rss_kb = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
    init = sandbox.init_pid
    with suppress(ChildProcessError):  # not ours to reap (no subreaper): the outer figures must do
        while init is not None:
            pid, _, init_usage = os.wait4(init, os.WNOHANG)
            if pid:
                sandbox.reaped = True  # both pids may be reused now: never signal them again
                cpu_s += init_usage.ru_utime + init_usage.ru_stime
                max_rss_kb = max(max_rss_kb, init_usage.ru_maxrss)
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
    return _Rusage(process.returncode, cpu_s, max_rss_kb / 1024)


def _step_outcome(meta: Any, arrays: dict[str, np.ndarray], cpu_s: float | None) -> StepOutcome:
    if not isinstance(meta, dict):
        raise InvalidOutput("step record is not an object")
    status: StepStatus = meta.get("status")  # type: ignore[assignment]  # checked on the next line
    if not _is_one_of(status, REPORTED_STEP_STATUSES):
        raise InvalidOutput("unknown step status")
    error_type, error_message = _error_record(meta.get("error"))
    args_after = decode_value(meta["args_after"], arrays) if "args_after" in meta else None
    kwargs_after = decode_value(meta["kwargs_after"], arrays) if "kwargs_after" in meta else None
    if args_after is not None and not isinstance(args_after, list):
        raise InvalidOutput("reported arguments are not a list")
    if kwargs_after is not None and not isinstance(kwargs_after, dict):
        raise InvalidOutput("reported keyword arguments are not a mapping")
    return StepOutcome(
        status=status,
        result=decode_value(meta.get("result"), arrays),
        args_after=args_after,
        kwargs_after=kwargs_after,
        error_type=error_type,
        error_message=error_message,
        cpu_s=cpu_s,
    )


def _is_one_of(value: object, choices: frozenset[str]) -> bool:
    return isinstance(value, str) and value in choices


def _error_record(error: object) -> tuple[str, str]:
    """The (type, message) of a reported error, both text (already cleaned by parse_frame) and capped."""
    if error is None:
        return "", ""
    if not isinstance(error, dict):
        raise InvalidOutput("an error record is not an object")
    kind, message = error.get("type", ""), error.get("message", "")
    if not isinstance(kind, str) or not isinstance(message, str):
        raise InvalidOutput("an error record's type or message is not text")
    return kind[:100], message[:2000]


def _classify_exit(returncode: int, rusage: _Rusage, limits: Limits) -> tuple[RunStatus, str]:
    """Why a sandbox ended without reporting every result, from what the kernel measured. bwrap passes a
    child's death by signal on as 128 + signal; the process itself may also be reported as killed."""
    signum = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    # The kernel's CPU accounting decides, not the signal: a candidate can send itself SIGXCPU.
    if signum in (signal.SIGXCPU, signal.SIGKILL) and rusage.cpu_s >= limits.cpu_s:
        return "time_limit_exceeded", f"CPU time limit of {limits.cpu_s:g} s exceeded"
    if signum == signal.SIGKILL and rusage.max_rss_mb >= 0.9 * limits.memory_mb:
        return "memory_limit_exceeded", f"killed near the memory limit of {limits.memory_mb} MiB"
    if signum:
        name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
        return "runtime_error", f"the program was killed by {name} before returning every result"
    return "runtime_error", f"the program exited (code {returncode}) before returning every result"


def _reported_usage(meta: dict[str, Any]) -> _Rusage:
    usage = meta.get("usage")
    if not isinstance(usage, dict):
        return _Rusage(0, 0.0, 0.0)
    cpu, rss = usage.get("cpu_s"), usage.get("max_rss_kb")
    return _Rusage(
        0,
        float(cpu) if isinstance(cpu, int | float) and 0 <= cpu < 1e6 else 0.0,
        float(rss) / 1024 if isinstance(rss, int | float) and 0 <= rss < 1e9 else 0.0,
    )


def interpret_results(
    request: RunRequest, collected: Collected, rusage: _Rusage | None, wall_s: float
) -> RunResult:
    """What a run's collected bytes say, as a verdict for every step. The bytes are the candidate's to
    choose, so nothing here may raise or do work that grows with what the candidate wrote."""
    limits = request.limits
    budget = limits.output_mb * MIB
    steps: list[StepOutcome] = []
    status: RunStatus = "ok"
    message = ""
    done = False
    killed = {
        "wall": ("time_limit_exceeded", f"wall time limit of {limits.wall_s:g} s exceeded"),
        "output": ("output_limit_exceeded", f"results exceeded {limits.output_mb} MiB"),
        "streams": ("output_limit_exceeded", "printed output exceeded the limit"),
    }.get(collected.killed_for)
    started = -1
    try:
        items, tail = split_frames(collected.results, budget, request.max_result_items)
        frames = 0
        for item in items:
            if isinstance(item, Mark):
                if item.wants:
                    if item.step != started or item.step not in request.deferred or len(steps) > started:
                        raise InvalidOutput("inputs were asked for out of turn")
                    continue
                if item.step != started + 1 or item.step >= len(request.steps):
                    raise InvalidOutput("step marks are out of order")
                started = item.step
                continue
            frame = parse_frame(item, budget)
            frames += 1
            kind = frame.meta.get("kind")
            if kind == "steps" and isinstance(frame.meta.get("steps"), list):
                for meta in frame.meta["steps"]:
                    if not isinstance(meta, dict) or meta.get("index") != len(steps) or len(steps) > started:
                        raise InvalidOutput("step results are out of order")
                    index = len(steps)
                    # A timed step's time stands only if its result came in the frame that stopped its clock.
                    measured = collected.stopped_by_frame.get(index) == frames - 1
                    cpu_s = collected.step_cpu_s[index] if measured else None
                    steps.append(_step_outcome(meta, frame.arrays, cpu_s))
                if frame.meta.get("done") is True:
                    done = True
                    if rusage is None:
                        rusage = _reported_usage(frame.meta)
                    break
            elif kind == "fatal" and _is_one_of(frame.meta.get("status"), FATAL_STATUSES) and started < 0:
                status = frame.meta["status"]
                error_type, error_message = _error_record(frame.meta.get("error"))
                message = f"{error_type}: {error_message}".strip(": ")[:2000]
                done = True
                break
            else:
                raise InvalidOutput("unexpected result frame")
        if tail and not done and killed is None:
            raise InvalidOutput("the result stream ends in the middle of a frame")
    except InvalidOutput as exc:
        # After a kill the stream is cut anywhere; the kill is the verdict, not the broken tail.
        if killed is None:
            status, message = "invalid_output", str(exc)

    if killed is not None:
        status, message = killed  # type: ignore[assignment]
    if rusage is None:
        rusage = _Rusage(0, 0.0, 0.0)
    if killed is not None:
        pass
    elif status == "ok" and not done and collected.ended:
        status, message = "invalid_output", "the results ended without their final record"
    elif status == "ok" and not done:
        status, message = _classify_exit(rusage.returncode, rusage, limits)
    elif status == "ok" and len(steps) != len(request.steps):
        status, message = "invalid_output", "fewer results than calls"

    if len(steps) < len(request.steps):
        # The step running when the run ended shares its fate (a compile error counts as a runtime error);
        # the others either never started or finished with their result lost: the grader may re-run them.
        culprit: StepStatus = "runtime_error"
        if status in (
            "time_limit_exceeded",
            "memory_limit_exceeded",
            "output_limit_exceeded",
            "invalid_output",
        ):
            culprit = status
        running = started if started >= len(steps) else len(steps)
        for index in range(len(steps), len(request.steps)):
            if index == running:
                steps.append(StepOutcome(status=culprit, error_message=message))
            else:
                steps.append(StepOutcome(status="not_run", error_message="not run: the run was stopped"))
    return RunResult(
        status=status,
        steps=steps,
        stdout=clean_text(collected.stdout.decode("utf-8", errors="replace")),
        stderr=clean_text(collected.stderr.decode("utf-8", errors="replace")),
        streams_truncated=collected.truncated,
        message=clean_text(message),
        wall_s=wall_s,
        cpu_s=rusage.cpu_s,
        peak_memory_mb=rusage.max_rss_mb,
    )


# ---------------------------------------------------------------------------------------------- the pool


class BubblewrapRunner:
    """Runs each request in a fresh sandbox taken from a warm pool; safe to share between threads."""

    def __init__(
        self,
        *,
        warm: int = 2,
        host: HostConfig | None = None,
        start_timeout_s: float = 30.0,
        limits: Limits = Limits(),
    ) -> None:
        self.host = host or detect_host()
        _become_subreaper()
        self.warm = warm
        self.start_timeout_s = start_timeout_s
        self.pool_limits = limits
        self.cgroups, self.cgroup_reason = cgroup_support()
        self._uids = UidSlots(self.host.uid_base, self.host.slots)
        self.used_uids: set[int] = set()  # every uid this runner's sandboxes ran as
        self._ready: queue.Queue[_Sandbox] = queue.Queue()
        self._closed = threading.Event()
        self._wanted = threading.Semaphore(0)
        self._cgroup_names = itertools.count(1)
        self._retire: queue.Queue[tuple[_Sandbox | None, bool]] = queue.Queue()
        self._reaper = threading.Thread(target=self._reap_retired, name="sandbox-reaper", daemon=True)
        self._reaper.start()
        self._filler: threading.Thread | None = None
        if warm > 0:
            self._filler = threading.Thread(target=self._fill, name="sandbox-pool", daemon=True)
            self._filler.start()
            for _ in range(warm):
                self._wanted.release()

    @property
    def ready_count(self) -> int:
        return self._ready.qsize()

    def _take_uid(self) -> int:
        uid = self._uids.take()
        self.used_uids.add(uid)
        return uid

    def _give_uid(self, uid: int) -> None:
        self._uids.give(uid)

    def _spawn(self) -> _Sandbox:
        uid = self._take_uid()
        try:
            cgroup = None
            if self.cgroups:
                cgroup = _prepare_cgroup(f"s{os.getpid()}-{next(self._cgroup_names)}", self.pool_limits)
            sandbox = _Sandbox(self.host, uid, cgroup)
            try:
                sandbox.wait_ready(self.start_timeout_s)
            except BaseException:
                sandbox.discard()
                raise
            return sandbox
        except BaseException:
            self._give_uid(uid)
            raise

    def _fill(self) -> None:
        while not self._closed.is_set():
            self._wanted.acquire()
            if self._closed.is_set():
                return
            try:
                self._ready.put(self._spawn())
            except Exception:
                time.sleep(1.0)  # a host problem; a cold start will raise it to the caller
                self._wanted.release()
        self._drain()

    def _acquire(self) -> tuple[_Sandbox, bool]:
        try:
            return self._ready.get_nowait(), True
        except queue.Empty:
            return self._spawn(), False

    def run(self, request: RunRequest) -> RunResult:
        if self._closed.is_set():
            raise SandboxUnavailable("the runner is closed")
        sandbox, from_pool = self._acquire()
        try:
            return sandbox.execute(request)
        finally:
            # Teardown and the pool's replacement start only now, so they do not compete with the run.
            self._retire.put((sandbox, from_pool))

    def _reap_retired(self) -> None:
        while True:
            sandbox, from_pool = self._retire.get()
            if sandbox is None:
                return
            sandbox.discard()
            self._give_uid(sandbox.uid)
            if from_pool and self.warm > 0:
                self._wanted.release()

    def _drain(self) -> None:
        while True:
            try:
                sandbox = self._ready.get_nowait()
            except queue.Empty:
                return
            sandbox.discard()
            self._give_uid(sandbox.uid)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._wanted.release()
        if self._filler is not None:
            self._filler.join(timeout=30)
        self._retire.put((None, False))
        self._reaper.join(timeout=30)
        self._drain()

    def __enter__(self) -> BubblewrapRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

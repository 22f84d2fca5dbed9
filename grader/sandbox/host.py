"""What this host offers the sandboxes: the interpreter and NumPy to bind in, cgroup delegation, and the
uids the sandboxes run as."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from grader.sandbox.protocol import MIB, Limits, SandboxUnavailable

SANDBOX_SITE = "/opt/assay/site"


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


def numpy_dirs() -> list[tuple[str, str]]:
    package = Path(np.__file__).resolve().parent
    binds = [(str(package), f"{SANDBOX_SITE}/numpy")]
    libs = package.parent / "numpy.libs"
    if libs.is_dir():
        binds.append((str(libs), f"{SANDBOX_SITE}/numpy.libs"))
    return binds


def library_dir() -> str:
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


def prepare_cgroup(name: str, limits: Limits) -> Path:
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

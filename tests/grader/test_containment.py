"""One sandbox, one budget: whatever route a submission takes to hold memory or CPU, the host gives it no more
than its limits. Each attack runs for real while this test watches the host's memory from outside.

Without cgroup v2 (this machine) the only per-process memory limit is RLIMIT_AS, so every route around it
must be closed: writable mounts, SysV shared memory and message queues, memfds, enlarged pipes and new
processes (each would get a RLIMIT_AS of its own).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from grader import grade
from grader.sandbox import BubblewrapRunner, Input, Limits, RunRequest, Step

BUDGET_MB = 128
LIMITS = Limits(wall_s=8.0, cpu_s=6.0, call_timeout_s=6.0, memory_mb=BUDGET_MB, output_mb=4, stream_kb=16)
# The harness and NumPy themselves (outside the budget, ~40 MiB) and what the rest of the machine does.
SLACK_MB = 96
HOLD_S = 1.5
ASK_MB = 640  # what each attack tries to hold: five times its budget

# Each attack tries to hold ASK_MB through one route, keeps it for HOLD_S, and returns the MiB it got.
PRELUDE = f"""
import ctypes, os, time
ASK = {ASK_MB} << 20
CHUNK = 8 << 20  # RLIMIT_FSIZE allows 8 MiB a file: many files, then
libc = ctypes.CDLL(None, use_errno=True)

def hold():
    time.sleep({HOLD_S})

def fill(path):
    got = 0
    try:
        with open(path, "wb") as f:
            while got < CHUNK:
                got += f.write(b"x" * (1 << 20))
    except OSError:
        pass
    return got
"""

ROUTES: dict[str, str] = {
    "dev_tmpfs": """
def f(x):
    got = sum(fill(f"/dev/f{i}") for i in range(ASK // CHUNK))
    hold()
    return got >> 20
""",
    "tmp_and_shm_tmpfs": """
def f(x):
    got = sum(fill(f"{d}/f{i}") for d in ("/tmp", "/dev/shm") for i in range(ASK // CHUNK // 2))
    hold()
    return got >> 20
""",
    "sysv_shared_memory": """
def f(x):
    libc.shmat.restype = ctypes.c_void_p
    got = 0
    for _ in range(ASK // (64 << 20)):
        shm = libc.shmget(0, 64 << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
        if shm < 0:
            break
        address = libc.shmat(shm, None, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            break
        ctypes.memset(address, 1, 64 << 20)
        libc.shmdt(ctypes.c_void_p(address))  # detached: no process maps it any more, the kernel keeps it
        got += 64 << 20
    hold()
    return got >> 20
""",
    "memfd": """
def f(x):
    got, kept = 0, []
    try:
        while got < ASK:
            fd = os.memfd_create("held")
            kept.append(fd)
            got += fill(f"/proc/self/fd/{fd}")
    except OSError:
        pass
    hold()
    return got >> 20
""",
    "forked_children": """
def f(x):
    got = 0
    for _ in range(ASK // (96 << 20)):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            block = bytearray(96 << 20)  # each child has a RLIMIT_AS of its own
            time.sleep(5)
            os._exit(0)
        got += 96 << 20
    hold()
    return got >> 20
""",
    "pipes": """
def f(x):
    got, kept = 0, []
    try:
        while got < ASK:
            r, w = os.pipe()
            kept += [r, w]
            try:
                import fcntl
                fcntl.fcntl(w, 1031, 1 << 20)  # F_SETPIPE_SZ
            except OSError:
                pass
            os.set_blocking(w, False)
            try:
                while True:
                    got += os.write(w, b"x" * 65536)
            except BlockingIOError:
                pass
    except OSError:
        pass
    hold()
    return got >> 20
""",
    "empty_files": """
def f(x):
    made = 0
    for d in ("/tmp", "/dev/shm", "/dev"):
        try:
            for i in range(200_000):
                open(f"{d}/e{i}", "wb").close()
                made += 1
        except OSError:
            pass
    hold()
    return made
""",
}


def used_mb() -> float:
    """Memory the host cannot give to anyone else: total less available, plus kernel slab (tmpfs inodes)."""
    fields = {}
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0])
    return (fields["MemTotal"] - fields["MemAvailable"] + fields["SUnreclaim"]) / 1024


@dataclass
class Watch:
    baseline: float
    peak: float = 0.0


@pytest.fixture(scope="module")
def runner() -> Iterator[BubblewrapRunner]:
    with BubblewrapRunner(warm=0) as r:  # no pool refilling behind the measurement
        yield r


def run_watched(runner: BubblewrapRunner, source: str) -> tuple[object, Watch]:
    time.sleep(0.3)
    watch = Watch(baseline=used_mb())
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            watch.peak = max(watch.peak, used_mb() - watch.baseline)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = runner.run(RunRequest(source, [Step("f", (Input("x"),))], {"x": np.zeros(3)}, LIMITS))
    finally:
        done.set()
        sampler.join()
    return result, watch


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_no_route_holds_more_than_the_budget(runner: BubblewrapRunner, route: str) -> None:
    result, watch = run_watched(runner, PRELUDE + ROUTES[route])
    step = result.steps[0]
    print(
        f"{route}: {step.status} {step.result!r} {step.error_type} {step.error_message[:100]}; "
        f"host +{watch.peak:.0f} MiB at peak"
    )
    assert watch.peak < BUDGET_MB + SLACK_MB, f"{route} held {watch.peak:.0f} MiB of the host's memory"
    if step.status == "ok" and route != "empty_files":
        assert isinstance(step.result, int) and step.result < BUDGET_MB, step.result
    if route == "empty_files" and step.status == "ok":
        assert step.result == 0, f"{step.result} files made in the sandbox"


def test_no_new_process_or_thread_so_no_second_share_of_cpu(runner: BubblewrapRunner) -> None:
    """A child in a session of its own would leave the sandbox's scheduling group (autogroup) and compete
    with the machine as a separate job, with a RLIMIT_AS of its own; a thread that ends takes its CPU time
    out of the supervisor's count. One process, one thread."""
    source = (
        "import os, subprocess, sys, threading\n"
        "def f(x):\n"
        "    refused = []\n"
        "    spawn = lambda: subprocess.Popen([sys.executable, '-c', '0']).pid\n"
        "    thread = lambda: threading.Thread(target=lambda: None).start()\n"
        "    for name, start in (('fork', os.fork), ('spawn', spawn), ('thread', thread)):\n"
        "        try:\n"
        "            if start() == 0:\n"
        "                os.setsid()\n"
        "                while True:\n"
        "                    pass\n"
        "        except (OSError, RuntimeError) as exc:\n"
        "            refused.append(f'{name}: {type(exc).__name__}')\n"
        "    return refused"
    )
    result = runner.run(RunRequest(source, [Step("f", (Input("x"),))], {"x": np.zeros(3)}, LIMITS))
    assert result.steps[0].status == "ok", result.steps[0]
    assert result.steps[0].result == [
        "fork: PermissionError",
        "spawn: PermissionError",
        "thread: RuntimeError",
    ]


def test_a_submission_holds_a_sandbox_for_its_time_limit_at_most(runner: BubblewrapRunner) -> None:
    """Cases a timed-out run never reached are not given a second sandbox (and a second time limit)."""
    sleeper = (
        "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "def batchnorm_forward(x, gamma, beta, bn_param):\n    time.sleep(60)\n"
    )
    limits = Limits(wall_s=2.0, cpu_s=2.0, call_timeout_s=1.0, memory_mb=BUDGET_MB)
    started = time.monotonic()
    result = grade("bn-forward", sleeper, limits=limits, runner=runner)
    elapsed = time.monotonic() - started
    assert elapsed < limits.wall_s + 1.5, f"{elapsed:.1f} s for a {limits.wall_s:g} s limit"
    statuses = [c.status for c in result.cases]
    assert statuses[0] == "time_limit_exceeded" and set(statuses[1:]) == {"runtime_error"}, statuses
    assert all(c.message.startswith("not run: ") for c in result.cases[1:])

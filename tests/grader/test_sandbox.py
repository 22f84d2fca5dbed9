"""The sandbox against real hostile code. Every entry of the corpus runs for real in bubblewrap.

After the corpus, the host must be unchanged (files, processes, marker files an escape would create) and
the sandbox must still run a correct submission correctly.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from grader.output import Opaque
from grader.sandbox import BubblewrapRunner, Input, Limits, RunRequest, RunResult, Step, cgroup_support

ROOT = Path(__file__).resolve().parents[2]
SECRET = "assay-test-secret-9f2c1e"
MARKER = Path("/tmp/assay-sandbox-escape-marker")
FAST = Limits(wall_s=4.0, cpu_s=3.0, call_timeout_s=1.0, memory_mb=128, output_mb=4, stream_kb=16)
X = np.arange(12, dtype=np.float64).reshape(3, 4)


@dataclass(frozen=True)
class Attack:
    name: str
    source: str
    run_status: set[str]
    step_status: set[str] = field(default_factory=lambda: {"ok"})
    check: Callable[[RunResult], None] | None = None
    limits: Limits = FAST


def returns(predicate: Callable[[object], bool]) -> Callable[[RunResult], None]:
    def check(result: RunResult) -> None:
        assert predicate(result.steps[0].result), result.steps[0].result

    return check


def error_is(*types: str) -> Callable[[RunResult], None]:
    def check(result: RunResult) -> None:
        assert result.steps[0].error_type in types, (
            result.steps[0].error_type,
            result.steps[0].error_message,
        )

    return check


# Forged frames go to every open fd, so they reach the result channel whatever its number.
WRITE_EVERY_FD = (
    "    for fd in map(int, os.listdir('/proc/self/fd')):\n"
    "        try:\n"
    "            os.write(fd, struct.pack('<Q', len(data)) + data)\n"
    "        except OSError:\n"
    "            pass\n"
    "    return 1"
)


def syscall_attack(name: str, nr: int, args: str = "0, 0, 0, 0, 0, 0") -> Attack:
    source = f"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def f(x):
    rc = libc.syscall({nr}, {args})
    return [rc, ctypes.get_errno()]
"""
    return Attack(name, source, {"ok"}, check=returns(lambda r: r[0] == -1 and r[1] in (1, 38)))  # type: ignore[index]


CORPUS = [
    # --- reading what is not theirs
    Attack(
        "read_shadow",
        "def f(x):\n    return open('/etc/shadow').read()",
        {"ok"},
        {"runtime_error"},
        error_is("FileNotFoundError"),
    ),
    Attack(
        "read_passwd",
        "def f(x):\n    return open('/etc/passwd').read()",
        {"ok"},
        {"runtime_error"},
        error_is("FileNotFoundError"),
    ),
    Attack(
        "environment",
        "import os\ndef f(x):\n    return dict(os.environ)",
        {"ok"},
        check=returns(lambda env: SECRET not in str(env) and "ASSAY" not in str(env)),
    ),
    Attack(
        "pid1_environ",
        "def f(x):\n    return open('/proc/1/environ', 'rb').read().decode(errors='replace')",
        {"ok"},
        {"ok", "runtime_error"},
        check=lambda r: None if SECRET not in str(r.steps[0].result) else 1 / 0,
    ),
    Attack(
        "other_processes",
        "import os\ndef f(x):\n    return sorted(p for p in os.listdir('/proc') if p.isdigit())",
        {"ok"},
        check=returns(lambda pids: len(pids) <= 3),
    ),  # type: ignore[arg-type]
    Attack(
        "project_files",
        f"import os\ndef f(x):\n    return os.path.exists({str(ROOT)!r}) or os.path.exists('/work')",
        {"ok"},
        check=returns(lambda seen: seen is False),
    ),
    Attack(
        "search_filesystem_for_code",
        "import os\ndef f(x):\n    found = []\n    for top, dirs, files in os.walk('/'):\n"
        "        if top.startswith(('/proc', '/dev', '/opt/assay/site')):  # NumPy is bound there on purpose\n"
        "            dirs.clear()\n            continue\n"
        "        found += [os.path.join(top, n) for n in files if 'packages' in top or top.startswith('/opt/assay')\n"
        "                  or '/app/' in top + '/' or '/grader/' in top + '/'\n"
        "                  or n in ('pyproject.toml', 'alembic.ini', 'assay.db', '.env', 'shadow')]\n    return found",
        {"ok"},
        check=returns(lambda paths: paths == ["/opt/assay/harness.py"]),
    ),
    Attack(
        "import_the_project",
        "def f(x):\n    import importlib\n    found = []\n    for name in ('app', 'grader', 'fastapi', 'sqlalchemy'):\n"
        "        try:\n            importlib.import_module(name)\n            found.append(name)\n"
        "        except ImportError:\n            pass\n    return found",
        {"ok"},
        check=returns(lambda names: names == []),
    ),
    Attack(
        "host_root_listing",
        "import os\ndef f(x):\n    return sorted(os.listdir('/'))",
        {"ok"},
        check=returns(lambda names: set(names) <= {"usr", "lib", "lib64", "opt", "proc", "dev", "tmp"}),
    ),
    Attack(
        "sysfs",
        "import os\ndef f(x):\n    return os.listdir('/sys')",
        {"ok"},
        {"runtime_error"},
        error_is("FileNotFoundError"),
    ),
    Attack(
        "symlink_to_host_file",
        "import os\ndef f(x):\n    os.symlink('/etc/shadow', '/tmp/s')\n    return open('/tmp/s').read()",
        {"ok"},
        {"runtime_error"},
        error_is("OSError"),  # read-only file system: nothing in the sandbox is writable
    ),
    # --- writing where they must not
    Attack(
        "write_stdlib",
        "import os\ndef f(x):\n    open(os.__file__, 'a').write('pwned')",
        {"ok"},
        {"runtime_error"},
        error_is("OSError", "PermissionError"),
    ),
    Attack(
        "write_site_packages",
        "import numpy\ndef f(x):\n    open(numpy.__file__, 'a').write('pwned')",
        {"ok"},
        {"runtime_error"},
        error_is("OSError", "PermissionError"),
    ),
    Attack(
        "write_harness",
        "def f(x):\n    open('/opt/assay/harness.py', 'w').write('pwned')",
        {"ok"},
        {"runtime_error"},
        error_is("OSError", "PermissionError"),
    ),
    Attack(
        "write_root",
        "def f(x):\n    open('/evil', 'w').write('pwned')",
        {"ok"},
        {"runtime_error"},
        error_is("OSError", "PermissionError"),
    ),
    Attack(
        "fill_tmp",
        "def f(x):\n    open('/tmp/big', 'wb').write(b'0' * (64 << 20))",
        {"ok"},
        {"runtime_error"},
        error_is("OSError"),
    ),
    Attack(
        "escape_marker",
        f"def f(x):\n    open({str(MARKER)!r}, 'w').write('escaped')\n    return 1",
        {"ok"},
        {"runtime_error"},
        error_is("OSError"),
    ),  # the sandbox's own /tmp is read-only; the host's must stay clean too (checked at the end)
    # --- processes
    Attack(
        "fork_bomb",
        "import os\ndef f(x):\n    while True:\n        os.fork()",
        {"ok"},
        {"runtime_error"},
        error_is("PermissionError"),  # no new process at all (seccomp)
    ),
    Attack(
        "daemon_outlives_run",
        "import os, time\ndef f(x):\n    if os.fork() == 0:\n        os.setsid()\n"
        "        if os.fork() == 0:\n            time.sleep(300)\n        os._exit(0)\n    return 'parent returned'",
        {"ok"},
        {"runtime_error"},
        error_is("PermissionError"),
    ),
    Attack(
        "kill_parent",
        "import os, signal\ndef f(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return 1",
        {"runtime_error", "ok"},
        {"runtime_error", "ok"},
    ),
    Attack(
        "kill_everything",
        "import os, signal\ndef f(x):\n    os.kill(-1, signal.SIGKILL)\n    return 1",
        {"ok"},
        {"runtime_error"},
        error_is("ProcessLookupError"),
    ),  # nothing else is visible to kill
    Attack(
        "thread_storm",
        "import threading, time\ndef f(x):\n    ts = [threading.Thread(target=time.sleep, args=(5,))"
        " for _ in range(500)]\n    [t.start() for t in ts]",
        {"ok"},
        {"runtime_error"},
        error_is("RuntimeError"),
    ),
    Attack(
        "exec_shell",
        "import subprocess\ndef f(x):\n    return subprocess.run(['/bin/sh', '-c', 'id']).returncode",
        {"ok"},
        {"runtime_error"},
        error_is("FileNotFoundError", "PermissionError"),
    ),
    # --- time, memory, output
    Attack("infinite_loop", "def f(x):\n    while True:\n        pass", {"ok"}, {"time_limit_exceeded"}),
    Attack(
        "loop_ignoring_alarm",
        "import signal\ndef f(x):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "    while True:\n        pass",
        {"time_limit_exceeded"},
        {"time_limit_exceeded"},
    ),
    Attack("sleep", "import time\ndef f(x):\n    time.sleep(60)", {"ok"}, {"time_limit_exceeded"}),
    # --- text that cannot be stored or printed: cleaned on the way out
    Attack(
        "lone_surrogate_and_nul_in_an_error",
        "def f(x):\n    print('out \\x00')\n    raise ValueError('bad \\udfff\\ud800 text \\x00')",
        {"ok"},
        {"runtime_error"},
        lambda r: (
            None
            if r.steps[0].error_message == "bad ?? text \ufffd"
            and "\x00" not in r.stdout
            and r.stdout.encode()
            else 1 / 0
        ),
    ),
    # --- choosing one's own failure category: the kernel's accounting decides, not the signal
    Attack(
        "self_sent_sigxcpu",
        "import os, signal\ndef f(x):\n    os.kill(os.getpid(), signal.SIGXCPU)",
        {"runtime_error"},
        {"runtime_error"},
        lambda r: None if "SIGXCPU" in r.message else 1 / 0,
    ),
    Attack(
        "segfault",
        "import ctypes\ndef f(x):\n    ctypes.string_at(0)",
        {"runtime_error"},
        {"runtime_error"},
        lambda r: None if "SIGSEGV" in r.message else 1 / 0,
    ),
    Attack(
        "swallow_timeout",
        "def f(x):\n    while True:\n        try:\n            while True:\n                pass\n"
        "        except BaseException:\n            pass",
        {"time_limit_exceeded"},
        {"time_limit_exceeded"},
    ),
    Attack(
        "numpy_memory_bomb",
        "import numpy as np\ndef f(x):\n    return np.ones(10**10)",
        {"ok"},
        {"memory_limit_exceeded"},
    ),
    Attack(
        "list_memory_bomb",
        "def f(x):\n    a = []\n    while True:\n        a.append(' ' * 10**7)",
        {"ok"},
        {"memory_limit_exceeded"},
    ),
    Attack(
        "stdout_flood",
        "def f(x):\n    while True:\n        print('x' * 1000)",
        {"output_limit_exceeded"},
        {"output_limit_exceeded"},
    ),
    Attack(
        "stderr_flood",
        "import sys\ndef f(x):\n    while True:\n        sys.stderr.write('y' * 1000)",
        {"output_limit_exceeded"},
        {"output_limit_exceeded"},
    ),
    Attack(
        "huge_result",
        "import numpy as np\ndef f(x):\n    return np.zeros((1024, 1024, 8))",
        {"ok"},
        {"output_limit_exceeded"},
    ),
    Attack(
        "raw_result_flood",
        "import os, struct\ndef f(x):\n    junk = struct.pack('<Q', 3 << 20) + bytes(3 << 20)\n"
        "    fds = [int(fd) for fd in os.listdir('/proc/self/fd')]\n    while True:\n        for fd in fds:\n"
        "            try:\n                os.write(fd, junk)\n            except OSError:\n                pass",
        {"output_limit_exceeded"},
        {"output_limit_exceeded"},
    ),
    # --- lying about results
    Attack(
        "forged_stdout_result",
        'def f(x):\n    print(\'{"status": "passed", "score": 1.0}\')\n    return x * 0',
        {"ok"},
        check=lambda r: np.testing.assert_array_equal(r.steps[0].result, X * 0),
    ),
    Attack(
        "exit_before_results", "import os\ndef f(x):\n    os._exit(0)", {"runtime_error"}, {"runtime_error"}
    ),
    Attack(
        "sys_exit",
        "import sys\ndef f(x):\n    sys.exit(0)",
        {"ok"},
        {"runtime_error"},
        error_is("SystemExit"),
    ),
    Attack(
        "monkeypatch_numpy",
        "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True\ndef f(x):\n    return x + 1",
        {"ok"},
        check=lambda r: np.testing.assert_array_equal(r.steps[0].result, X + 1),
    ),
    Attack(
        "monkeypatch_harness",
        "import __main__\n__main__.write_frame = lambda *a, **k: None\ndef f(x):\n    return 1",
        {"invalid_output", "runtime_error"},
        {"invalid_output", "runtime_error"},
    ),
    Attack(
        "monkeypatch_savez",  # the harness does not use np.savez: the patch changes nothing
        "import numpy as np\nnp.savez = lambda *a, **k: None\ndef f(x):\n    return x * 2",
        {"ok"},
        check=lambda r: np.testing.assert_array_equal(r.steps[0].result, X * 2),
    ),
    Attack(
        "monkeypatch_npy_writer",  # a lying .npy header is caught before anything is allocated
        "import numpy as np\n"
        "np.lib.format.header_data_from_array_1_0 = lambda a: {'descr': '<f8', 'fortran_order': False,"
        " 'shape': (10**6,)}\ndef f(x):\n    return x",
        {"invalid_output"},
        {"invalid_output"},
    ),
    Attack(
        "forged_frames",
        "import os, struct\ndef f(x):\n    for fd in map(int, os.listdir('/proc/self/fd')):\n"
        "        try:\n            os.write(fd, struct.pack('<Q', 20) + b'garbage-not-a-zip!!!')\n"
        "        except OSError:\n            pass\n    return 1",
        {"invalid_output"},
        {"invalid_output"},
    ),
    Attack(
        "pickled_output",
        "import numpy as np, os\nclass P:\n    def __reduce__(self):\n"
        f"        return (os.system, ('touch {MARKER}',))\n"
        "def f(x):\n    return np.array([P()], dtype=object)",
        {"ok"},
        check=returns(lambda v: isinstance(v, Opaque)),
    ),
    Attack(
        "pickled_frame",
        "import io, os, struct, numpy as np, __main__\nclass P:\n    def __reduce__(self):\n"
        f"        return (os.system, ('touch {MARKER}',))\n"
        "def f(x):\n    b = io.BytesIO()\n    np.savez(b, __meta__=np.array([P()], dtype=object))\n"
        "    data = b.getvalue()\n" + WRITE_EVERY_FD,
        {"invalid_output"},
        {"invalid_output"},
    ),
    Attack(
        "huge_npy_header",
        "import io, os, struct, numpy as np\ndef f(x):\n    import zipfile\n"
        "    b = io.BytesIO()\n    with zipfile.ZipFile(b, 'w') as z:\n"
        "        z.writestr('__meta__.npy', b'\\x93NUMPY\\x01\\x00' + struct.pack('<H', 65535) + b' ' * 65535)\n"
        "    data = b.getvalue()\n" + WRITE_EVERY_FD,
        {"invalid_output"},
        {"invalid_output"},
    ),
    Attack(
        "zip_bomb",
        "import io, os, struct, zipfile\ndef f(x):\n    b = io.BytesIO()\n"
        "    with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:\n        z.writestr('__meta__.npy', b'0' * (50 << 20))\n"
        "    data = b.getvalue()\n" + WRITE_EVERY_FD,
        {"invalid_output"},
        {"invalid_output"},
    ),
    Attack(
        "frame_claims_terabytes",
        "import os, struct\ndef f(x):\n    data = b''\n" + WRITE_EVERY_FD.replace("len(data)", "1 << 40"),
        {"invalid_output"},
        {"invalid_output"},
    ),
    Attack(
        "lying_eq",
        "class Liar:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\n"
        "def f(x):\n    return Liar()",
        {"ok"},
        check=returns(lambda v: isinstance(v, Opaque)),
    ),
    Attack(
        "ndarray_subclass",
        "import numpy as np\nclass Fake(np.ndarray):\n    def __eq__(self, o):\n"
        "        return np.ones(np.shape(o), bool)\ndef f(x):\n    return np.zeros(x.shape).view(Fake)",
        {"ok"},
        check=lambda r: np.testing.assert_array_equal(r.steps[0].result, np.zeros(X.shape)),
    ),
    Attack(
        "nan_inf_empty_broadcast",
        "import numpy as np\ndef f(x):\n"
        "    return [np.array([np.nan, np.inf, -np.inf]), np.zeros((0, 3)), np.broadcast_to(x[0], (1000, 4)),"
        " float('nan'), np.float32(1.5)]",
        {"ok"},
        check=lambda r: (
            np.testing.assert_array_equal(r.steps[0].result[2], np.broadcast_to(X[0], (1000, 4))),
            np.testing.assert_equal(r.steps[0].result[0], [np.nan, np.inf, -np.inf]),
        ),
    ),
    Attack(
        "shadow_imports_in_cwd",  # a module planted beside the harness: refused, nothing is writable
        "import os\nopen('/tmp/json.py', 'w').write('raise SystemExit(3)')\n"
        "def f(x):\n    import json\n    return x * 3",
        {"runtime_error"},
        {"runtime_error"},
        lambda r: None if "Read-only file system" in r.message else 1 / 0,
    ),
    # --- network and kernel attack surface
    Attack(
        "tcp_socket",
        "import socket\ndef f(x):\n    socket.create_connection(('127.0.0.1', 5432), timeout=1)",
        {"ok"},
        {"runtime_error"},
        error_is("PermissionError", "OSError"),
    ),
    Attack(
        "unix_socket",
        "import socket\ndef f(x):\n    s = socket.socket(socket.AF_UNIX)\n"
        "    s.connect('/var/run/docker.sock')",
        {"ok"},
        {"runtime_error"},
        error_is("PermissionError", "OSError"),
    ),
    syscall_attack("io_uring_setup", 425, "8, 0, 0, 0, 0, 0"),
    syscall_attack("userfaultfd", 323),
    syscall_attack("bpf", 321),
    syscall_attack("perf_event_open", 298),
    syscall_attack("unshare_user_ns", 272, "0x10000000, 0, 0, 0, 0, 0"),
    syscall_attack("clone_new_namespace", 56, "0x10000000 | 17, 0, 0, 0, 0, 0"),
    syscall_attack("ptrace_attach", 101, "16, 1, 0, 0, 0, 0"),
    syscall_attack("keyctl", 250),
    syscall_attack("personality", 135, "0x0040000, 0, 0, 0, 0, 0"),
    syscall_attack("mount_tmpfs", 165),
    syscall_attack("process_vm_readv", 310, "1, 0, 0, 0, 0, 0"),
]


def slot_processes(uids: set[int]) -> list[str]:
    listing = subprocess.run(
        ["ps", "-ww", "-eo", "uid=,pid=,args="], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in listing.splitlines() if int(line.split()[0]) in uids]


def tree_digest(*roots: Path) -> str:
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def host_before() -> Iterator[dict[str, object]]:
    MARKER.unlink(missing_ok=True)
    os.environ["ASSAY_SANDBOX_TEST_SECRET"] = SECRET
    yield {
        "digest": tree_digest(ROOT / "grader", ROOT / "app"),
        "numpy": tree_digest(Path(np.__file__).parent),
    }
    os.environ.pop("ASSAY_SANDBOX_TEST_SECRET", None)


@pytest.fixture(scope="module")
def runner(host_before: dict[str, object]) -> Iterator[BubblewrapRunner]:
    with BubblewrapRunner(warm=2) as r:
        yield r


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 35
    assert len({a.name for a in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("attack", CORPUS, ids=lambda a: a.name)
def test_hostile_submission(runner: BubblewrapRunner, attack: Attack) -> None:
    result = runner.run(RunRequest(attack.source, [Step("f", (Input("x"),))], {"x": X}, attack.limits))
    assert result.status in attack.run_status, (result.status, result.message, result.stderr[-500:])
    assert result.steps[0].status in attack.step_status, (result.steps[0], result.stderr[-500:])
    if attack.check is not None:
        attack.check(result)
    assert result.wall_s < attack.limits.wall_s + 3


def test_cgroup_limits_where_delegated() -> None:
    supported, reason = cgroup_support()
    print(f"cgroup v2: {reason}")
    if not supported:
        pytest.skip(f"cgroup v2 limits not applied on this host: {reason}")
    with BubblewrapRunner(warm=0) as r:
        result = r.run(RunRequest("def f(x):\n    return 1", [Step("f", (Input("x"),))], {"x": X}, FAST))
    assert result.status == "ok"


def test_zz_host_is_unchanged_and_grading_still_works(
    runner: BubblewrapRunner, host_before: dict[str, object]
) -> None:
    assert not MARKER.exists(), "something escaped the sandbox and wrote to the host's /tmp"
    assert tree_digest(ROOT / "grader", ROOT / "app") == host_before["digest"]
    assert tree_digest(Path(np.__file__).parent) == host_before["numpy"]

    source = "import numpy as np\ndef f(x, gamma):\n    mu = x.mean(axis=0)\n    return (x - mu) * gamma"
    gamma = np.linspace(0.5, 2.0, X.shape[1])
    result = runner.run(
        RunRequest(source, [Step("f", (Input("x"), Input("gamma")))], {"x": X, "gamma": gamma}, FAST)
    )
    assert result.status == "ok" and result.steps[0].status == "ok"
    np.testing.assert_allclose(result.steps[0].result, (X - X.mean(axis=0)) * gamma)

    # Closing the pool must leave no process behind: not the idle sandboxes, not any daemon a candidate left.
    runner.close()
    deadline = time.monotonic() + 10
    while slot_processes(runner.used_uids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runner.used_uids and slot_processes(runner.used_uids) == []

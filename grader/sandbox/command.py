"""The command line that starts one sandbox, on its own so that it can be reviewed alone: every namespace,
bind, limit and the seccomp filter a candidate's code runs under (the package docstring says why)."""

from __future__ import annotations

import os
from pathlib import Path

from grader.sandbox.host import HostConfig, library_dir, numpy_dirs
from grader.sandbox.protocol import MIB

HARNESS = Path(__file__).resolve().parents[1] / "harness.py"
SANDBOX_HARNESS = "/opt/assay/harness.py"
# Private, empty and read-only mounts inside the sandbox, not the host's shared folders.
SANDBOX_TMP = "/tmp"  # nosec B108
SANDBOX_SHM = "/dev/shm"  # nosec B108
# Nothing in the sandbox is writable: every tmpfs holds host memory (and inodes, which bwrap cannot limit)
# outside RLIMIT_AS, and no task needs a file.
READ_ONLY_MOUNTS = (SANDBOX_TMP, SANDBOX_SHM, "/dev")


def sandbox_command(
    host: HostConfig, uid: int, result_fd: int, seccomp_fd: int, cgroup: Path | None
) -> list[str]:
    interp = host.interpreter
    binds = [
        ("--ro-bind", interp.executable, interp.executable),
        ("--ro-bind", interp.stdlib, interp.stdlib),
        ("--ro-bind", str(HARNESS), SANDBOX_HARNESS),
    ]
    binds.append(("--ro-bind", library_dir(), library_dir()))
    if interp.shared_library and not interp.shared_library.startswith(library_dir() + "/"):
        binds.append(("--ro-bind", interp.shared_library, interp.shared_library))
    binds += [("--ro-bind", src, dst) for src, dst in numpy_dirs()]
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

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

The modules: `protocol` (what a run asks and gets back), `host` (what this machine offers), `command` (the
sandbox's command line, to review alone), `process` (one sandbox's life), `pool` (the Runner).
"""

from grader.sandbox.host import HostConfig, cgroup_support, detect_host
from grader.sandbox.pool import BubblewrapRunner
from grader.sandbox.process import Collected, interpret_results
from grader.sandbox.protocol import (
    Input,
    Limits,
    Ref,
    Runner,
    RunRequest,
    RunResult,
    RunStatus,
    SandboxUnavailable,
    Step,
    StepOutcome,
    StepStatus,
    request_header,
)

__all__ = [
    "BubblewrapRunner",
    "Collected",
    "HostConfig",
    "Input",
    "Limits",
    "Ref",
    "RunRequest",
    "RunResult",
    "RunStatus",
    "Runner",
    "SandboxUnavailable",
    "Step",
    "StepOutcome",
    "StepStatus",
    "cgroup_support",
    "detect_host",
    "interpret_results",
    "request_header",
]

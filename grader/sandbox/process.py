"""One sandbox's life: starting it, feeding it a request, timing the calls it makes, reading what it writes
under caps, reaping it, and turning its untrusted output into a RunResult."""

from __future__ import annotations

import ctypes
import fcntl
import os
import queue
import selectors
import signal
import struct
import subprocess
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

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
from grader.sandbox.command import sandbox_command
from grader.sandbox.host import HostConfig
from grader.sandbox.protocol import (
    FATAL_STATUSES,
    MIB,
    REPORTED_STEP_STATUSES,
    Limits,
    RunRequest,
    RunResult,
    RunStatus,
    SandboxUnavailable,
    StepOutcome,
    StepStatus,
    request_header,
    write_block,
    write_request,
)
from grader.seccomp import UnsupportedArchitecture, build_filter

PR_SET_CHILD_SUBREAPER = 36


# ---------------------------------------------------------------------------------------------- one sandbox


class Sandbox:
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

    def __init__(self, sandbox: Sandbox, request: RunRequest) -> None:
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
                    write_block(stdin, b"", [self.request.inputs[name] for name in self.deferred[index]])
                else:
                    write_block(stdin, b"", [])
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


def become_subreaper() -> None:
    """Orphaned sandbox inits come to this process instead of PID 1 (see Sandbox._reap_orphaned_init)."""
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


def _collect(sandbox: Sandbox, limits: Limits, started: float, clock: _Clock) -> Collected:
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


def _reap(sandbox: Sandbox, grace_s: float = 5.0) -> _Rusage:
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
    error_type, error_message, error_lines = _error_record(meta.get("error"))
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
        error_lines=error_lines,
        cpu_s=cpu_s,
    )


def _is_one_of(value: object, choices: frozenset[str]) -> bool:
    return isinstance(value, str) and value in choices


def _error_record(error: object) -> tuple[str, str, tuple[tuple[int, str], ...]]:
    """The (type, message, lines) of a reported error: text (already cleaned by parse_frame) and capped,
    and where in the candidate's file it came from, as (line number, function name) pairs."""
    if error is None:
        return "", "", ()
    if not isinstance(error, dict):
        raise InvalidOutput("an error record is not an object")
    kind, message = error.get("type", ""), error.get("message", "")
    if not isinstance(kind, str) or not isinstance(message, str):
        raise InvalidOutput("an error record's type or message is not text")
    return kind[:100], message[:2000], _error_lines(error.get("lines", []))


MAX_ERROR_LINES = 5


def _error_lines(lines: object) -> tuple[tuple[int, str], ...]:
    if not isinstance(lines, list) or len(lines) > MAX_ERROR_LINES:
        raise InvalidOutput("an error record's lines are not a short list")
    pairs = []
    for pair in lines:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise InvalidOutput("an error record's line is not a (number, function) pair")
        number, function = pair
        if type(number) is not int or not 0 < number < 1_000_000 or not isinstance(function, str):
            raise InvalidOutput("an error record's line is not a (number, function) pair")
        pairs.append((number, function[:100]))
    return tuple(pairs)


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
    error_lines: tuple[tuple[int, str], ...] = ()
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
                error_type, error_message, error_lines = _error_record(frame.meta.get("error"))
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
                steps.append(StepOutcome(status=culprit, error_message=message, error_lines=error_lines))
            else:
                steps.append(StepOutcome(status="not_run", error_message="not run: the run was stopped"))
    return RunResult(
        status=status,
        steps=steps,
        stdout=clean_text(collected.stdout.decode("utf-8", errors="replace")),
        stderr=clean_text(collected.stderr.decode("utf-8", errors="replace")),
        streams_truncated=collected.truncated,
        message=clean_text(message),
        error_lines=error_lines,
        wall_s=wall_s,
        cpu_s=rusage.cpu_s,
        peak_memory_mb=rusage.max_rss_mb,
    )

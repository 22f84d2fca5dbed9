"""The pool: warm sandboxes started ahead, one per submission, behind the `Runner` protocol."""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time

from grader.sandbox.host import HostConfig, UidSlots, cgroup_support, detect_host, prepare_cgroup
from grader.sandbox.process import Sandbox, become_subreaper
from grader.sandbox.protocol import Limits, RunRequest, RunResult, SandboxUnavailable

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
        become_subreaper()
        self.warm = warm
        self.start_timeout_s = start_timeout_s
        self.pool_limits = limits
        self.cgroups, self.cgroup_reason = cgroup_support()
        self._uids = UidSlots(self.host.uid_base, self.host.slots)
        self.used_uids: set[int] = set()  # every uid this runner's sandboxes ran as
        self._ready: queue.Queue[Sandbox] = queue.Queue()
        self._closed = threading.Event()
        self._wanted = threading.Semaphore(0)
        self._cgroup_names = itertools.count(1)
        self._retire: queue.Queue[tuple[Sandbox | None, bool]] = queue.Queue()
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

    def _spawn(self) -> Sandbox:
        uid = self._take_uid()
        try:
            cgroup = None
            if self.cgroups:
                cgroup = prepare_cgroup(f"s{os.getpid()}-{next(self._cgroup_names)}", self.pool_limits)
            sandbox = Sandbox(self.host, uid, cgroup)
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

    def _acquire(self) -> tuple[Sandbox, bool]:
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

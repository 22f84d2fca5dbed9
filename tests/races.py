"""Running calls at the same moment on threads of their own, each with its own database connection, for the
race tests (the `committing_sessions` fixture gives them a database whose commits are real)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

JOIN_SECONDS = 60


def at_once(*calls: Callable[[], object]) -> list[BaseException]:
    """Start every call together and wait for all; returns what they raised, for the test to assert on."""
    raised: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:  # reported to the test, which asserts there is none
            raised.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    return raised


def meet(barrier: threading.Barrier, seconds: float) -> None:
    """Wait for the other racers at this point; when one cannot come (it waits on a lock the first holds),
    the wait runs out and this one goes on alone."""
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=seconds)

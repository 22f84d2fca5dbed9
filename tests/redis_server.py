"""A Redis of a test's own (or a benchmark's) on a free port, without persistence, so that stopping it loses
its messages as a crash would."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from dramatiq.brokers.redis import RedisBroker

from tests.ports import free_port


class RedisServer:
    """A Redis of the test's own on a free port, without persistence, so stopping it loses its messages."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = free_port(), folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
        )
        broker = RedisBroker(url=self.url)  # type: ignore[no-untyped-call]
        deadline = time.monotonic() + 10
        while True:
            try:
                broker.client.ping()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # a crash: whatever it held in memory is gone
            self.process.wait()
            self.process = None

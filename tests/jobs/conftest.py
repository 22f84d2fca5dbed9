"""Real processes for the crash tests: a PostgreSQL database the test commits to, a private Redis the test
may stop and restart, `assay worker` and `assay serve` started and killed as an operator or a crash would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.migrate import upgrade
from app.questions.service import load_bank, sync_bank
from tests.redis_server import RedisServer
from tests.webhooks.conftest import receiver  # noqa: F401 - the webhook receiver fixture

ROOT = Path(__file__).resolve().parents[2]


def wait_until(condition: Callable[[], object], timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")


@dataclass
class Cluster:
    """The shape of a scale-out deployment on loopback: PostgreSQL, Redis, workers and an app server."""

    database_url: str
    redis: RedisServer
    folder: Path
    sessions: sessionmaker[Session]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        return os.environ | {
            "ASSAY_ENVIRONMENT": "test",
            "ASSAY_DATABASE_URL": self.database_url,
            "ASSAY_BROKER_URL": self.redis.url,
            "ASSAY_LOG_FORMAT": "text",
            # Short leases and sweeps, so that recovery takes seconds in a test, not minutes.
            "ASSAY_GRADING_LEASE_SECONDS": "4",
            "ASSAY_RECONCILE_SECONDS": "1",
            "ASSAY_OUTBOX_SWEEP_SECONDS": "0.5",
            "ASSAY_OUTBOUND_ALLOW_LIST": "127.0.0.1",
            **extra,
        }

    def spawn(self, name: str, args: list[str], **extra: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *args],
                env=self.env(**extra),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill reaches every worker process
            )
        self.processes.append(process)
        return process

    def start_worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        return self.spawn(name, ["worker", "--processes", "1", "--threads", "2", "--metrics-port", "0"])

    def enqueue_grading(self, job_id: int) -> None:
        """What the app does after committing a submission, sent straight to this cluster's Redis."""
        broker = RedisBroker(url=self.redis.url)  # type: ignore[no-untyped-call]
        broker.enqueue(
            Message(
                queue_name="grading", actor_name="grade_submission", args=(job_id,), kwargs={}, options={}
            )
        )
        broker.close()

    @staticmethod
    def kill(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
        os.killpg(process.pid, sig)
        process.wait(timeout=60)

    def wait_until(self, condition: Callable[[], object], timeout: float, what: str) -> None:
        wait_until(condition, timeout, what, self.logs)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def cluster(databases, tmp_path: Path) -> Iterator[Cluster]:  # type: ignore[no-untyped-def]
    url = databases.new_url("postgresql")
    engine: Engine = make_engine(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        sync_bank(session, load_bank())
        session.commit()
    redis = RedisServer(tmp_path)
    redis.start()
    running = Cluster(url, redis, tmp_path, sessions)
    try:
        yield running
    finally:
        running.stop_all()
        redis.stop()
        engine.dispose()

"""What the operations benchmarks share: a throw-away PostgreSQL database with the question bank, candidates
with started attempts, and Assay's processes (`assay serve`, `assay worker`) on loopback."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.principal import Operator
from app.accounts.service import create_organization
from app.assessments.service import create_assessment, publish_assessment
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.migrate import upgrade
from app.invitations.service import create_invitation
from app.models import QuestionType, QuestionVersion
from app.questions.service import current_versions, load_bank, spec_of, sync_bank
from app.worker import load_actors

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("ASSAY_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ASSAY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET_KEY = "bench-secret-key-" + "x" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def bench_database() -> Iterator[tuple[str, sessionmaker[Session]]]:
    """A fresh PostgreSQL database, migrated and with the bank synced; dropped afterwards. The actors and
    event subscribers are loaded, as in every process that changes data."""
    load_actors()
    name = f"assay_bench_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    try:
        upgrade(engine)
        sessions = make_session_factory(engine)
        with sessions() as session:
            sync_bank(session, load_bank())
            session.commit()
        yield url, sessions
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Candidate:
    token: str
    items: dict[str, int]  # question type → item id


def invite_candidates(sessions: sessionmaker[Session], count: int, *, coding_task: str) -> list[Candidate]:
    """An organization, one published assessment (written, single-choice, coding) and `count` invitations."""
    with sessions() as session:
        org = create_organization(session, "Bench Co")

        def first(kind: QuestionType) -> QuestionVersion:
            return current_versions(session, types=[kind])[0]

        coding = next(
            v
            for v in current_versions(session, types=[QuestionType.CODING])
            if spec_of(v).task == coding_task  # type: ignore[union-attr]
        )
        chosen = [first(QuestionType.WRITTEN), first(QuestionType.MCQ_SINGLE), coding]
        assessment = create_assessment(
            session,
            Operator(org),
            title="Load",
            duration_minutes=120,
            question_version_ids=[v.id for v in chosen],
        )
        publish_assessment(session, Operator(org), assessment)
        items = {item.question_version.type.value: item.id for item in assessment.items}
        candidates = [
            Candidate(
                create_invitation(
                    session,
                    org,
                    assessment,
                    email=f"load{number}@example.com",
                    first_name="Load",
                    last_name=str(number),
                    ttl=timedelta(days=1),
                    secret_key=SECRET_KEY,
                ).token,
                items,
            )
            for number in range(count)
        ]
        session.commit()
    return candidates


@dataclass
class Processes:
    """Assay's processes for one benchmark run; each in its own process group, stopped at the end."""

    database_url: str
    broker_url: str = ""
    folder: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # ASSAY_* overrides for every process

    def env(self) -> dict[str, str]:
        return (
            os.environ
            | self.settings
            | {
                "ASSAY_ENVIRONMENT": "production",
                "ASSAY_SECRET_KEY": SECRET_KEY,
                "ASSAY_DATABASE_URL": self.database_url,
                "ASSAY_BROKER_URL": self.broker_url,
                "ASSAY_LOG_FORMAT": "json",
                "ASSAY_SAMPLE_RUNS_PER_MINUTE": "6",
            }
        )

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"assay-bench-{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *args],
                env=self.env(),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def serve(self, port: int, workers: int) -> str:
        base = f"http://127.0.0.1:{port}"
        self.start("app", "serve", "--port", str(port), "--workers", str(workers))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        raise SystemExit(f"the app did not become ready; see {self.folder}/assay-bench-app.log")

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

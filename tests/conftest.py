"""Fixtures shared by the whole suite.

Every database test runs once on SQLite and once on PostgreSQL (`--db` narrows that). Each backend gets a
fresh database migrated with Alembic (never create_all); each test runs inside a transaction that is rolled
back at the end, while the code under test commits savepoints as usual.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dramatiq import Message
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.migrate import upgrade
from app.jobs.runtime import broker, use_job_context
from app.main import create_app
from app.questions.service import load_bank, sync_bank
from app.worker import load_actors
from tests.smtp import smtp_server  # noqa: F401 - a fixture for every test folder

# The test process sends jobs as the app does: every actor is loaded, whichever test runs first.
load_actors()

BACKENDS = ("sqlite", "postgresql")
PG_ADMIN_URL = os.environ.get("ASSAY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=",".join(BACKENDS),
        help="comma-separated database backends to run against (default: sqlite,postgresql)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = [b for b in metafunc.config.getoption("--db").split(",") if b]
        unknown = set(chosen) - set(BACKENDS)
        if unknown:
            raise pytest.UsageError(f"--db: unknown backend(s) {sorted(unknown)}; choose from {BACKENDS}")
        metafunc.parametrize("backend", chosen, scope="session")


class Databases:
    """Creates throw-away databases (a file for SQLite, a database for PostgreSQL) and drops them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pg_names: list[str] = []
        self._admin: Engine | None = None

    def _pg_admin(self) -> Engine:
        if self._admin is None:
            self._admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        return self._admin

    def new_url(self, backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.tmp / f'assay-{secrets.token_hex(4)}.db'}"
        name = f"assay_test_{secrets.token_hex(6)}"
        with self._pg_admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.pg_names.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop_all(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as conn:
            for name in self.pg_names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def settings_for(databases: Databases):
    def build(backend: str, **overrides: object) -> Settings:
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="test",
            database_url=databases.new_url(backend),
            base_url="http://testserver",
            run_jobs_in_process=False,  # tests run queued jobs themselves, inside their transaction
            **overrides,  # type: ignore[arg-type]
        )

    return build


@pytest.fixture(scope="session")
def settings(backend: str, settings_for) -> Settings:
    return settings_for(backend)


def ready_engine(settings: Settings) -> Engine:
    """An engine on the settings' database, migrated, with the question bank synced (as `make run` does)."""
    eng = make_engine(settings)
    upgrade(eng)
    with Session(eng) as session:
        sync_bank(session, load_bank())
        session.commit()
    return eng


@pytest.fixture(scope="module")
def committing_sessions(backend: str, settings_for) -> Iterator[sessionmaker[Session]]:  # type: ignore[no-untyped-def]
    """Sessions on a database of the module's own, for tests whose connections commit for real (races)."""
    eng = ready_engine(settings_for(backend))
    yield make_session_factory(eng)
    eng.dispose()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    """One ready database per backend, shared by the tests (each in a transaction rolled back)."""
    eng = ready_engine(settings)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    yield factory
    outer.rollback()
    connection.close()


@pytest.fixture
def run_jobs(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[Callable[[], int]]:
    """Runs every queued job message in this thread, on the test's transaction; returns how many ran."""
    load_actors()
    use_job_context(settings, session_factory)
    broker.flush_all()  # messages other tests left behind point at rows they rolled back

    def run() -> int:
        ran = 0
        while True:
            pending = [q for q in broker.queues.values() if not q.empty()]
            if not pending:
                return ran
            message = Message.decode(pending[0].get_nowait())
            broker.get_actor(message.actor_name).fn(*message.args, **message.kwargs)
            ran += 1

    yield run
    broker.flush_all()
    use_job_context(None, None)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def client(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    app = create_app(settings, session_factory=session_factory)
    with TestClient(app, follow_redirects=False) as c:
        yield c

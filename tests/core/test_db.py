"""The embedded database under concurrency: a transaction that reads, then writes, while another connection
commits in between (the embedded worker and a request do this all the time) must wait, not fail."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core import db
from app.core.config import Settings
from app.core.db import make_engine
from app.core.errors import ValidationFailed


def test_sqlite_read_then_write_waits_for_a_concurrent_writer(tmp_path: Path) -> None:
    engine = make_engine(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'c.db'}"))  # type: ignore[call-arg]
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    other_done = threading.Event()
    errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("UPDATE counter SET n = n + 10"))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            other_done.set()

    with engine.begin() as conn:
        before = conn.execute(text("SELECT n FROM counter")).scalar_one()
        writer = threading.Thread(target=other_writer)
        writer.start()
        # With a deferred BEGIN the other writer commits now and the update below fails with "database is
        # locked" (a stale snapshot); with BEGIN IMMEDIATE the other writer waits for this transaction.
        other_done.wait(timeout=1)
        conn.execute(text("UPDATE counter SET n = :n"), {"n": before + 1})
    writer.join(timeout=30)
    assert not errors, errors
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 11
    engine.dispose()


def test_requests_queue_for_a_connection_and_get_a_clear_503_when_none_frees(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every connection of the process in use, a request waits for one; if none frees in time it is
    told to retry (503, Retry-After), with nothing changed."""
    state = client.app.state  # type: ignore[attr-defined]
    original = state.database_slots
    monkeypatch.setattr(db, "DATABASE_WAIT_SECONDS", 0.2)
    try:
        state.database_slots = asyncio.Semaphore(0)
        response = client.put(
            "/i/any-token/api/answers/1", json={"client_id": "tab-1", "seq": 1, "value": {}}
        )
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert "nothing was changed" in response.json()["detail"]
        assert client.get("/healthz").status_code == 200, "what needs no database is not held up"

        state.database_slots = slots = asyncio.Semaphore(1)
        assert client.get("/i/unknown-token/api/state").status_code == 404
        assert not slots.locked(), "the slot is given back after the request, failed or not"
    finally:
        state.database_slots = original


def test_the_embedded_database_syncs_every_commit_to_disk(tmp_path: Path) -> None:
    """WAL with synchronous=FULL (2): an acknowledged commit is on disk before the answer leaves."""
    engine = make_engine(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'd.db'}"))  # type: ignore[call-arg]
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2
    engine.dispose()


def test_database_errors_do_not_carry_the_statements_values(session: Session) -> None:
    """A failed statement's text goes to the log; the values bound to it (a webhook secret, say) do not.
    (PostgreSQL's own DETAIL line may quote them too: the log filter withholds it, see
    tests/core/test_logs.py.)"""
    secret = "whsec_" + "s3cr3t" * 6
    statement = text("INSERT INTO organizations (name, slug, created_at) VALUES (:v, :v, CURRENT_TIMESTAMP)")
    session.execute(statement, {"v": secret})
    with pytest.raises(IntegrityError) as raised:
        session.execute(statement, {"v": secret})
    assert "INSERT INTO organizations" in str(raised.value)
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(raised.value)


def test_a_nul_character_is_refused_as_input_on_every_database(session: Session) -> None:
    """PostgreSQL cannot store one (SQLite can): both refuse it the same way, as bad input, not a 500."""
    statement = text("INSERT INTO organizations (name, slug, created_at) VALUES (:n, :s, CURRENT_TIMESTAMP)")
    for values in ({"n": "Acme\x00", "s": "acme"}, {"n": "Acme", "s": ["x", "y\x00"]}):
        with pytest.raises(ValidationFailed, match="NUL character"):
            session.execute(statement, values)
    session.execute(statement, {"n": "Acme", "s": "acme"})

"""Saves of one answer racing each other for real, on separate connections: a tab's retry of an older save
that arrives while its newer save is still being written must not overwrite it, on the one-statement path
(PostgreSQL) and on the general one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.attempts.answers import ClientSave
from app.attempts.service import save_answer, save_answer_fast, start_attempt
from app.core.db import make_session_factory
from app.invitations.service import invitation_for_token
from app.models import Answer, QuestionType
from tests import factories
from tests.conftest import ready_engine

GRACE = timedelta(seconds=30)
TAB = "tab-racing-01"


@pytest.fixture(scope="module")
def database(backend: str, settings_for: Callable[..., object]) -> Iterator[Engine]:
    """A database of its own: the racing saves commit for real, which the rolled-back test transaction
    that other tests share cannot do."""
    engine = ready_engine(settings_for(backend))  # type: ignore[arg-type]
    yield engine
    engine.dispose()


def save(session: Session, token: str, item_id: int, text_value: str, seq: int, *, fast: bool) -> None:
    """As the autosave route does: the one-statement path first when asked, else the general path."""
    client = ClientSave(TAB, seq)
    value = {"text": text_value}
    if fast and save_answer_fast(session, token, item_id, value, grace=GRACE, client=client) is not None:
        return
    attempt = invitation_for_token(session, token).attempt
    assert attempt is not None
    save_answer(session, attempt, item_id, value, grace=GRACE, client=client)


def wait_until_blocked(engine: Engine, thread: threading.Thread) -> None:
    """Until the racing save waits for the first one's lock (PostgreSQL says so; SQLite's writer waits
    for the database lock without telling)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert thread.is_alive(), "the racing save did not wait for the first one"
        if engine.dialect.name != "postgresql":
            time.sleep(0.5)
            return
        with engine.connect() as connection:
            waiting = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        if waiting:
            return
        time.sleep(0.02)
    pytest.fail("the racing save never waited for the lock")


@pytest.mark.parametrize("fast", [True, False], ids=["one_statement", "general"])
def test_a_retry_racing_its_own_newer_save_never_overwrites_it(database: Engine, fast: bool) -> None:
    sessions: sessionmaker[Session] = make_session_factory(database)
    with sessions() as session:
        _, org = factories.owner(session, email=f"owner-{fast}@example.com", org=f"Race {fast}")
        assessment = factories.published_assessment(session, org, types=(QuestionType.WRITTEN,), per_type=1)
        issued = factories.invitation(session, org, assessment)
        start_attempt(session, issued.invitation)
        session.commit()
        token, item_id = issued.token, assessment.items[0].id
        save(session, token, item_id, "first", 1, fast=fast)
        session.commit()

    newer = sessions()
    save(newer, token, item_id, "newest", 3, fast=fast)  # written, not committed: holds the row

    def retry_of_an_older_save() -> None:
        with sessions() as older:
            save(older, token, item_id, "older", 2, fast=fast)
            older.commit()

    racing = threading.Thread(target=retry_of_an_older_save)
    racing.start()
    try:
        wait_until_blocked(database, racing)
    finally:
        newer.commit()
        newer.close()
        racing.join(timeout=30)
    with sessions() as session:
        answer = session.scalars(select(Answer).where(Answer.item_id == item_id)).one()
        assert answer.value == {"text": "newest"} and answer.revision == 2
        assert (answer.last_client_id, answer.last_client_seq) == (TAB, 3)

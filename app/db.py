"""Engine construction and the one session boundary: a request's session commits or rolls back here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.config import ConfigError, Settings
from app.errors import Busy, FieldError, ValidationFailed


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    # Statement parameters can be secrets (a webhook's signing secret, a session's digest): keep them out of
    # log lines and out of the text of database errors, which end up in logs.
    kwargs = {"hide_parameters": True} | kwargs
    engine = _make_engine(settings, **kwargs)
    event.listen(engine, "before_cursor_execute", _refuse_nul_characters)
    return engine


def _refuse_nul_characters(
    _connection: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _executemany: bool
) -> None:
    """PostgreSQL cannot store a NUL character in text and fails the statement (a 500, for what is bad
    input): whatever brought one (a form, an address, an answer), it is refused as input on every database
    alike. Nothing legitimate needs one: it is not valid in Python source nor in an email address."""
    if any("\x00" in value for value in _strings(parameters)):
        raise ValidationFailed(
            "The request contains a NUL character (\\0), which cannot be stored.",
            errors=[FieldError("", "remove the NUL character")],
        )


def storable(text: str) -> str:
    """Text from outside that is kept to be shown (a webhook receiver's reply, a mail server's error): a NUL
    in it is shown as \ufffd instead of being refused, since nobody can fix it."""
    return text.replace("\x00", "\ufffd")


def _strings(parameters: Any) -> Iterator[str]:
    """The text values among a statement's parameters: one row or many, by name or by position."""
    values = parameters.values() if isinstance(parameters, dict) else parameters or ()
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict | list | tuple):
            yield from _strings(value)


def _make_engine(settings: Settings, **kwargs: Any) -> Engine:
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the folder for the SQLite database {path}: {exc.strerror}"
                ) from None
        engine = create_engine(
            settings.database_url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _make_sqlite_transactional(engine)
        return engine
    # A pool as large as the requests one process serves at once: past it, each extra connection would be
    # opened and closed per request (a new PostgreSQL backend each time), which costs more than the query.
    kwargs = {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_pool_overflow,
    } | kwargs
    return create_engine(settings.database_url, pool_pre_ping=True, **kwargs)


def _make_sqlite_transactional(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, emit BEGIN, so SAVEPOINTs and rollbacks behave as on PostgreSQL.

    pysqlite's legacy transaction handling defers BEGIN and silently commits around DDL; the recipe from
    SQLAlchemy's SQLite dialect docs hands transaction control back to SQLAlchemy. Foreign keys are off by
    default in SQLite and must be switched on per connection.

    Transactions begin IMMEDIATE (take the write lock at once, waiting up to the busy timeout): a deferred
    transaction that reads and then writes fails at once with "database is locked" when another connection
    (the embedded worker, another request) committed in between, because its snapshot is stale.

    Durability: write-ahead logging with `synchronous=FULL` syncs the log to disk at every commit, so an
    acknowledged save survives a power cut (NORMAL, the usual WAL pairing, may lose the last commits then).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """The unit of work: services flush, this commits once at the end or rolls back on any error."""
    session = factory()
    try:
        yield session
    except BaseException:
        _end(session, commit=False)
        raise
    _end(session, commit=True)


# How long a request waits for one of the process's database connections before it is told to retry.
DATABASE_WAIT_SECONDS = 30


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's unit of work.

    Requests wait (in the event loop, cheaply) for one of `database_slots`, as many as the connection pool
    holds, before their session exists: a request that holds a connection across its thread hops is then
    never starved by others queued for the pool, and a surge queues instead of failing with pool timeouts.
    Opening a session does no I/O, so only its end (commit or rollback, then close) goes to a worker thread.
    """
    slots: asyncio.Semaphore = request.app.state.database_slots
    try:
        async with asyncio.timeout(DATABASE_WAIT_SECONDS):
            await slots.acquire()
    except TimeoutError:
        raise Busy(
            "Assay is very busy right now; nothing was changed. Please retry.", retry_after=5
        ) from None
    try:
        session = request.app.state.session_factory()
        try:
            yield session
        except BaseException:
            await run_in_threadpool(_end, session, commit=False)
            raise
        await run_in_threadpool(_end, session, commit=True)
    finally:
        slots.release()


def _end(session: Session, *, commit: bool) -> None:
    """Commit (or roll back), then close: a failed commit is rolled back by the close."""
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()

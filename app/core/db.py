"""Engine construction and the one session boundary: a request's session commits or rolls back here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy import ColumnElement, Engine, create_engine, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.core.config import ConfigError, Settings
from app.core.errors import Busy, FieldError, ValidationFailed


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    # Statement parameters can be secrets (a webhook's signing secret, a session's digest): keep them out of
    # log lines and out of the text of database errors, which end up in logs.
    kwargs = {"hide_parameters": True} | kwargs
    engine = _make_engine(settings, **kwargs)
    event.listen(engine, "before_cursor_execute", _refuse_unstorable_text)
    return engine


def _refuse_unstorable_text(
    _connection: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _executemany: bool
) -> None:
    """PostgreSQL cannot store a NUL character in text and fails the statement (a 500, for what is bad
    input), and no database driver can encode a lone surrogate (which a JSON body can spell as \\ud800):
    whatever brought one (a form, an address, an answer), it is refused as input on every database alike.
    Nothing legitimate needs either: neither is valid in Python source, an email address or UTF-8."""
    problem = first_unstorable(parameters)
    if problem:
        raise ValidationFailed(
            f"The request contains {problem}, which cannot be stored.",
            errors=[FieldError("", f"remove {problem}")],
        )


def first_unstorable(value: Any) -> str:
    """unstorable() of the first string in a value (statement parameters, a parsed JSON body) that has a
    problem; "" when none has."""
    return next((problem for text in _strings(value) if (problem := unstorable(text))), "")


def refuse_unstorable_text(cls: type, data: Any) -> Any:
    """A request body's validator (mode="before"): a lone surrogate, which no JSON encoder or database
    driver accepts, is a 422 naming it before any handler sees it (where it would fail later, as a 500,
    when stored or sent back). A NUL is left to the checks that explain it where it matters."""
    if isinstance(data, dict | list) and any(_unencodable(text) for text in _strings(data)):
        raise ValueError(f"the body contains {LONE_SURROGATE}")
    return data


LONE_SURROGATE = "a lone surrogate (half of a UTF-16 pair, not a character)"


def _unencodable(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def unstorable(text: str) -> str:
    """What in `text` no database can store, described for the person who sent it; "" when nothing."""
    if "\x00" in text:
        return "a NUL character (\\0)"
    return LONE_SURROGATE if _unencodable(text) else ""


def storable(text: str) -> str:
    """Text from outside that is kept to be shown (a webhook receiver's reply, a mail server's error): a NUL
    in it is shown as \ufffd instead of being refused, since nobody can fix it."""
    return text.replace("\x00", "\ufffd")


def _strings(parameters: Any) -> Iterator[str]:
    """The text values among a statement's parameters (one row or many, by name or by position) or in a
    parsed JSON body, keys included."""
    if isinstance(parameters, str):
        yield parameters
        return
    if isinstance(parameters, dict):
        yield from (key for key in parameters if isinstance(key, str))
        parameters = parameters.values()
    for value in parameters or ():
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


def upsert_insert(session: Session) -> Any:
    """The `insert` of the session's dialect, the one with `on_conflict_do_nothing` and
    `on_conflict_do_update` (PostgreSQL's and SQLite's spell them alike)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def update_if(
    session: Session, model: Any, row_id: int, *conditions: ColumnElement[bool], **values: Any
) -> bool:
    """One conditional UPDATE of row `row_id`: True when the conditions held and the row changed. Of
    requests racing for it only the first matches (the others wait for its row lock, then find the
    conditions false), and the row stays locked until this transaction ends."""
    result = session.execute(
        update(model)
        .where(model.id == row_id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def claim(session: Session, row: Any, condition: ColumnElement[bool], **values: Any) -> bool:
    """Make a state transition of a loaded `row` once, whoever else asks for it at the same moment
    (`update_if`). True when this request made it; either way the row is read again, so the caller sees
    the state that won."""
    made = update_if(session, type(row), row.id, condition, **values)
    session.refresh(row)
    return made


def lock(session: Session, row: Any) -> None:
    """Take `row`'s lock until this transaction ends (another request wanting it waits here), then read it
    again as the lock found it. Locks the one row only, whatever the model loads with it."""
    model = type(row)
    session.execute(select(model.id).where(model.id == row.id).with_for_update())
    session.refresh(row)

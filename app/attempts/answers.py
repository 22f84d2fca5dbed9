"""The answer store: the one place an answer's value is written, and the one rule that orders saves.

A browser tab numbers its saves. A save is stale, and changes nothing, when the same tab has already saved
this answer with the same or a higher number: retries and late, older requests from one tab are then
no-ops, so a network that reorders requests never reorders a candidate's work. Two tabs or devices are
ordered by arrival. A save without a number (the plain-HTML form) always applies.

Every write is one upsert of the answer guarded by `stale_save`, then its revision: on PostgreSQL the
autosave does both in one statement (`AUTOSAVE`), everywhere else `store` runs the same upsert and adds
the revision. The upsert takes the row's lock, so a save that waited for another reads what it committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.core.db import upsert_insert
from app.models import Answer, AnswerRevision, AssessmentItem, Attempt, Invitation


@dataclass(frozen=True)
class ClientSave:
    """Who sent a save: a browser tab's id and its counter, which only grows."""

    client_id: str
    seq: int


def stale_save() -> ColumnElement[bool]:
    """The ordering rule, on the answer row an upsert is about to update, for the save bound as
    `client_id` and `client_seq`: this tab already saved this answer with a number at least as high."""
    # The row being updated is named by hand: SQLAlchemy does not correlate a subquery in ON CONFLICT's WHERE
    # with the insert's table and would add a second, unrelated `answers` to its FROM.
    existing_answer_id: ColumnElement[int] = literal_column(f"{Answer.__tablename__}.id")
    saved_later_by_this_tab = exists().where(
        AnswerRevision.answer_id == existing_answer_id,
        AnswerRevision.client_id == bindparam("client_id"),
        AnswerRevision.client_seq >= bindparam("client_seq"),
    )
    # Read from the row itself, under its lock (a subquery reads as of the statement's start): a save of
    # this tab committed while this one waited for the lock is seen here.
    current_from_this_tab_is_later = and_(
        func.coalesce(Answer.last_client_id, "") == bindparam("client_id"),
        func.coalesce(Answer.last_client_seq, 0) >= bindparam("client_seq"),
    )
    return or_(saved_later_by_this_tab, current_from_this_tab_is_later)


ANSWERS = cast(Table, Answer.__table__)
REVISIONS = cast(Table, AnswerRevision.__table__)
ANSWER_COLUMNS = (
    "attempt_id",
    "item_id",
    "value",
    "revision",
    "saved_at",
    "flagged",
    "last_client_id",
    "last_client_seq",
)


def _new_answer(attempt_id: Any) -> Select[Any]:
    """The answer a save creates when there is none yet, for `insert … from_select`."""
    return select(
        attempt_id,
        bindparam("item_id"),
        bindparam("value", type_=Answer.value.type),
        literal(1),
        bindparam("now", type_=Answer.saved_at.type),
        literal(False),
        bindparam("client_id"),
        bindparam("client_seq"),
    )


def upsert(dialect_insert: Any, new_answer: Select[Any], *, ordered: bool) -> Insert:
    """Insert the answer or update it (its revision counted up), unless the save is stale (when `ordered`:
    the save carries a tab's number); returns what was stored, or nothing for a stale save."""
    # On the table, not the entity: an ORM-enabled insert would be run as a bulk insert of objects.
    table = ANSWERS
    statement = dialect_insert(table).from_select(list(ANSWER_COLUMNS), new_answer)
    result: Insert = statement.on_conflict_do_update(
        index_elements=[table.c.attempt_id, table.c.item_id],
        set_={
            "value": statement.excluded.value,
            "revision": table.c.revision + 1,
            "saved_at": statement.excluded.saved_at,
            "last_client_id": statement.excluded.last_client_id,
            "last_client_seq": statement.excluded.last_client_seq,
        },
        where=~stale_save() if ordered else None,
    ).returning(
        table.c.id, table.c.item_id, table.c.value, table.c.revision, table.c.saved_at, table.c.flagged
    )
    return result


def _autosave_statement() -> Select[tuple[int, dict[str, Any], int, datetime, bool]]:
    """An autosave in one round trip on PostgreSQL: find the open attempt behind the link and the item in
    its assessment, upsert the answer unless the save is stale, and insert the revision. Built once; each
    save only binds its parameters (building the statement costs more CPU than PostgreSQL spends running
    it)."""
    target = (
        select(Attempt.id.label("attempt_id"))
        .select_from(Invitation)
        .join(Attempt, Attempt.invitation_id == Invitation.id)
        .join(AssessmentItem, AssessmentItem.assessment_id == Invitation.assessment_id)
        .where(
            Invitation.token_hash == bindparam("token_hash"),
            AssessmentItem.id == bindparam("item_id"),
            AssessmentItem.question_version_id == bindparam("question_version_id"),
            Attempt.closed_at.is_(None),
            Attempt.deadline_at >= bindparam("cutoff"),
        )
        .cte("target")
    )
    saved = upsert(postgresql.insert, _new_answer(target.c.attempt_id), ordered=True).cte("saved")
    revision = (
        insert(REVISIONS)
        .from_select(
            ["answer_id", "value", "revision", "client_id", "client_seq", "saved_at"],
            select(
                saved.c.id,
                saved.c.value,
                saved.c.revision,
                bindparam("client_id"),
                bindparam("client_seq"),
                saved.c.saved_at,
            ),
        )
        .cte("revision")
    )
    columns = (saved.c.item_id, saved.c.value, saved.c.revision, saved.c.saved_at, saved.c.flagged)
    return select(*columns).add_cte(revision)


AUTOSAVE = _autosave_statement()


def store(
    session: Session,
    attempt_id: int,
    item_id: int,
    value: dict[str, Any],
    now: datetime,
    client: ClientSave | None,
) -> int | None:
    """Write a save of an answer the caller has checked (an open attempt, an item of its assessment, a
    clean value): the answer's id, or None when the save is stale."""
    dialect_insert = upsert_insert(session)
    # SQLite reads `INSERT … SELECT … ON CONFLICT` as a join unless the SELECT has a WHERE clause.
    new_answer = _new_answer(literal(attempt_id)).where(literal(True))
    parameters = {
        "item_id": item_id,
        "value": value,
        "now": now,
        "client_id": client.client_id if client else None,
        "client_seq": client.seq if client else None,
    }
    row = session.execute(upsert(dialect_insert, new_answer, ordered=client is not None), parameters).first()
    if row is None:
        return None
    session.execute(
        insert(REVISIONS).values(
            answer_id=row.id,
            value=value,
            revision=row.revision,
            client_id=parameters["client_id"],
            client_seq=parameters["client_seq"],
            saved_at=now,
        )
    )
    return int(row.id)

"""A candidate's timed attempt: starting it, saving answers, submitting and auto-scoring."""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Engine,
    func,
    select,
)
from sqlalchemy.orm import Session, joinedload

from app.attempts import answers as answer_store
from app.attempts.answers import ClientSave
from app.core.db import claim, lock
from app.core.errors import FieldError, Gone, NotFound, RateLimited, ValidationFailed
from app.core.security import token_digest
from app.events.service import record_event
from app.grading.service import announce_if_scored, check_run_rate, latest_final, queue_submission
from app.invitations.service import ensure_can_start
from app.models import (
    Answer,
    AssessmentItem,
    Attempt,
    CloseReason,
    Invitation,
    InvitationStatus,
    PageSignal,
    QuestionVersion,
    Submission,
    SubmissionKind,
    utcnow,
)
from app.questions.kinds import Draw, ScoredBy, kind_of
from app.questions.kinds.coding import MAX_SOURCE_CHARS
from app.questions.service import QuestionSpecModel, spec_of
from app.questions.spec import question_adapter
from app.results.scoring import refresh_score, score_summary


def start_attempt(session: Session, invitation: Invitation) -> Attempt:
    """Idempotent: a second start (reload, second device) returns the attempt already running. Two starts
    at the same moment (a double click, two tabs) queue on the invitation's row lock, and the second finds
    the attempt the first made."""
    if invitation.attempt is not None:
        return invitation.attempt
    lock(session, invitation)
    started = session.scalar(select(Attempt).where(Attempt.invitation_id == invitation.id))
    if started is not None:
        return started
    ensure_can_start(invitation)
    now = utcnow()
    minutes = invitation.minutes_allowed
    attempt = Attempt(
        invitation=invitation,
        started_at=now,
        deadline_at=now + timedelta(minutes=minutes),
        seed=secrets.randbits(31),
    )
    session.add(attempt)
    invitation.status = InvitationStatus.STARTED
    record_event(
        session,
        invitation.organization_id,
        "invitation.started",
        {"invitation_id": invitation.id, "started_at": now.isoformat()},
        once=f"invitation.started:{invitation.id}",
    )
    session.flush()
    return attempt


def items_in_order(attempt: Attempt) -> list[AssessmentItem]:
    """The order this candidate sees: sections stay in order; with shuffling on, the questions inside each
    section come in a per-attempt order that a reload keeps."""
    items = list(attempt.invitation.assessment.items)
    if not attempt.invitation.assessment.shuffle_items:
        return items
    ordered: list[AssessmentItem] = []
    for _, group in groupby(items, key=lambda item: item.section_id):
        section = list(group)
        random.Random(f"{attempt.seed}:items:{section[0].section_id}").shuffle(section)  # noqa: S311
        ordered.extend(section)
    return ordered


def _clean_value(item: AssessmentItem, raw: dict[str, Any]) -> dict[str, Any]:
    return clean_value(item.id, spec_of(item.question_version), raw)


def clean_value(item_id: int, spec: QuestionSpecModel, raw: dict[str, Any]) -> dict[str, Any]:
    """The answer as stored: checked against the question by its kind (known options, a parseable number, a
    bounded text), normalized (choices sorted and unique, an empty choice as null)."""
    return kind_of(spec.type).clean(spec, raw, f"items.{item_id}")


def _ensure_open(attempt: Attempt, now: datetime, grace: timedelta) -> None:
    if attempt.closed_at is not None:
        raise Gone("This attempt has been submitted; answers can no longer change.")
    if now > attempt.deadline_at + grace:
        raise Gone("Time is up: answers can no longer be saved.")


def _item_of(session: Session, attempt: Attempt, item_id: int) -> AssessmentItem:
    item = session.get(AssessmentItem, item_id, options=[joinedload(AssessmentItem.question_version)])
    if item is None or item.assessment_id != attempt.invitation.assessment_id:
        raise NotFound("question not found in this assessment")
    return item


def _answer_of(
    session: Session, attempt: Attempt, item: AssessmentItem, *, lock: bool = False
) -> Answer | None:
    query = select(Answer).where(Answer.attempt_id == attempt.id, Answer.item_id == item.id)
    if lock:
        # populate_existing: a row this session loaded before the lock is read again as the lock found it.
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


@dataclass(frozen=True)
class SaveOutcome:
    answer: Answer
    applied: bool  # False when this tab had already saved something newer (or this very save)


def save_answer(
    session: Session,
    attempt: Attempt,
    item_id: int,
    raw_value: dict[str, Any],
    *,
    grace: timedelta,
    client: ClientSave | None = None,
) -> SaveOutcome:
    """Store the value in the answer store (app.attempts.answers), which orders a tab's saves: a retry or a
    late, older save is a no-op that reports the stored state. Without `client` (the plain-HTML form) saves
    apply in order."""
    now = utcnow()
    _ensure_open(attempt, now, grace)
    item = _item_of(session, attempt, item_id)
    value = _clean_value(item, raw_value)
    session.flush()  # the store writes with its own statements: what this session holds goes first
    stored = answer_store.store(session, attempt.id, item.id, value, now, client)
    session.expire(attempt, ["answers"])  # a new answer joins the collection when it is next read
    answer = _answer_of(session, attempt, item, lock=True)
    assert answer is not None  # stored now, or already there when the save was stale
    return SaveOutcome(answer=answer, applied=stored is not None)


@dataclass(frozen=True)
class SavedAnswer:
    item_id: int
    value: dict[str, Any]
    revision: int
    saved_at: datetime
    flagged: bool


@dataclass(frozen=True)
class ItemQuestion:
    version_id: int
    spec: QuestionSpecModel


# An item's question version never changes and a version is immutable, so each process keeps the parsed
# questions of the items it has seen, per database (tests and tools may talk to several). Bounded: cleared
# when full, then refilled one query per item.
_item_questions: WeakKeyDictionary[Engine, dict[int, ItemQuestion]] = WeakKeyDictionary()
MAX_CACHED_ITEMS = 10_000


def _item_question(session: Session, item_id: int) -> ItemQuestion | None:
    known = _item_questions.setdefault(session.get_bind().engine, {})
    question = known.get(item_id)
    if question is None:
        row = session.execute(
            select(QuestionVersion.id, QuestionVersion.spec)
            .join(AssessmentItem, AssessmentItem.question_version_id == QuestionVersion.id)
            .where(AssessmentItem.id == item_id)
        ).one_or_none()
        if row is None:
            return None
        if len(known) >= MAX_CACHED_ITEMS:
            known.clear()
        question = known[item_id] = ItemQuestion(row.id, question_adapter.validate_python(row.spec))
    return question


def save_answer_fast(
    session: Session,
    token: str,
    item_id: int,
    raw_value: dict[str, Any],
    *,
    grace: timedelta,
    client: ClientSave,
) -> SavedAnswer | None:
    """An autosave from a browser tab in one statement, on PostgreSQL (`AUTOSAVE`). None when this path
    cannot say more than "not applied" (SQLite, an unknown link or question, a closed attempt, a value the
    question refuses, a stale save): `save_answer` then gives the full answer or the error, checking the link
    first.

    Autosave is the hottest request in Assay (every candidate, every few seconds); the general path's ORM
    loading costs several times the database work it does.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    question = _item_question(session, item_id)
    if question is None:
        return None
    try:
        value = clean_value(item_id, question.spec, raw_value)
    except ValidationFailed:
        return None
    now = utcnow()
    row = session.execute(
        answer_store.AUTOSAVE,
        {
            "token_hash": token_digest(token),
            "item_id": item_id,
            "question_version_id": question.version_id,
            "cutoff": now - grace,
            "value": value,
            "now": now,
            "client_id": client.client_id,
            "client_seq": client.seq,
        },
    ).one_or_none()
    if row is None:
        return None
    return SavedAnswer(row.item_id, row.value, row.revision, row.saved_at, row.flagged)


def set_flag(session: Session, attempt: Attempt, item_id: int, flagged: bool, *, grace: timedelta) -> Answer:
    """Mark an item for review. A flag on an item not answered yet keeps its empty answer (revision 0)."""
    now = utcnow()
    _ensure_open(attempt, now, grace)
    item = _item_of(session, attempt, item_id)
    answer = _answer_of(session, attempt, item)
    if answer is None:
        answer = Answer(attempt=attempt, item=item, value=_clean_value(item, {}), revision=0, saved_at=now)
        session.add(answer)
    answer.flagged = flagged
    session.flush()
    return answer


MAX_SIGNALS_PER_ATTEMPT = 5_000
# The page hands in at 0:00 by its estimate of the server's clock (rounded to the second, and a request's
# latency off): a hand-in this close to the deadline is the time running out, not finishing early.
DEADLINE_TOLERANCE = timedelta(seconds=2)


def record_signals(
    session: Session, attempt: Attempt, signals: Sequence[dict[str, Any]], *, grace: timedelta
) -> int:
    """Store what the page noticed (focus, visibility, pastes, items shown) with the server's time; the page's
    own clock is kept beside it but never trusted for ordering."""
    _ensure_open(attempt, utcnow(), grace)
    stored = session.scalar(select(func.count()).where(PageSignal.attempt_id == attempt.id)) or 0
    if stored + len(signals) > MAX_SIGNALS_PER_ATTEMPT:
        raise RateLimited(
            "This attempt has reported too many page signals; they are no longer recorded.", retry_after=60
        )
    items = {item.id for item in attempt.invitation.assessment.items}
    now = utcnow()
    for signal in signals:
        if signal.get("item_id") is not None and signal["item_id"] not in items:
            raise NotFound("question not found in this assessment")
        detail = {k: v for k, v in signal.items() if k != "kind" and v is not None}
        session.add(PageSignal(attempt_id=attempt.id, kind=signal["kind"], at=now, detail=detail))
    session.flush()
    return len(signals)


def auto_points(attempt: Attempt, item: AssessmentItem, value: dict[str, Any]) -> float | None:
    """Points earned automatically, or None when they are not (yet) known: written answers are scored by a
    person, coding answers by the grader."""
    spec = spec_of(item.question_version)
    return kind_of(spec.type).auto_points(spec, value, item.points, Draw.of(attempt, item))


def _grade_final_code(session: Session, attempt: Attempt, item: AssessmentItem, answer: Answer) -> None:
    """The code saved last is what counts: unless the candidate already submitted exactly this code, it is
    graded now, and the points of an older submission no longer stand."""
    source = answer.value.get("source") or ""
    submitted = latest_final(session, attempt.id, item.id)
    if submitted is not None and submitted.source == source:
        return
    if not source.strip():
        answer.auto_points = 0.0  # nothing to grade
        return
    answer.auto_points = None  # until the grader has seen this code
    queue_submission(session, attempt, item, SubmissionKind.FINAL, source)


def close_attempt(session: Session, attempt: Attempt, reason: CloseReason) -> Attempt:
    """Close the attempt, once: two closes at the same moment (two tabs at the deadline, a retried submit, a
    submit beside the deadline sweep) both get here, and only the first claims the transition; the other
    returns the attempt as the first closed it, with nothing graded, scored or announced twice."""
    if attempt.closed_at is not None:
        return attempt
    if not claim(session, attempt, Attempt.closed_at.is_(None), closed_at=utcnow(), close_reason=reason):
        return attempt
    items = attempt.invitation.assessment.items
    answers = {a.item_id: a for a in attempt.answers}
    for item in items:
        answer = answers.get(item.id)
        if answer is not None and kind_of(item.question_version.type).scored_by == ScoredBy.GRADER:
            _grade_final_code(session, attempt, item, answer)
            continue
        points = auto_points(attempt, item, answer.value if answer else {})
        if points is not None and answer is not None:
            answer.auto_points = points
    refresh_score(session, attempt)
    attempt.invitation.status = InvitationStatus.COMPLETED
    record_event(
        session,
        attempt.invitation.organization_id,
        "invitation.completed",
        {"invitation_id": attempt.invitation_id, **score_summary(attempt), "reason": reason.value},
        once=f"invitation.completed:{attempt.id}",
    )
    session.flush()
    announce_if_scored(session, attempt)
    return attempt


def close_overdue_attempts(session: Session, *, grace: timedelta, limit: int = 200) -> int:
    """Close attempts whose deadline (plus the grace for in-flight saves) has passed, page open or not."""
    overdue = session.scalars(
        select(Attempt)
        .where(Attempt.closed_at.is_(None), Attempt.deadline_at < utcnow() - grace)
        .order_by(Attempt.deadline_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for attempt in overdue:
        close_attempt(session, attempt, CloseReason.DEADLINE)
    return len(overdue)


def _item_to_run(
    session: Session, attempt: Attempt, item_id: int, *, grace: timedelta, per_minute: int
) -> AssessmentItem:
    """The item whose code is to be graded, once the attempt is open and within its rate of code runs."""
    _ensure_open(attempt, utcnow(), grace)
    item = _item_of(session, attempt, item_id)
    check_run_rate(session, attempt, per_minute)
    return item


def submit_code_for_grading(
    session: Session, attempt: Attempt, item_id: int, *, grace: timedelta, per_minute: int
) -> Submission:
    """Grade the item's saved code against the hidden cases; the newest submission is the one that counts."""
    item = _item_to_run(session, attempt, item_id, grace=grace, per_minute=per_minute)
    answer = _answer_of(session, attempt, item)
    source = (answer.value.get("source") if answer else None) or ""
    if not source.strip():
        raise ValidationFailed(
            "There is no saved code to submit yet.", errors=[FieldError(f"items.{item_id}", "no code")]
        )
    return queue_submission(session, attempt, item, SubmissionKind.FINAL, source)


def run_samples(
    session: Session, attempt: Attempt, item_id: int, source: str, *, grace: timedelta, per_minute: int
) -> Submission:
    """Grade `source` (saved or not) against the item's visible sample cases."""
    item = _item_to_run(session, attempt, item_id, grace=grace, per_minute=per_minute)
    ensure_runnable(source)
    return queue_submission(session, attempt, item, SubmissionKind.SAMPLE, source)


def ensure_runnable(source: str) -> None:
    """Code sent to be run (a candidate's sample run, a recruiter's preview run) is at most as long as code
    an answer may hold."""
    if len(source) > MAX_SOURCE_CHARS:
        raise ValidationFailed(
            "The code is too long.", errors=[FieldError("source", f"at most {MAX_SOURCE_CHARS} characters")]
        )


def hand_in_attempt(session: Session, attempt: Attempt) -> Attempt:
    """The attempt is handed in: closed as submitted when the candidate finished before the time was up, or as
    timed out when the request comes at the deadline or after it (the page hands in for the candidate at
    0:00). The server's clock decides, not the page's word."""
    if attempt.closed_at is not None:
        return attempt
    finished_early = utcnow() < attempt.deadline_at - DEADLINE_TOLERANCE
    return close_attempt(session, attempt, CloseReason.SUBMITTED if finished_early else CloseReason.DEADLINE)

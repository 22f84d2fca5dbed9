"""What recruiters read: one candidate's report, an assessment's results table, manual scoring of written
answers, the CSV export, and item statistics. Points come from `app.results.scoring`, the one place that
knows them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.accounts.principal import Actor, Principal
from app.attempts.service import items_in_order
from app.audit.service import record
from app.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.events.service import record_event
from app.grading.service import latest_final
from app.invitations.service import get_invitation
from app.models import (
    Answer,
    Assessment,
    AssessmentItem,
    Attempt,
    GradeResult,
    IntegrityEvent,
    Invitation,
    InvitationStatus,
    ManualScore,
    Organization,
    Submission,
    utcnow,
)
from app.questions.kinds import Draw, ScoredBy, kind_of
from app.questions.kinds.choice import OptionLine
from app.questions.service import spec_of
from app.questions.spec import Written
from app.results.scoring import (
    POINTS_DECIMALS,
    Part,
    Score,
    Scored,
    manual_scores,
    refresh_score,
    score_attempt,
    score_summary,
)
from grader import get_task

STATUS_WORDS = {
    "passed": "passed",
    "wrong_answer": "wrong answer",
    "runtime_error": "crashed",
    "time_limit_exceeded": "too slow",
    "memory_limit_exceeded": "used too much memory",
    "output_limit_exceeded": "printed too much",
    "invalid_output": "returned the wrong kind of value",
}


# ---- one candidate's report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseLine:
    name: str
    visible: bool
    status: str
    words: str
    message: str


@dataclass(frozen=True)
class DiagnosisLine:
    code: str
    message: str
    confidence: float


@dataclass(frozen=True)
class CodeReport:
    source: str
    state: str  # "graded" | "grading" | "failed" | "empty"
    verdict: str = ""
    score: float | None = None
    cases: list[CaseLine] = field(default_factory=list)
    diagnoses: list[DiagnosisLine] = field(default_factory=list)
    error: str = ""

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(d.code for d in self.diagnoses)


@dataclass(frozen=True)
class ItemReport:
    item: AssessmentItem
    position: int
    title: str
    kind: str
    topic: str
    points: float | None
    max_points: float
    answered: bool
    seconds: float | None
    options: list[OptionLine] = field(default_factory=list)
    numeric: dict[str, Any] | None = None
    text: str = ""
    rubric: list[dict[str, Any]] = field(default_factory=list)
    manual: ManualScore | None = None
    code: CodeReport | None = None
    explanation: str = ""

    @property
    def state(self) -> str:
        if self.points is None:
            if kind_of(self.kind).scored_by == ScoredBy.PERSON:
                return "needs review"
            return "grading" if self.code is not None else "in progress"
        if not self.answered:
            return "not answered"
        if self.points >= self.max_points - 1e-9:
            return "correct"
        return "partly correct" if self.points > 0 else "incorrect"


@dataclass(frozen=True)
class ConceptLink:
    """A concept answer set beside what the candidate's code does about the same misconception."""

    concept: ItemReport
    coding: ItemReport
    code: str
    agrees: bool
    sentence: str


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    words: str
    item_position: int | None


@dataclass(frozen=True)
class AttemptReport:
    invitation: Invitation
    attempt: Attempt | None
    items: list[ItemReport]
    score: Score | None
    sections: list[Part]
    topics: list[Part]
    links: list[ConceptLink]
    timeline: list[TimelineEntry]

    @property
    def needs_manual_review(self) -> bool:
        return bool(self.score and self.score.needs_review)


def _code_report(
    session: Session, attempt: Attempt, item: AssessmentItem, answer: Answer | None
) -> CodeReport:
    source = (answer.value.get("source") or "") if answer else ""
    submission = latest_final(session, attempt.id, item.id)
    if submission is None:
        return CodeReport(source=source, state="empty" if not source.strip() else "grading")
    result = session.scalar(select(GradeResult).where(GradeResult.submission_id == submission.id))
    if result is None:
        job = submission.job
        if job is not None and job.status.value == "failed":
            return CodeReport(source=submission.source, state="failed", error=job.error)
        return CodeReport(source=submission.source, state="grading")
    data = result.result
    return CodeReport(
        source=submission.source,
        state="graded",
        verdict=result.verdict,
        score=result.score,
        cases=[
            CaseLine(
                name=c["name"],
                visible=bool(c.get("visible")),
                status=c["status"],
                words=STATUS_WORDS.get(c["status"], c["status"].replace("_", " ")),
                message=c.get("message") or "",
            )
            for c in data.get("cases", [])
        ],
        diagnoses=[
            DiagnosisLine(code=d["code"], message=d.get("message") or "", confidence=d.get("confidence", 0.0))
            for d in data.get("diagnoses", [])
        ],
    )


def final_code_submission(session: Session, invitation: Invitation, item_id: int) -> Submission:
    """The submission of this item's code that counts: what the report's "Grade again" retries (only a
    failed grading can be, which grading.service.reopen_failed checks)."""
    attempt = invitation.attempt
    submission = latest_final(session, attempt.id, item_id) if attempt else None
    if submission is None:
        raise NotFound("no submitted code for this question")
    return submission


def _item_report(
    session: Session,
    attempt: Attempt,
    item: AssessmentItem,
    position: int,
    scored: Scored,
    seconds: float | None,
) -> ItemReport:
    spec = spec_of(item.question_version)
    answer = scored.answers.get(item.id)
    value = answer.value if answer else {}
    base: dict[str, Any] = {
        "item": item,
        "position": position,
        "title": spec.title,
        "kind": spec.type,
        "topic": spec.topic,
        "points": scored.points[item.id],
        "max_points": item.points,
        "seconds": seconds,
    }
    kind = kind_of(spec.type)
    fields = kind.report(spec, value, Draw.of(attempt, item))
    if kind.scored_by == ScoredBy.GRADER:
        code = _code_report(session, attempt, item, answer)
        fields |= {"answered": bool(code.source.strip()), "code": code}
    return ItemReport(**base, **fields, manual=scored.manual.get(item.id))


def _concept_links(items: list[ItemReport]) -> list[ConceptLink]:
    links = []
    coding = [
        (r, frozenset(m.code for m in get_task(spec_of(r.item.question_version).task).all_mistakes))  # type: ignore[union-attr]
        for r in items
        if r.code is not None and r.code.state == "graded"
    ]
    for concept in items:
        if not concept.options or not concept.answered:
            continue
        tagged = {o.misconception: o for o in concept.options if o.misconception}
        chosen = [o for o in concept.options if o.chosen]
        for code_item, task_codes in coding:
            assert code_item.code is not None
            for code in sorted(tagged.keys() & task_codes):
                in_code = code in code_item.code.codes
                picked_it = any(o.misconception == code for o in chosen)
                picked_right = all(o.correct for o in chosen)
                if not picked_it and not picked_right:
                    continue  # another wrong answer: says nothing about this misconception
                links.append(
                    ConceptLink(
                        concept=concept,
                        coding=code_item,
                        code=code,
                        agrees=picked_it == in_code,
                        sentence=_link_sentence(tagged[code].text, picked_it, in_code),
                    )
                )
    return links


def _link_sentence(option_text: str, picked_it: bool, in_code: bool) -> str:
    if picked_it and in_code:
        return f"Chose “{option_text}”, and the code makes the same mistake: a consistent misconception."
    if picked_it:
        return f"Chose “{option_text}”, yet the code gets this right: the concept answer may be a slip."
    if in_code:
        return f"Rejected “{option_text}” in the concept question, but the code does exactly that."
    return f"Rejected “{option_text}”, and the code gets it right too."


SIGNAL_WORDS = {
    "page_hidden": "left the page (tab hidden)",
    "page_visible": "came back to the page",
    "window_blur": "switched to another window",
    "window_focus": "came back to the window",
    "paste": "pasted text",
    "item_shown": "opened a question",
}


def _client_time(event: IntegrityEvent) -> datetime:
    raw = event.detail.get("client_at")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
    return event.at


def time_per_item(attempt: Attempt, events: Sequence[IntegrityEvent]) -> dict[int, float]:
    """Seconds each question was on screen, from the page's "question shown" and visibility signals.

    Durations use the page's clock (differences within one page are right even if its clock is off);
    time with the page hidden counts for no question."""
    seconds: dict[int, float] = defaultdict(float)
    current: int | None = None
    visible = True
    since: datetime | None = None
    ordered = sorted(events, key=lambda e: e.id)
    for event in ordered:
        now = _client_time(event)
        if current is not None and visible and since is not None:
            seconds[current] += max(0.0, (now - since).total_seconds())
        if event.kind == "item_shown":
            current, visible = event.detail.get("item_id"), True
        elif event.kind == "page_hidden":
            visible = False
        elif event.kind == "page_visible":
            visible = True
        since = now
    if ordered and current is not None and visible and since is not None and attempt.closed_at is not None:
        # The last question stayed on screen until the attempt closed, in the page's clock.
        offset = _client_time(ordered[-1]) - ordered[-1].at
        seconds[current] += max(0.0, (attempt.closed_at + offset - since).total_seconds())
    return dict(seconds)


def _timeline(events: Sequence[IntegrityEvent], positions: dict[int, int]) -> list[TimelineEntry]:
    entries = []
    for event in sorted(events, key=lambda e: e.id):
        words = SIGNAL_WORDS.get(event.kind, event.kind)
        if event.kind == "paste":
            words += f" ({event.detail.get('length', 0)} characters)"
        item_id = event.detail.get("item_id")
        entries.append(
            TimelineEntry(event.at, event.kind, words, positions.get(item_id) if item_id else None)
        )
    return entries


def _events(session: Session, attempt: Attempt) -> list[IntegrityEvent]:
    return list(session.scalars(select(IntegrityEvent).where(IntegrityEvent.attempt_id == attempt.id)))


def attempt_report(session: Session, org: Organization, invitation_id: int) -> AttemptReport:
    invitation = get_invitation(session, org, invitation_id)
    attempt = invitation.attempt
    if attempt is None:
        return AttemptReport(invitation, None, [], None, [], [], [], [])
    scored = score_attempt(attempt, manual_scores(session, [attempt.id])[attempt.id])
    events = _events(session, attempt)
    seconds = time_per_item(attempt, events)
    order = items_in_order(attempt)
    positions = {item.id: n for n, item in enumerate(order, start=1)}
    items = [
        _item_report(session, attempt, item, positions[item.id], scored, seconds.get(item.id))
        for item in order
    ]
    return AttemptReport(
        invitation=invitation,
        attempt=attempt,
        items=items,
        score=scored.score,
        sections=scored.by("section"),
        topics=scored.by("topic"),
        links=_concept_links(items),
        timeline=_timeline(events, positions),
    )


# ---- scoring written answers ----------------------------------------------------------------------------


def score_written_answer(
    session: Session,
    principal: Principal,
    invitation: Invitation,
    item_id: int,
    criteria: dict[str, float],
    comment: str,
) -> ManualScore:
    """Record a person's rubric points for one written answer; scoring it again replaces the score."""
    principal.require_editor()
    attempt = invitation.attempt
    if attempt is None or attempt.closed_at is None:
        raise Conflict("Written answers are scored once the candidate has finished.")
    item = next((i for i in invitation.assessment.items if i.id == item_id), None)
    if item is None:
        raise NotFound("question not found in this assessment")
    spec = spec_of(item.question_version)
    if not isinstance(spec, Written):
        raise Conflict("Only written answers are scored by hand.")
    problems = []
    points: dict[str, float] = {}
    scale = item.points / spec.points  # the assessment may weigh the question differently from the bank
    for criterion in spec.rubric:
        given = criteria.get(criterion.id)
        if given is None:
            problems.append(FieldError(f"criteria.{criterion.id}", "give points for every criterion"))
        elif not 0 <= given <= criterion.points:
            problems.append(
                FieldError(f"criteria.{criterion.id}", f"between 0 and {criterion.points:g} points")
            )
        else:
            points[criterion.id] = given
    unknown = set(criteria) - {c.id for c in spec.rubric}
    if unknown:
        problems.append(FieldError("criteria", f"unknown criteria: {sorted(unknown)}"))
    if problems:
        raise ValidationFailed("The score was not saved.", errors=problems)
    total = round(sum(points.values()) * scale, 6)
    manual = session.scalar(
        select(ManualScore).where(ManualScore.attempt_id == attempt.id, ManualScore.item_id == item.id)
    )
    rescored = manual is not None
    if manual is None:
        manual = ManualScore(attempt_id=attempt.id, item_id=item.id, points=total, rubric=points)
        session.add(manual)
    manual.points, manual.rubric, manual.comment = total, points, comment.strip()[:5000]
    manual.scorer_id, manual.scored_at = principal.user.id, utcnow()
    session.flush()
    record(session, principal, "answer.scored", invitation, item_id=item.id, points=manual.points)
    refresh_score(session, attempt)
    record_event(
        session,
        invitation.organization_id,
        "result.updated",
        {"invitation_id": invitation.id, "item_id": item.id, **score_summary(attempt), "rescored": rescored},
    )
    return manual


# ---- an assessment's results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateRow:
    invitation: Invitation
    status: InvitationStatus
    scored: Scored | None

    @property
    def score(self) -> Score | None:
        """Only for finished attempts: a running attempt has no score yet."""
        attempt = self.invitation.attempt
        return self.scored.score if self.scored and attempt and not attempt.is_open else None

    @property
    def name(self) -> str:
        return self.invitation.candidate.full_name


def _invitations(session: Session, org: Organization, assessment: Assessment) -> list[Invitation]:
    return list(
        session.scalars(
            select(Invitation)
            .where(Invitation.organization_id == org.id, Invitation.assessment_id == assessment.id)
            .options(
                selectinload(Invitation.candidate),
                selectinload(Invitation.attempt).selectinload(Attempt.answers),
            )
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
    )


def results_table(session: Session, org: Organization, assessment: Assessment) -> list[CandidateRow]:
    if assessment.organization_id != org.id:
        raise NotFound("assessment not found")
    invitations = _invitations(session, org, assessment)
    manual = manual_scores(session, [i.attempt.id for i in invitations if i.attempt])
    rows = []
    for invitation in invitations:
        attempt = invitation.attempt
        # The attempt reaches its assessment through the invitation already loaded here.
        scored = score_attempt(attempt, manual.get(attempt.id, [])) if attempt else None
        rows.append(CandidateRow(invitation, invitation.current_status, scored))
    return rows


SORT_KEYS = ("name", "status", "score", "invited", "completed")


def filter_and_sort(
    rows: list[CandidateRow],
    *,
    status: str = "",
    review: str = "",
    verdict: str = "",
    sort: str = "invited",
    descending: bool = True,
    q: str = "",
) -> list[CandidateRow]:
    def keep(row: CandidateRow) -> bool:
        score = row.score
        if status and row.status.value != status:
            return False
        if review == "needed" and not (score and score.needs_review):
            return False
        if verdict == "pass" and not (score and score.passed):
            return False
        if verdict == "fail" and not (score and score.passed is False):
            return False
        if q.strip():
            needle = q.strip().casefold()
            candidate = row.invitation.candidate
            return needle in candidate.full_name.casefold() or needle in candidate.email.casefold()
        return True

    def key(row: CandidateRow) -> Any:
        attempt = row.invitation.attempt
        closed = attempt.closed_at if attempt else None
        return {
            "name": row.name.casefold(),
            "status": row.status.value,
            "score": row.score.percent if row.score and row.score.percent is not None else -1.0,
            "invited": row.invitation.created_at,
            "completed": closed.timestamp() if closed else 0.0,
        }[sort if sort in SORT_KEYS else "invited"]

    return sorted(filter(keep, rows), key=key, reverse=descending)


def export_results(session: Session, actor: Actor, assessment: Assessment) -> str:
    """The assessment's results as CSV (personal data leaving Assay: audited)."""
    rows = results_table(session, actor.organization, assessment)
    record(session, actor, "results.exported", assessment, candidates=len(rows))
    return export_csv(assessment, rows)


def export_csv(assessment: Assessment, rows: list[CandidateRow]) -> str:
    """One row per candidate; one column per item (in the assessment's order) and per topic."""
    topics = sorted({i.question_version.topic for i in assessment.items})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "candidate_name",
            "email",
            "status",
            "invited_at",
            "started_at",
            "completed_at",
            "score",
            "max_score",
            "percent",
            "passed",
            "needs_review",
            *[f"item_{n}_{i.question_version.title}" for n, i in enumerate(assessment.items, start=1)],
            *[f"topic_{t}_percent" for t in topics],
        ]
    )
    for row in rows:
        attempt = row.invitation.attempt
        score = row.score
        scored = row.scored
        topic_parts = {p.name: p for p in scored.by("topic")} if scored and score else {}
        writer.writerow(
            [
                _cell(row.name),
                _cell(row.invitation.candidate.email),
                row.status.value,
                row.invitation.created_at.isoformat(),
                attempt.started_at.isoformat() if attempt else "",
                attempt.closed_at.isoformat() if attempt and attempt.closed_at else "",
                _number(score.earned if score else None),
                _number(score.max_points if score else None),
                _number(score.percent if score else None, 1),
                "" if not score or score.passed is None else ("yes" if score.passed else "no"),
                (score.needs_review if score else ""),
                *[_number(scored.points.get(i.id) if scored and score else None) for i in assessment.items],
                *[_number(topic_parts[t].percent if t in topic_parts else None, 1) for t in topics],
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """Spreadsheets run a cell that starts with = + - @ as a formula: a candidate named "=HYPERLINK(…)"
    must stay text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _number(value: float | None, digits: int = POINTS_DECIMALS) -> str:
    return "" if value is None else f"{round(value, digits):g}"


# ---- item statistics -----------------------------------------------------------------------------------

LOW_DISCRIMINATION = 0.2


@dataclass(frozen=True)
class ItemStats:
    item: AssessmentItem
    position: int
    attempts: int
    facility: float | None  # mean share of the points earned
    discrimination: float | None  # item-rest correlation (point-biserial for right/wrong items)
    option_counts: list[tuple[str, str, bool, int]]  # (id, text, correct, times chosen)
    average_seconds: float | None
    enough: bool

    @property
    def flags(self) -> list[str]:
        if not self.enough:
            return []
        found = []
        if self.discrimination is None:
            found.append("everyone scored the same on it, so it tells candidates apart not at all")
        elif self.discrimination < LOW_DISCRIMINATION:
            found.append(
                f"discriminates poorly (r = {self.discrimination:.2f}): strong candidates do no better on it"
            )
        if self.facility is not None and self.facility > 0.95:
            found.append("almost everyone gets it right")
        if self.facility is not None and self.facility < 0.1:
            found.append("almost nobody gets it right: check the key")
        return found


def item_statistics(
    session: Session, org: Organization, assessment: Assessment, *, min_attempts: int
) -> list[ItemStats]:
    rows = [r for r in results_table(session, org, assessment) if r.score and r.score.complete]
    events = defaultdict(list)
    attempt_ids = [r.invitation.attempt.id for r in rows if r.invitation.attempt]
    for event in session.scalars(select(IntegrityEvent).where(IntegrityEvent.attempt_id.in_(attempt_ids))):
        events[event.attempt_id].append(event)
    seconds = {
        r.invitation.attempt.id: time_per_item(r.invitation.attempt, events[r.invitation.attempt.id])
        for r in rows
        if r.invitation.attempt
    }
    stats = []
    for position, item in enumerate(assessment.items, start=1):
        shares, rests, times = [], [], []
        choices: Counter[str] = Counter()
        for row in rows:
            assert row.scored is not None and row.score is not None and row.invitation.attempt is not None
            points = row.scored.points[item.id] or 0.0
            shares.append(points / item.points if item.points else 0.0)
            rests.append(row.score.earned - points)
            answer = row.scored.answers.get(item.id)
            if answer is not None:
                picked = answer.value.get("choices") or [answer.value.get("choice")]
                choices.update(c for c in picked if c)
            shown = seconds[row.invitation.attempt.id].get(item.id)
            if shown:
                times.append(shown)
        spec = spec_of(item.question_version)
        stats.append(
            ItemStats(
                item=item,
                position=position,
                attempts=len(rows),
                facility=float(np.mean(shares)) if shares else None,
                discrimination=_correlation(shares, rests),
                option_counts=[
                    (o.id, o.text, o.correct, choices[o.id]) for o in getattr(spec, "options", [])
                ],
                average_seconds=float(np.mean(times)) if times else None,
                enough=len(rows) >= min_attempts,
            )
        )
    return stats


def _correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 2 or np.std(xs) == 0 or np.std(ys) == 0:
        return None
    return float(np.corrcoef(xs, ys)[0, 1])

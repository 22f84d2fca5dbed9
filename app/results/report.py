"""One candidate's report, as recruiters read it: each answer with its points (from app.results.scoring),
code with its grading and diagnoses, concept answers set beside the code's behaviour, time per question and
the integrity timeline."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.service import items_in_order
from app.grading.service import latest_final
from app.invitations.service import get_invitation
from app.models import (
    Answer,
    AssessmentItem,
    Attempt,
    CloseReason,
    Invitation,
    ManualScore,
    Organization,
    PageSignal,
    StoredGrade,
)
from app.questions.kinds import Draw, ScoredBy, kind_of
from app.questions.kinds.choice import OptionLine
from app.questions.service import spec_of
from app.questions.spec import Coding
from app.results.scoring import (
    Part,
    Score,
    Scored,
    manual_scores,
    score_attempt,
)
from app.similarity.service import ItemSimilarity
from app.similarity.service import for_attempt as similarity_of
from grader import get_task

CLOSE_WORDS = {
    CloseReason.SUBMITTED: "handed in before the time was up",
    CloseReason.DEADLINE: "the time ran out",
    CloseReason.CANCELLED: "cancelled",
}
STATUS_WORDS = {
    "passed": "passed",
    "wrong_answer": "wrong answer",
    "runtime_error": "crashed",
    "time_limit_exceeded": "too slow",
    "memory_limit_exceeded": "used too much memory",
    "output_limit_exceeded": "printed too much",
    "invalid_output": "returned the wrong kind of value",
}


@dataclass(frozen=True)
class TracePoint:
    """A line of the candidate's code where a visible case failed."""

    line: int
    function: str
    code: str

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.function == "<module>" else f"line {self.line}, in {self.function}"


@dataclass(frozen=True)
class CaseLine:
    name: str
    visible: bool
    status: str
    words: str
    message: str
    trace: tuple[TracePoint, ...] = ()


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
    characters: int = 0  # pasted, for a paste


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
    zone: str = "UTC"  # the organization's, in which a person reads the report's times
    similarity: list[ItemSimilarity] = field(default_factory=list)
    similarity_threshold: float = 0.7

    @property
    def needs_manual_review(self) -> bool:
        return bool(self.score and self.score.needs_review)

    @property
    def finished_how(self) -> str:
        """How the attempt ended, in words: the server decides from the deadline (app.attempts.service)."""
        if self.attempt is None or self.attempt.close_reason is None:
            return ""
        return CLOSE_WORDS[self.attempt.close_reason]


def _code_report(
    session: Session, attempt: Attempt, item: AssessmentItem, answer: Answer | None
) -> CodeReport:
    source = (answer.value.get("source") or "") if answer else ""
    submission = latest_final(session, attempt.id, item.id)
    if submission is None:
        return CodeReport(source=source, state="empty" if not source.strip() else "grading")
    result = session.scalar(select(StoredGrade).where(StoredGrade.submission_id == submission.id))
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
                trace=tuple(TracePoint(t["line"], t["function"], t["code"]) for t in c.get("trace", [])),
            )
            for c in data.get("cases", [])
        ],
        diagnoses=[
            DiagnosisLine(code=d["code"], message=d.get("message") or "", confidence=d.get("confidence", 0.0))
            for d in data.get("diagnoses", [])
        ],
    )


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


def _task_codes(coding: ItemReport) -> frozenset[str]:
    spec = spec_of(coding.item.question_version)
    assert isinstance(spec, Coding)
    return frozenset(m.code for m in get_task(spec.task).all_mistakes)


def _concept_links(items: list[ItemReport]) -> list[ConceptLink]:
    links = []
    # What the code could show about each misconception: the task's own wrong kernels, and whatever else the
    # grader read from this code's outputs (a signature such as a gradient scaled by N).
    coding = [
        (r, _task_codes(r) | r.code.codes) for r in items if r.code is not None and r.code.state == "graded"
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


def _client_time(event: PageSignal) -> datetime:
    raw = event.detail.get("client_at")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
    return event.at


def time_per_item(attempt: Attempt, events: Sequence[PageSignal]) -> dict[int, float]:
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
        elif event.kind in ("page_visible", "page_load"):
            visible = True
        since = now
    if ordered and current is not None and visible and since is not None and attempt.closed_at is not None:
        # The last question stayed on screen until the attempt closed, in the page's clock.
        offset = _client_time(ordered[-1]) - ordered[-1].at
        seconds[current] += max(0.0, (attempt.closed_at + offset - since).total_seconds())
    return dict(seconds)


def _shown_at(event: PageSignal, attempt: Attempt) -> datetime:
    """When it happened: the page's time (on the server's clock as the page knew it), checked against the
    server's. Nothing happens after it arrived or before the attempt started, so a page clock that is off
    is held within those."""
    return min(max(_client_time(event), attempt.started_at), event.at)


# How the test page came to be open (the Navigation Timing type the page reports with page_load).
LOAD_WORDS = {"reload": "reloaded the page", "back_forward": "came back to the test page"}
RELOAD_HIDES_WITHIN = timedelta(minutes=2)


def _drop_reloads_hiding(entries: list[TimelineEntry], reloaded_at: datetime) -> None:
    """The page hid because it was reloaded, not because the candidate left it: the last "left the page"
    shortly before the reload, with no return to the page since, is the reload's."""
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if reloaded_at - entry.at > RELOAD_HIDES_WITHIN or entry.kind in ("page_visible", "page_load"):
            return
        if entry.kind == "page_hidden":
            del entries[index]
            return


def _timeline(
    attempt: Attempt, events: Sequence[PageSignal], positions: dict[int, int]
) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for event in sorted(events, key=lambda e: (_shown_at(e, attempt), e.id)):
        at = _shown_at(event, attempt)
        words = SIGNAL_WORDS.get(event.kind, event.kind)
        characters = 0
        if event.kind == "paste":
            characters = int(event.detail.get("length") or 0)
            words += f" ({characters} characters)"
        if event.kind == "page_load":
            navigation = event.detail.get("navigation") or "navigate"
            words = LOAD_WORDS.get(navigation, "opened the test page")
            if navigation == "reload":
                _drop_reloads_hiding(entries, at)
        item_id = event.detail.get("item_id")
        entries.append(
            TimelineEntry(at, event.kind, words, positions.get(item_id) if item_id else None, characters)
        )
    return entries


def _events(session: Session, attempt: Attempt) -> list[PageSignal]:
    return list(session.scalars(select(PageSignal).where(PageSignal.attempt_id == attempt.id)))


def attempt_report(session: Session, org: Organization, invitation_id: int) -> AttemptReport:
    invitation = get_invitation(session, org, invitation_id)
    attempt = invitation.attempt
    if attempt is None:
        return AttemptReport(invitation, None, [], None, [], [], [], [], org.time_zone)
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
        timeline=_timeline(attempt, events, positions),
        zone=org.time_zone,
        similarity=similarity_of(session, attempt),
        similarity_threshold=org.similarity_threshold / 100,
    )

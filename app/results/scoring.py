"""The one place that knows points: what each item of an attempt earned, the attempt's score, and the
summary every reader uses (the report, the API, webhooks, Greenhouse, exports), persisted on the attempt
after every change that moves it (closing, code graded, a written answer scored, a grading retried).

Points of one item come from `item_points`: automatic points for choices and numbers, the grader's for code
(None while it grades), a person's for written answers (None until scored). Points are shown rounded one
way everywhere (`round_points`, `format_points`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Answer, AssessmentItem, Attempt, ManualScore
from app.questions.kinds import ScoredBy, kind_of

# Points are stored as computed and shown (and sent) to this many decimals.
POINTS_DECIMALS = 2


def round_points(value: float) -> float:
    return round(value, POINTS_DECIMALS) + 0.0  # + 0.0: never "-0"


def format_points(value: float | None) -> str:
    """'6.33', '7', '—' for unknown: how every page and export writes points."""
    return "—" if value is None else f"{round_points(value):g}"


def item_points(
    item: AssessmentItem, answer: Answer | None, manual: ManualScore | None, *, closed: bool
) -> float | None:
    """Points earned on one item of an attempt, or None while they are not known yet."""
    kind = kind_of(item.question_version.type)
    if kind.scored_by == ScoredBy.PERSON:
        if manual is not None:
            return manual.points
        # Nothing written: nothing for a person to score.
        return 0.0 if closed and not (answer and kind.is_answered(answer.value)) else None
    if not closed:
        return None
    if answer is None:
        return 0.0
    return answer.auto_points


@dataclass(frozen=True)
class Part:
    """A share of the test (a section or a topic): points earned of the points known so far."""

    name: str
    earned: float
    max_points: float
    pending: int  # items whose points are not known yet

    @property
    def percent(self) -> float | None:
        return 100 * self.earned / self.max_points if self.max_points else None


def _parts(rows: Iterable[tuple[str, float | None, float]]) -> list[Part]:
    earned: dict[str, float] = defaultdict(float)
    known_max: dict[str, float] = defaultdict(float)
    pending: Counter[str] = Counter()
    for name, points, max_points in rows:
        if points is None:
            pending[name] += 1
            earned.setdefault(name, 0.0)
            known_max.setdefault(name, 0.0)
        else:
            earned[name] += points
            known_max[name] += max_points
    return [Part(name, earned[name], known_max[name], pending[name]) for name in earned]


@dataclass(frozen=True)
class Score:
    earned: float
    max_points: float
    needs_review: int  # written answers not scored yet
    grading: int  # code answers still with the grader
    pass_mark_pct: float | None
    pending_points: float = 0.0  # the points of those answers: what the score may still gain

    @property
    def complete(self) -> bool:
        return not self.needs_review and not self.grading

    @property
    def percent(self) -> float | None:
        return 100 * self.earned / self.max_points if self.max_points else None

    @property
    def passed(self) -> bool | None:
        """None while the score is incomplete or no pass mark is set."""
        if self.pass_mark_pct is None or not self.complete or self.percent is None:
            return None
        return self.percent >= self.pass_mark_pct


@dataclass(frozen=True)
class Scored:
    """The points of every item of one closed (or open) attempt."""

    items: list[AssessmentItem]
    points: dict[int, float | None]
    answers: dict[int, Answer]
    manual: dict[int, ManualScore]
    score: Score

    def by(self, key: str) -> list[Part]:
        rows = []
        for item in self.items:
            name = (
                item.question_version.topic
                if key == "topic"
                else (item.section.title if item.section else "Questions")
            )
            rows.append((name, self.points[item.id], item.points))
        return _parts(rows)


def score_attempt(attempt: Attempt, manual: Sequence[ManualScore]) -> Scored:
    assessment = attempt.invitation.assessment
    closed = attempt.closed_at is not None
    answers = {a.item_id: a for a in attempt.answers}
    by_item = {m.item_id: m for m in manual}
    points = {
        item.id: item_points(item, answers.get(item.id), by_item.get(item.id), closed=closed)
        for item in assessment.items
    }
    unknown = [item for item in assessment.items if points[item.id] is None]
    return Scored(
        items=list(assessment.items),
        points=points,
        answers=answers,
        manual=by_item,
        score=Score(
            earned=sum(p for p in points.values() if p is not None),
            max_points=assessment.max_points,
            needs_review=sum(1 for i in unknown if _scored_by(i) == ScoredBy.PERSON) if closed else 0,
            grading=sum(1 for i in unknown if _scored_by(i) == ScoredBy.GRADER) if closed else 0,
            pass_mark_pct=assessment.pass_mark_pct,
            pending_points=sum(i.points for i in unknown) if closed else 0.0,
        ),
    )


def _scored_by(item: AssessmentItem) -> ScoredBy:
    return kind_of(item.question_version.type).scored_by


def manual_scores(session: Session, attempt_ids: Sequence[int]) -> dict[int, list[ManualScore]]:
    found: dict[int, list[ManualScore]] = defaultdict(list)
    for row in session.scalars(
        select(ManualScore)
        .where(ManualScore.attempt_id.in_(attempt_ids))
        .options(selectinload(ManualScore.scorer))
    ):
        found[row.attempt_id].append(row)
    return found


def refresh_score(session: Session, attempt: Attempt) -> Score:
    """Compute the attempt's score from its items and persist the summary on the attempt: earned points,
    maximum, written answers awaiting review, code answers awaiting the grader. Called after every change
    that can move it. It takes the attempt's row lock and reads the answers and manual scores after it, so
    two changes committing together (a grading and a person scoring a written answer) cannot each write a
    total that misses the other."""
    session.flush()
    session.refresh(attempt, with_for_update=True)
    scored = score_attempt(attempt, manual_scores(session, [attempt.id])[attempt.id])
    score = scored.score
    attempt.score = score.earned if attempt.closed_at is not None else None
    attempt.max_score = score.max_points
    attempt.review_pending, attempt.grading_pending = score.needs_review, score.grading
    return score


def score_summary(attempt: Attempt) -> dict[str, object]:
    """The persisted score as events and partners receive it (points rounded as shown)."""
    return {
        "score": None if attempt.score is None else round_points(attempt.score),
        "max_score": None if attempt.max_score is None else round_points(attempt.max_score),
        "needs_manual_review": attempt.review_pending > 0,
        "pending_review": attempt.review_pending,
        "pending_grading": attempt.grading_pending,
    }

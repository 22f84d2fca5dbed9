"""Misconceptions across a pool of candidates: how many hit each of the grader's diagnoses, how each hidden
case fared, and, for each misconception, how its holders answered the concept questions that name it.

A candidate "holds" a misconception when the grader diagnosed it in the code that counts (their latest
final submission) for any coding question. Concept answers are read from the options tagged with that
diagnosis code: "40 % of this round's candidates use the unbiased variance; 70 % of them also chose N - 1
in question 3 (10 % of the others did)".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Answer,
    Assessment,
    AssessmentItem,
    Attempt,
    Invitation,
    Organization,
    Submission,
    SubmissionKind,
)
from app.questions.kinds import ScoredBy, kind_of
from app.questions.service import spec_of


def label(code: str) -> str:
    """A diagnosis code as words: `unbiased_variance` reads "unbiased variance"."""
    return code.replace("_", " ")


@dataclass(frozen=True)
class DiagnosisCount:
    code: str
    holders: int
    graded: int  # candidates whose code was graded

    @property
    def share(self) -> float:
        return self.holders / self.graded if self.graded else 0.0

    @property
    def label(self) -> str:
        return label(self.code)


@dataclass(frozen=True)
class CaseRate:
    item: AssessmentItem
    position: int
    name: str
    visible: bool
    passed: int
    graded: int

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class Crossing:
    """Holders of a misconception beside the concept question whose option stands for it."""

    code: str
    concept: AssessmentItem
    position: int
    option_text: str
    holders: int
    holders_chose: int
    others: int
    others_chose: int
    graded: int

    def sentence(self) -> str:
        held = self.holders / self.graded
        chose = self.holders_chose / self.holders if self.holders else 0.0
        others = f" ({self.others_chose / self.others:.0%} of the others did)" if self.others else ""
        return (
            f"{held:.0%} of these candidates' code shows the {label(self.code)}; {chose:.0%} of them also "
            f"chose “{self.option_text}” in question {self.position}{others}."
        )


@dataclass
class PoolInsight:
    candidates: int  # finished attempts
    graded: int  # of them, with code graded
    diagnoses: list[DiagnosisCount] = field(default_factory=list)
    cases: list[CaseRate] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)


def _finished_attempts(session: Session, assessments: Iterable[Assessment]) -> list[Attempt]:
    ids = [a.id for a in assessments]
    return list(
        session.scalars(
            select(Attempt)
            .join(Invitation, Invitation.id == Attempt.invitation_id)
            .where(Invitation.assessment_id.in_(ids), Attempt.closed_at.is_not(None))
            .order_by(Attempt.id)
        )
    )


def _counted_results(session: Session, attempts: Sequence[Attempt]) -> dict[tuple[int, int], dict[str, Any]]:
    """The stored grading result of each (attempt, item)'s counted submission, for those graded."""
    latest: dict[tuple[int, int], Submission] = {}
    submissions = session.scalars(
        select(Submission)
        .where(Submission.attempt_id.in_([a.id for a in attempts]), Submission.kind == SubmissionKind.FINAL)
        .order_by(Submission.id)
        .options(selectinload(Submission.result))
    )
    for submission in submissions:
        latest[(submission.attempt_id, submission.item_id)] = submission
    return {key: s.result.result for key, s in latest.items() if s.result is not None}


def _choices(session: Session, attempts: Sequence[Attempt]) -> dict[tuple[int, int], set[str]]:
    chosen: dict[tuple[int, int], set[str]] = {}
    for answer in session.scalars(select(Answer).where(Answer.attempt_id.in_([a.id for a in attempts]))):
        picked = answer.value.get("choices") or [answer.value.get("choice")]
        chosen[(answer.attempt_id, answer.item_id)] = {c for c in picked if c}
    return chosen


def assessment_insight(session: Session, assessment: Assessment) -> PoolInsight:
    attempts = _finished_attempts(session, [assessment])
    results = _counted_results(session, attempts)
    positions = {item.id: n for n, item in enumerate(assessment.items, start=1)}
    coding = [i for i in assessment.items if kind_of(i.question_version.type).scored_by == ScoredBy.GRADER]
    held: dict[int, set[str]] = defaultdict(set)
    graded = set()
    cases: dict[tuple[int, str], list[bool]] = defaultdict(list)
    visible: dict[tuple[int, str], bool] = {}
    for attempt in attempts:
        for item in coding:
            result = results.get((attempt.id, item.id))
            if result is None:
                continue
            graded.add(attempt.id)
            held[attempt.id] |= {d["code"] for d in result.get("diagnoses", [])}
            for case in result.get("cases", []):
                cases[(item.id, case["name"])].append(case["status"] == "passed")
                visible[(item.id, case["name"])] = bool(case.get("visible"))
    counts = Counter(code for codes in held.values() for code in codes)
    insight = PoolInsight(candidates=len(attempts), graded=len(graded))
    insight.diagnoses = [
        DiagnosisCount(code, n, len(graded))
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    by_item = {item.id: item for item in coding}
    insight.cases = [
        CaseRate(by_item[item_id], positions[item_id], name, visible[(item_id, name)], sum(runs), len(runs))
        for (item_id, name), runs in cases.items()
    ]
    insight.cases.sort(key=lambda c: (c.position, c.rate, c.name))
    insight.crossings = _crossings(session, assessment, attempts, held, graded, positions, set(counts))
    return insight


def _crossings(
    session: Session,
    assessment: Assessment,
    attempts: Sequence[Attempt],
    held: dict[int, set[str]],
    graded: set[int],
    positions: dict[int, int],
    seen: set[str],
) -> list[Crossing]:
    chosen = _choices(session, attempts)
    found = []
    for item in assessment.items:
        for option in getattr(spec_of(item.question_version), "options", []):
            if option.misconception not in seen:
                continue
            holders = [a for a in graded if option.misconception in held[a]]
            others = [a for a in graded if option.misconception not in held[a]]
            picked = [a for a in graded if option.id in chosen.get((a, item.id), set())]
            found.append(
                Crossing(
                    code=option.misconception,
                    concept=item,
                    position=positions[item.id],
                    option_text=option.text,
                    holders=len(holders),
                    holders_chose=len(set(holders) & set(picked)),
                    others=len(others),
                    others_chose=len(set(others) & set(picked)),
                    graded=len(graded),
                )
            )
    return sorted(found, key=lambda c: (-c.holders, c.position))


@dataclass(frozen=True)
class TaskDiagnoses:
    task_id: str
    graded: int
    diagnoses: list[DiagnosisCount]


def organization_insight(session: Session, org: Organization) -> list[TaskDiagnoses]:
    """Across every assessment of the organization: for each task, how many candidates hit each diagnosis."""
    assessments = session.scalars(select(Assessment).where(Assessment.organization_id == org.id)).all()
    attempts = _finished_attempts(session, assessments)
    results = _counted_results(session, attempts)
    items = {i.id: i for a in assessments for i in a.items}
    held: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (attempt_id, item_id), result in results.items():
        task = getattr(spec_of(items[item_id].question_version), "task", "")
        held[task][attempt_id] |= {d["code"] for d in result.get("diagnoses", [])}
    found = []
    for task, by_attempt in sorted(held.items()):
        counts = Counter(code for codes in by_attempt.values() for code in codes)
        diagnoses = [
            DiagnosisCount(code, n, len(by_attempt))
            for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        found.append(TaskDiagnoses(task, len(by_attempt), diagnoses))
    return found

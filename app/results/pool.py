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
    """How many graded candidates passed one test case."""

    name: str
    visible: bool
    passed: int
    graded: int

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class ItemCaseRate(CaseRate):
    """A case of one coding question of an assessment."""

    item: AssessmentItem
    position: int


@dataclass(frozen=True)
class Crossing:
    """Holders of a misconception beside the concept question whose option stands for it, among the
    candidates who were asked that question."""

    code: str
    where: str  # "question 3" in an assessment, the question's title across the organization
    option_text: str
    holders: int
    holders_chose: int
    others: int
    others_chose: int

    def sentence(self) -> str:
        held = self.holders / (self.holders + self.others)
        chose = self.holders_chose / self.holders if self.holders else 0.0
        others = f" ({self.others_chose / self.others:.0%} of the others did)" if self.others else ""
        return (
            f"{held:.0%} of these candidates' code shows the {label(self.code)}; {chose:.0%} of them also "
            f"chose “{self.option_text}” in {self.where}{others}."
        )


@dataclass
class PoolInsight:
    candidates: int  # finished attempts
    graded: int  # of them, with code graded
    has_coding: bool = True
    diagnoses: list[DiagnosisCount] = field(default_factory=list)
    cases: list[ItemCaseRate] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)


@dataclass
class _Pool:
    """What a pool of finished attempts holds, read once."""

    attempts: list[Attempt]
    results: dict[tuple[int, int], dict[str, Any]]  # (attempt, item): the counted grading
    chosen: dict[tuple[int, int], set[str]]  # (attempt, item): the options picked

    def graded(self, items: Iterable[AssessmentItem]) -> dict[int, set[str]]:
        """The diagnoses in each attempt's counted code for these items, for attempts with any graded."""
        held: dict[int, set[str]] = {}
        for attempt in self.attempts:
            for item in items:
                result = self.results.get((attempt.id, item.id))
                if result is not None:
                    held.setdefault(attempt.id, set()).update(d["code"] for d in result.get("diagnoses", []))
        return held


def _read(session: Session, assessments: Sequence[Assessment]) -> _Pool:
    ids = [a.id for a in assessments]
    attempts = list(
        session.scalars(
            select(Attempt)
            .join(Invitation, Invitation.id == Attempt.invitation_id)
            .where(Invitation.assessment_id.in_(ids), Attempt.closed_at.is_not(None))
            .order_by(Attempt.id)
            .options(selectinload(Attempt.invitation))
        )
    )
    attempt_ids = [a.id for a in attempts]
    latest: dict[tuple[int, int], Submission] = {}
    submissions = session.scalars(
        select(Submission)
        .where(Submission.attempt_id.in_(attempt_ids), Submission.kind == SubmissionKind.FINAL)
        .order_by(Submission.id)
        .options(selectinload(Submission.result))
    )
    for submission in submissions:
        latest[(submission.attempt_id, submission.item_id)] = submission
    chosen: dict[tuple[int, int], set[str]] = {}
    for answer in session.scalars(select(Answer).where(Answer.attempt_id.in_(attempt_ids))):
        picked = answer.value.get("choices") or [answer.value.get("choice")]
        chosen[(answer.attempt_id, answer.item_id)] = {c for c in picked if c}
    results = {key: s.result.result for key, s in latest.items() if s.result is not None}
    return _Pool(attempts, results, chosen)


def _is_coding(item: AssessmentItem) -> bool:
    return kind_of(item.question_version.type).scored_by == ScoredBy.GRADER


def _diagnoses(held: dict[int, set[str]]) -> list[DiagnosisCount]:
    counts = Counter(code for codes in held.values() for code in codes)
    return [
        DiagnosisCount(code, n, len(held))
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _case_runs(
    pool: _Pool, items: Iterable[AssessmentItem]
) -> dict[tuple[int, str], tuple[bool, list[bool]]]:
    """(item, case name): whether the case is visible, and each graded attempt's pass."""
    runs: dict[tuple[int, str], tuple[bool, list[bool]]] = {}
    for attempt in pool.attempts:
        for item in items:
            for case in (pool.results.get((attempt.id, item.id)) or {}).get("cases", []):
                entry = runs.setdefault((item.id, case["name"]), (bool(case.get("visible")), []))
                entry[1].append(case["status"] == "passed")
    return runs


def _crossings(
    pool: _Pool, held: dict[int, set[str]], concepts: Iterable[tuple[AssessmentItem, str]]
) -> list[Crossing]:
    """For each concept question (and where it is, in words) with an option standing for a misconception
    someone holds: its holders and the other graded candidates who were asked it, and who chose it."""
    seen = {code for codes in held.values() for code in codes}
    asked_by: dict[int, set[int]] = defaultdict(set)  # assessment -> its graded attempts
    for attempt in pool.attempts:
        if attempt.id in held:
            asked_by[attempt.invitation.assessment_id].add(attempt.id)
    tallies: dict[tuple[str, str, str], list[int]] = {}
    for item, where in concepts:
        asked = asked_by[item.assessment_id]
        for option in getattr(spec_of(item.question_version), "options", []):
            if option.misconception not in seen or not asked:
                continue
            holders = {a for a in asked if option.misconception in held[a]}
            picked = {a for a in asked if option.id in pool.chosen.get((a, item.id), set())}
            tally = tallies.setdefault((option.misconception, where, option.text), [0, 0, 0, 0])
            for n, value in enumerate(
                (len(holders), len(holders & picked), len(asked - holders), len((asked - holders) & picked))
            ):
                tally[n] += value
    found = [Crossing(code, where, text, *tally) for (code, where, text), tally in tallies.items()]
    return sorted(found, key=lambda c: (-c.holders, c.where))


def assessment_insight(session: Session, assessment: Assessment) -> PoolInsight:
    pool = _read(session, [assessment])
    coding = [i for i in assessment.items if _is_coding(i)]
    held = pool.graded(coding)
    positions = {item.id: n for n, item in enumerate(assessment.items, start=1)}
    by_id = {item.id: item for item in coding}
    cases = [
        ItemCaseRate(name, visible, sum(runs), len(runs), item=by_id[item_id], position=positions[item_id])
        for (item_id, name), (visible, runs) in _case_runs(pool, coding).items()
    ]
    concepts = [(item, f"question {positions[item.id]}") for item in assessment.items if not _is_coding(item)]
    return PoolInsight(
        candidates=len(pool.attempts),
        graded=len(held),
        has_coding=bool(coding),
        diagnoses=_diagnoses(held),
        cases=sorted(cases, key=lambda c: (c.position, c.rate, c.name)),
        crossings=_crossings(pool, held, concepts),
    )


@dataclass(frozen=True)
class TaskInsight:
    """One coding task across every assessment of the organization."""

    task_id: str
    graded: int
    diagnoses: list[DiagnosisCount]
    cases: list[CaseRate]
    crossings: list[Crossing]


def organization_insight(session: Session, org: Organization) -> list[TaskInsight]:
    """For each task, across every assessment of the organization: who holds each misconception, each
    case's pass rate, and holders beside the concept questions (by title) that name their misconception."""
    assessments = list(session.scalars(select(Assessment).where(Assessment.organization_id == org.id)))
    pool = _read(session, assessments)
    items = [item for assessment in assessments for item in assessment.items]
    concepts = [(item, f"“{item.question_version.title}”") for item in items if not _is_coding(item)]
    by_task: dict[str, list[AssessmentItem]] = defaultdict(list)
    for item in items:
        if _is_coding(item):
            by_task[getattr(spec_of(item.question_version), "task", "")].append(item)
    found = []
    for task, task_items in sorted(by_task.items()):
        held = pool.graded(task_items)
        if not held:
            continue
        merged: dict[str, tuple[bool, list[bool]]] = {}
        for (_, name), (visible, runs) in _case_runs(pool, task_items).items():
            merged.setdefault(name, (visible, []))[1].extend(runs)
        cases = [CaseRate(name, visible, sum(runs), len(runs)) for name, (visible, runs) in merged.items()]
        found.append(
            TaskInsight(
                task,
                len(held),
                _diagnoses(held),
                sorted(cases, key=lambda c: (c.rate, c.name)),
                _crossings(pool, held, concepts),
            )
        )
    return found

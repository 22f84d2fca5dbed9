"""Item statistics over an assessment's scored attempts: facility, discrimination, and how often each
option was chosen; and, once enough attempts exist, the item response model (app/results/irt.py) with
each candidate's ability and how able the candidates were who chose each option."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Answer,
    Assessment,
    AssessmentItem,
    Organization,
    PageSignal,
)
from app.questions.service import spec_of
from app.results import irt
from app.results.report import AttemptReport, time_per_item
from app.results.table import CandidateRow, results_table

LOW_DISCRIMINATION = 0.2  # below this, an item hardly tells strong candidates from weak ones


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
    for event in session.scalars(select(PageSignal).where(PageSignal.attempt_id.in_(attempt_ids))):
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


@dataclass(frozen=True)
class OptionAbility:
    """Who chose one option of a question, by ability."""

    text: str
    correct: bool
    chosen_by: int
    mean_ability: float | None


@dataclass(frozen=True)
class ItemModel:
    item: AssessmentItem
    position: int
    parameters: irt.ItemParameters | None  # None: left out (everyone right, or everyone wrong)
    options: list[OptionAbility]

    @property
    def flags(self) -> list[str]:
        found = list(self.parameters.flags) if self.parameters else []
        right = [o.mean_ability for o in self.options if o.correct and o.mean_ability is not None]
        for option in self.options:
            if option.correct:
                continue
            if option.chosen_by == 0:
                found.append(f"nobody chose “{option.text}”: it distracts nobody")
            elif right and option.mean_ability is not None and option.mean_ability > max(right):
                found.append(
                    f"stronger candidates choose “{option.text}” (mean ability {option.mean_ability:+.2f}, "
                    f"above the right answer's {max(right):+.2f}): is it defensible?"
                )
        return found


@dataclass(frozen=True)
class CandidateAbility:
    row: CandidateRow
    ability: irt.Ability


@dataclass(frozen=True)
class ModelReport:
    """The 2PL model of an assessment's fully scored attempts, or why there is none yet."""

    attempts: int
    needed: int
    items: list[ItemModel]
    candidates: list[CandidateAbility]
    converged: bool
    # Why there is no model although there are enough attempts: fewer than two questions tell candidates
    # apart, or the estimation failed.
    unfitted: str = ""

    @property
    def fitted(self) -> bool:
        return bool(self.candidates)


def item_response_model(
    session: Session, org: Organization, assessment: Assessment, *, min_attempts: int = irt.MIN_ATTEMPTS
) -> ModelReport:
    rows = [r for r in results_table(session, org, assessment) if r.score and r.score.complete and r.scored]
    if len(rows) < min_attempts:
        return ModelReport(len(rows), min_attempts, [], [], converged=False)
    items = list(assessment.items)
    shares = [
        [((r.scored.points[i.id] or 0.0) / i.points if i.points else None) for i in items]  # type: ignore[union-attr]
        for r in rows
    ]
    fit = irt.calibrate(irt.dichotomous(shares))
    if not fit.abilities:
        why = (
            fit.error
            or "fewer than two questions tell these candidates apart (everyone right, or everyone wrong)"
        )
        return ModelReport(len(rows), min_attempts, [], [], converged=False, unfitted=why)
    thetas = [a.theta for a in fit.abilities]
    models = []
    for column, item in enumerate(items):
        options = []
        for option in getattr(spec_of(item.question_version), "options", []):
            chose = [
                thetas[n]
                for n, r in enumerate(rows)
                if option.id in _picked(r.scored.answers.get(item.id))  # type: ignore[union-attr]
            ]
            options.append(
                OptionAbility(
                    option.text, option.correct, len(chose), float(np.mean(chose)) if chose else None
                )
            )
        models.append(ItemModel(item, column + 1, fit.items.get(column), options))
    candidates = [CandidateAbility(r, a) for r, a in zip(rows, fit.abilities, strict=True)]
    return ModelReport(len(rows), min_attempts, models, candidates, fit.converged)


def _picked(answer: Answer | None) -> set[str]:
    if answer is None:
        return set()
    return {c for c in answer.value.get("choices") or [answer.value.get("choice")] if c}


@dataclass(frozen=True)
class PlacedAbility:
    ability: irt.Ability
    among: int


def ability_of(
    session: Session, org: Organization, report: AttemptReport, *, min_attempts: int
) -> PlacedAbility | None:
    """The candidate's ability in their assessment's model, once it is fitted and their score complete."""
    if report.score is None or not report.score.complete:
        return None
    model = item_response_model(session, org, report.invitation.assessment, min_attempts=min_attempts)
    found = next((c for c in model.candidates if c.row.invitation.id == report.invitation.id), None)
    return PlacedAbility(found.ability, len(model.candidates)) if found else None

"""Item statistics over an assessment's scored attempts: facility, discrimination, and how often each
option was chosen."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Assessment,
    AssessmentItem,
    Organization,
    PageSignal,
)
from app.questions.service import spec_of
from app.results.report import time_per_item
from app.results.table import results_table

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

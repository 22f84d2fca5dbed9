"""An assessment's results: one row per invitation with its persisted score, filtered and sorted as the
page asks, and the CSV export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.core.errors import NotFound
from app.models import (
    Assessment,
    Attempt,
    Invitation,
    InvitationStatus,
    Organization,
)
from app.results.scoring import (
    POINTS_DECIMALS,
    Score,
    Scored,
    manual_scores,
    score_attempt,
)


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

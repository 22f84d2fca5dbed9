"""What a recruiter reads about one candidate's attempt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.invitations.service import get_invitation
from app.models import Invitation, Organization
from app.questions.service import spec_of
from app.questions.spec import Coding, McqMulti, McqSingle, Numeric, Written


@dataclass(frozen=True)
class ItemResult:
    position: int
    title: str
    type: str
    answer_text: str
    points: float | None  # None: awaiting manual scoring
    max_points: float


@dataclass(frozen=True)
class AttemptReport:
    invitation: Invitation
    items: list[ItemResult]
    score: float | None
    max_score: float
    needs_manual_review: bool

    @property
    def percent(self) -> float | None:
        return None if self.score is None or not self.max_score else 100 * self.score / self.max_score


def _describe(spec: Any, value: dict[str, Any] | None) -> str:
    if not value:
        return "(no answer)"
    if isinstance(spec, McqSingle):
        chosen = value.get("choice")
        return next((o.text for o in spec.options if o.id == chosen), "(no answer)")
    if isinstance(spec, McqMulti):
        texts = [o.text for o in spec.options if o.id in set(value.get("choices") or [])]
        return "; ".join(texts) or "(no answer)"
    if isinstance(spec, Numeric):
        return str(value.get("number") or "(no answer)")
    if isinstance(spec, Coding):
        source = str(value.get("source") or "")
        return f"```python\n{source}\n```" if source.strip() else "(no answer)"
    return str(value.get("text") or "(no answer)")


def attempt_report(session: Session, org: Organization, invitation_id: int) -> AttemptReport:
    invitation = get_invitation(session, org, invitation_id)
    attempt = invitation.attempt
    answers = {a.item_id: a for a in attempt.answers} if attempt else {}
    items = []
    for item in invitation.assessment.items:
        spec = spec_of(item.question_version)
        answer = answers.get(item.id)
        items.append(
            ItemResult(
                position=item.position + 1,
                title=item.question_version.title,
                type=item.question_version.type.value,
                answer_text=_describe(spec, answer.value if answer else None),
                points=answer.auto_points if answer else (None if isinstance(spec, Written) else 0.0),
                max_points=item.points,
            )
        )
    closed = attempt is not None and attempt.closed_at is not None
    return AttemptReport(
        invitation=invitation,
        items=items,
        score=attempt.auto_score if closed and attempt else None,
        max_score=invitation.assessment.max_points,
        needs_manual_review=bool(attempt and attempt.needs_manual_review),
    )

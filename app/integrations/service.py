"""Greenhouse's Assessment Partner flow, partner side: Greenhouse lists our tests, sends one to a
candidate, polls its status, and reports errors; we call back (an empty PATCH to the URL it gave) when the
candidate's result is in, so it fetches the status at once instead of at its next hourly poll."""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.principal import ApiPrincipal
from app.assessments.service import get_assessment
from app.audit.service import record
from app.core.config import Settings
from app.core.errors import NotFound
from app.core.ids import MAX_ID, parse_id
from app.events.service import subscribes
from app.integrations.schemas import GreenhouseCandidate
from app.invitations.service import Invitee, get_invitation, invite
from app.jobs.runtime import send_after_commit
from app.models import (
    Assessment,
    AssessmentStatus,
    Attempt,
    DeliveryStatus,
    Event,
    Invitation,
    InvitationStatus,
    PartnerCallback,
    utcnow,
)
from app.results.scoring import format_points

log = logging.getLogger("assay.integrations")
GREENHOUSE = "greenhouse"
MAX_ERROR_DETAIL_CHARS = 4000


def list_tests(session: Session, principal: ApiPrincipal) -> list[Assessment]:
    return list(
        session.scalars(
            select(Assessment)
            .where(
                Assessment.organization_id == principal.organization.id,
                Assessment.status == AssessmentStatus.PUBLISHED,
            )
            .order_by(Assessment.title, Assessment.id)
        )
    )


def _numeric_id(raw: str | int, what: str) -> int:
    found = raw if isinstance(raw, int) and 1 <= raw <= MAX_ID else parse_id(str(raw))
    if found is None:
        raise NotFound(f"{what} not found")
    return found


def callback_host_allowed(url: str, settings: Settings) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(fnmatch.fnmatch(host, pattern) for pattern in settings.greenhouse_callback_hosts)


def send_test(
    session: Session,
    principal: ApiPrincipal,
    *,
    partner_test_id: str | int,
    candidate: GreenhouseCandidate,
    callback_url: str | None,
    settings: Settings,
) -> Invitation:
    """Invite the candidate by email to the published assessment; the invitation's id is the partner
    interview id. The callback URL is kept only when its host is allow-listed."""
    assessment = get_assessment(session, principal.organization, _numeric_id(partner_test_id, "test"))
    if assessment.status != AssessmentStatus.PUBLISHED:
        raise NotFound("test not found: list_tests names the tests you can send")
    issued = invite(
        session,
        principal,
        assessment,
        Invitee(
            candidate.email, candidate.preferred_name or candidate.first_name or "", candidate.last_name or ""
        ),
        settings=settings,
        send_email=True,
        external_ref=(candidate.greenhouse_profile_url or "")[:200] or None,
        via=GREENHOUSE,
    )
    invitation = issued.invitation
    if callback_url and callback_host_allowed(callback_url, settings):
        session.add(
            PartnerCallback(
                organization_id=principal.organization.id,
                invitation_id=invitation.id,
                partner=GREENHOUSE,
                url=callback_url,
            )
        )
    elif callback_url:
        log.warning("Greenhouse callback to a host not allow-listed was not kept: %s", callback_url)
    session.flush()
    return invitation


@dataclass(frozen=True)
class TestStatus:
    partner_status: str
    partner_profile_url: str | None = None
    partner_score: float | None = None
    metadata: dict[str, str] | None = None


def test_status(
    session: Session, principal: ApiPrincipal, interview_id: str | int, base_url: str
) -> TestStatus:
    invitation = get_invitation(session, principal.organization, _numeric_id(interview_id, "interview"))
    attempt = invitation.attempt
    if (
        invitation.current_status != InvitationStatus.COMPLETED
        or attempt is None
        or attempt.scored_at is None
    ):
        return TestStatus(partner_status=invitation.current_status.value)
    return TestStatus(
        partner_status="complete",
        partner_profile_url=f"{base_url}/invitations/{invitation.id}",
        partner_score=_percent(attempt),
        metadata=_metadata(invitation, attempt),
    )


def _percent(attempt: Attempt) -> float:
    if not attempt.max_score:
        return 0.0
    return round(100 * (attempt.score or 0.0) / attempt.max_score, 1)


def _metadata(invitation: Invitation, attempt: Attempt) -> dict[str, str]:
    """Flat strings, as Greenhouse shows them beside the score."""
    return {
        "Assessment": f"{invitation.assessment.title} (v{invitation.assessment.version})",
        "Score": f"{format_points(attempt.score or 0.0)} / {format_points(attempt.max_score or 0.0)}",
        "Needs manual review": "yes" if attempt.review_pending else "no",
        "Completed at": attempt.closed_at.isoformat(timespec="seconds") if attempt.closed_at else "",
    }


def record_response_error(session: Session, principal: ApiPrincipal, body: dict[str, Any]) -> None:
    """Greenhouse tells us it could not use one of our answers: kept in the log and the audit trail."""
    detail = str(body)[:MAX_ERROR_DETAIL_CHARS]
    log.warning("Greenhouse reported an error for organization %s: %s", principal.organization.id, detail)
    record(session, principal, "greenhouse.response_error", None, report=detail)


@subscribes
def call_back_when_scored(session: Session, event: Event) -> None:
    """The invitation's result is in: its partner callbacks become due now."""
    if event.type != "result.scored":
        return
    callbacks = session.scalars(
        select(PartnerCallback).where(
            PartnerCallback.invitation_id == event.payload["invitation_id"],
            PartnerCallback.status == DeliveryStatus.PENDING,
        )
    ).all()
    for callback in callbacks:
        callback.next_attempt_at = utcnow()
        send_after_commit(session, "call_partner", callback.id)

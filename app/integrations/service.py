"""Greenhouse's Assessment Partner flow, partner side: Greenhouse lists our tests, sends one to a
candidate, polls its status, and reports errors; we call back (an empty PATCH to the URL it gave) when the
candidate's result is in, so it fetches the status at once instead of at its next hourly poll."""

from __future__ import annotations

import fnmatch
import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.principal import ApiPrincipal
from app.assessments.service import get_assessment
from app.audit.service import record
from app.core.config import Settings
from app.core.errors import NotFound
from app.core.ids import MAX_ID, parse_id
from app.core.sealing import seal
from app.events.service import subscribes
from app.integrations.schemas import GreenhouseCandidate
from app.invitations.service import Invitee, get_invitation, invite
from app.jobs.runtime import send_after_commit
from app.models import (
    Assessment,
    AssessmentStatus,
    Attempt,
    Event,
    Invitation,
    InvitationStatus,
    PartnerCallback,
)
from app.outbox.service import send_again
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


def partner_ref(test_id: int, candidate: GreenhouseCandidate, callback_url: str | None) -> str:
    """What makes one Greenhouse request the same as another: the test and the application (its profile
    URL names it; else the callback URL, which is one per test sent; else the candidate's email)."""
    application = candidate.greenhouse_profile_url or callback_url or candidate.email.strip().lower()
    return hashlib.sha256(f"{GREENHOUSE}|{test_id}|{application}".encode()).hexdigest()


def send_test(
    session: Session,
    principal: ApiPrincipal,
    *,
    partner_test_id: str | int,
    candidate: GreenhouseCandidate,
    callback_url: str | None,
    settings: Settings,
    partner_key: str,
) -> Invitation:
    """Invite the candidate by email to the published assessment; the invitation's id is the partner
    interview id. Greenhouse retries: the same test for the same application again gets the invitation it
    already has, with no second email. The callback URL is kept only when its host is allow-listed, with
    the partner's key (`partner_key`, the one this request came with) sealed beside it for the PATCH."""
    test_id = _numeric_id(partner_test_id, "test")
    ref = partner_ref(test_id, candidate, callback_url)
    existing = _invitation_for(session, principal, ref)
    if existing is not None:
        return existing
    assessment = get_assessment(session, principal.organization, test_id)
    if assessment.status != AssessmentStatus.PUBLISHED:
        raise NotFound("test not found: list_tests names the tests you can send")
    try:
        with session.begin_nested():  # two identical requests at once: the second finds the first's
            invitation = _invite(
                session, principal, assessment, candidate, callback_url, settings, partner_key
            )
            invitation.partner_ref = ref
            session.flush()
    except IntegrityError:
        found = _invitation_for(session, principal, ref)
        if found is None:
            raise
        return found
    return invitation


def _invitation_for(session: Session, principal: ApiPrincipal, ref: str) -> Invitation | None:
    return session.scalar(
        select(Invitation).where(
            Invitation.organization_id == principal.organization.id, Invitation.partner_ref == ref
        )
    )


def _invite(
    session: Session,
    principal: ApiPrincipal,
    assessment: Assessment,
    candidate: GreenhouseCandidate,
    callback_url: str | None,
    settings: Settings,
    partner_key: str,
) -> Invitation:
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
                credentials=seal(partner_key, settings.secret_key.get_secret_value()),
            )
        )
    elif callback_url:
        log.warning("Greenhouse callback to a host not allow-listed was not kept: %s", callback_url)
    return invitation


@dataclass(frozen=True)
class TestStatus:
    partner_status: str
    partner_profile_url: str | None = None
    partner_score: float | None = None
    metadata: dict[str, str] | None = None


# What Greenhouse reads in `partner_status`. It stops polling at "complete", so that word means the score is
# final: every code answer graded and every written answer scored by a person.
COMPLETE = "complete"
SCORING = "scoring"  # finished; the grader is still at the code
AWAITING_REVIEW = "awaiting_review"  # finished; a written answer waits for a person


def score_is_final(attempt: Attempt) -> bool:
    return (
        attempt.closed_at is not None
        and attempt.scored_at is not None
        and attempt.grading_pending == 0
        and attempt.review_pending == 0
    )


def test_status(
    session: Session, principal: ApiPrincipal, interview_id: str | int, base_url: str
) -> TestStatus:
    """Where the candidate is. Once the score is final: "complete", the percentage of the points, a link to
    the report and the summary Greenhouse shows beside it. Until then the invitation's state (sent,
    started, expired, cancelled), or, once the candidate has finished, scoring or awaiting_review."""
    invitation = get_invitation(session, principal.organization, _numeric_id(interview_id, "interview"))
    attempt = invitation.attempt
    if invitation.current_status != InvitationStatus.COMPLETED or attempt is None:
        return TestStatus(partner_status=invitation.current_status.value)
    if not score_is_final(attempt):
        pending = attempt.grading_pending or attempt.scored_at is None
        return TestStatus(partner_status=SCORING if pending else AWAITING_REVIEW)
    return TestStatus(
        partner_status=COMPLETE,
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
def call_back_when_final(session: Session, event: Event) -> None:
    """The candidate's score became final, or a final score changed (a written answer scored again): the
    invitation's partner callback is due now, so Greenhouse fetches the status at once."""
    if event.type not in ("result.scored", "result.updated"):
        return
    if event.payload.get("pending_review") or event.payload.get("pending_grading"):
        return
    callbacks = session.scalars(
        select(PartnerCallback).where(PartnerCallback.invitation_id == event.payload["invitation_id"])
    ).all()
    for callback in callbacks:
        send_again(callback)
        send_after_commit(session, "call_partner", callback.id)

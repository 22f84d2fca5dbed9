"""A candidate's personal data on request: export everything held on the person, or erase it.

Erasing keeps what the assessment's statistics need, attached to nobody: scores, the option picked on choice
questions, numbers, time on each question, grading verdicts and diagnoses. It removes who the person is
(names, address, the ATS's reference), everything they wrote (written answers, code, every saved revision,
what their code printed), what recruiters wrote about them, and the emails sent to them; their links stop
working. The row stays, as "Erased candidate #id", so the statistics still count it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, delete, or_, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.principal import Actor
from app.audit.service import record
from app.candidates.schemas import (
    AnswerData,
    AnswerRevisionData,
    AttemptData,
    CandidateData,
    CandidateExport,
    EmailData,
    GradingData,
    InvitationData,
    ManualScoreData,
    PageEventData,
    SampleCaseData,
    SubmissionData,
)
from app.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.core.ids import parse_id
from app.core.security import new_token, token_digest
from app.core.tenancy import get_owned
from app.grading.service import pending_gradings
from app.invitations.service import find_candidate
from app.models import (
    Answer,
    AnswerRevision,
    ApiKey,
    Attempt,
    AuditEntry,
    Candidate,
    EmailMessage,
    Event,
    IdempotencyKey,
    Invitation,
    InvitationStatus,
    ManualScore,
    Organization,
    PageSignal,
    PartnerCallback,
    StoredGrade,
    Submission,
    utcnow,
)
from app.questions.service import spec_of
from app.similarity.service import forget as forget_similarity

# What an answer keeps once its author is erased: the statistics read these, and none says who wrote it.
STATISTICAL_ANSWER_KEYS = frozenset({"choice", "choices", "number"})
ERASED_ADDRESS_DOMAIN = "erased.invalid"  # .invalid never resolves (RFC 2606): nothing can be sent there


def find(session: Session, org: Organization, who: str) -> Candidate:
    """A candidate of `org` by id or email address."""
    if re.fullmatch(r"[0-9]+", who.strip()):
        candidate_id = parse_id(who)
        if candidate_id is None:
            raise NotFound(f"no candidate with the id {who.strip()} in {org.name}")
        return get_owned(session, Candidate, org, candidate_id)
    candidate = find_candidate(session, org, who)
    if candidate is None:
        raise NotFound(f"no candidate with the address {who.strip()!r} in {org.name}")
    return candidate


def _invitations(session: Session, candidate: Candidate, *, with_revisions: bool) -> list[Invitation]:
    """The candidate's invitations with their attempts and answers; with every saved revision when asked
    (a tab autosaving for an hour makes thousands, which erasing deletes without reading)."""
    answers = selectinload(Invitation.attempt).selectinload(Attempt.answers)
    return list(
        session.scalars(
            select(Invitation)
            .where(
                Invitation.candidate_id == candidate.id,
                Invitation.organization_id == candidate.organization_id,
            )
            .order_by(Invitation.id)
            .options(
                selectinload(Invitation.assessment),
                answers.selectinload(Answer.revisions) if with_revisions else answers,
            )
        )
    )


def _sent_to(candidate: Candidate) -> ColumnElement[bool]:
    return and_(
        EmailMessage.organization_id == candidate.organization_id, EmailMessage.to_address == candidate.email
    )


def export_candidate(session: Session, actor: Actor, candidate: Candidate) -> CandidateExport:
    """Everything held on the person (an owner's or the operator's right of access request); audited."""
    record(session, actor, "candidate.exported", candidate)
    return CandidateExport(
        exported_at=utcnow(),
        organization=actor.organization.name,
        candidate=CandidateData(
            id=candidate.id,
            email=candidate.email,
            first_name=candidate.first_name,
            last_name=candidate.last_name,
            created_at=candidate.created_at,
        ),
        invitations=[
            _invitation_data(session, invitation)
            for invitation in _invitations(session, candidate, with_revisions=True)
        ],
        emails=[
            EmailData(
                subject=m.subject,
                to=m.to_address,
                created_at=m.created_at,
                sent_at=m.delivered_at,
                status=m.status,
            )
            for m in session.scalars(
                select(EmailMessage).where(_sent_to(candidate)).order_by(EmailMessage.id)
            )
        ],
    )


def _invitation_data(session: Session, invitation: Invitation) -> InvitationData:
    return InvitationData(
        id=invitation.id,
        assessment_id=invitation.assessment_id,
        assessment_title=invitation.assessment.title,
        status=invitation.current_status,
        invited_at=invitation.created_at,
        expires_at=invitation.expires_at,
        extra_time_pct=invitation.extra_time_pct,
        external_ref=invitation.external_ref,
        attempt=_attempt_data(session, invitation.attempt) if invitation.attempt else None,
    )


def _attempt_data(session: Session, attempt: Attempt) -> AttemptData:
    manual = session.scalars(
        select(ManualScore).where(ManualScore.attempt_id == attempt.id).order_by(ManualScore.id)
    )
    submissions = session.scalars(
        select(Submission)
        .where(Submission.attempt_id == attempt.id)
        .order_by(Submission.id)
        .options(selectinload(Submission.result))
    )
    events = session.scalars(
        select(PageSignal).where(PageSignal.attempt_id == attempt.id).order_by(PageSignal.id)
    )
    return AttemptData(
        started_at=attempt.started_at,
        deadline_at=attempt.deadline_at,
        closed_at=attempt.closed_at,
        close_reason=attempt.close_reason,
        score=attempt.score,
        max_score=attempt.max_score,
        pending_review=attempt.review_pending,
        pending_grading=attempt.grading_pending,
        answers=[
            AnswerData(
                item_id=answer.item_id,
                question=spec_of(answer.item.question_version).title,
                value=answer.value,
                saved_at=answer.saved_at,
                flagged=answer.flagged,
                automatic_points=answer.auto_points,
                revisions=[
                    AnswerRevisionData(revision=r.revision, value=r.value, saved_at=r.saved_at)
                    for r in answer.revisions
                ],
            )
            for answer in sorted(attempt.answers, key=lambda a: a.item_id)
        ],
        manual_scores=[
            ManualScoreData(
                item_id=m.item_id, points=m.points, rubric=m.rubric, comment=m.comment, scored_at=m.scored_at
            )
            for m in manual
        ],
        submissions=[
            SubmissionData(
                item_id=s.item_id,
                kind=s.kind,
                submitted_at=s.created_at,
                source=s.source,
                grading=_grading_data(s.result) if s.result else None,
            )
            for s in submissions
        ],
        page_events=[PageEventData(kind=e.kind, at=e.at, detail=e.detail) for e in events],
    )


def _grading_data(result: StoredGrade) -> GradingData:
    cases = result.result.get("cases", [])
    hidden = [c for c in cases if not c.get("visible")]
    return GradingData(
        verdict=result.verdict,
        score=result.score,
        sample_cases=[
            SampleCaseData(name=c["name"], status=c["status"], message=c.get("message", ""))
            for c in cases
            if c.get("visible")
        ],
        hidden_cases_passed=sum(1 for c in hidden if c.get("status") == "passed"),
        hidden_cases=len(hidden),
        diagnoses=[d["message"] for d in result.result.get("diagnoses", [])],
    )


@dataclass(frozen=True)
class Erasure:
    invitations: int
    answers: int
    submissions: int
    emails: int


def confirm_erasure(candidate: Candidate, typed_email: str) -> None:
    """Erasing cannot be undone: the caller types the candidate's address, so a wrong row is never erased."""
    if typed_email.strip().lower() != candidate.email:
        raise ValidationFailed(
            "Nothing was erased.",
            errors=[FieldError("confirm_email", "type the candidate's email address exactly to confirm")],
        )


def erase_candidate(session: Session, actor: Actor, candidate: Candidate) -> Erasure:
    """Erase the person, keep the statistics (see the module's docstring). Refused while they are taking an
    assessment or a final grading of theirs is still running: what is being written cannot be erased yet."""
    if candidate.erased_at is not None:
        raise Conflict(f"This candidate's data was already erased on {candidate.erased_at:%Y-%m-%d}.")
    invitations = _invitations(session, candidate, with_revisions=False)
    attempts = [i.attempt for i in invitations if i.attempt is not None]
    for attempt in attempts:
        if attempt.is_open:
            raise Conflict(
                f"{candidate.full_name} is taking an assessment; its time is up at "
                f"{attempt.deadline_at:%Y-%m-%d %H:%M} UTC. Erase their data after that."
            )
        if pending_gradings(session, attempt):
            raise Conflict(f"{candidate.full_name}'s code is still being graded; try again in a minute.")
    now = utcnow()
    invitation_ids = [i.id for i in invitations]
    attempt_ids = [a.id for a in attempts]
    emails = session.execute(delete(EmailMessage).where(_sent_to(candidate)))
    _forget_in_logs(session, actor.organization, candidate, invitation_ids)
    for invitation in invitations:
        if invitation.status == InvitationStatus.SENT:
            invitation.status, invitation.cancelled_at = InvitationStatus.CANCELLED, now
        # The digest of a fresh token nobody holds: whatever link was sent opens nothing any more.
        invitation.token_hash = token_digest(new_token())
        invitation.token_nonce = None
        invitation.external_ref = None
    session.execute(delete(PartnerCallback).where(PartnerCallback.invitation_id.in_(invitation_ids)))
    answers = [answer for attempt in attempts for answer in attempt.answers]
    for answer in answers:
        answer.value = {k: v for k, v in answer.value.items() if k in STATISTICAL_ANSWER_KEYS}
    session.execute(delete(AnswerRevision).where(AnswerRevision.answer_id.in_([a.id for a in answers])))
    submissions = list(
        session.scalars(
            select(Submission)
            .where(Submission.attempt_id.in_(attempt_ids))
            .options(selectinload(Submission.result))
        )
    )
    forget_similarity(session, [s.id for s in submissions])
    for submission in submissions:
        submission.source = ""
        if submission.result is not None:
            submission.result.result = _without_candidate_output(submission.result.result)
    for manual in session.scalars(select(ManualScore).where(ManualScore.attempt_id.in_(attempt_ids))):
        manual.comment = ""
    candidate.email = f"erased-{candidate.id}@{ERASED_ADDRESS_DOMAIN}"
    candidate.first_name = candidate.last_name = ""
    candidate.erased_at = now
    record(session, actor, "candidate.erased", candidate)
    session.flush()
    return Erasure(
        invitations=len(invitations),
        answers=len(answers),
        submissions=len(submissions),
        emails=emails.rowcount,  # type: ignore[attr-defined]
    )


def _without_candidate_output(result: dict[str, Any]) -> dict[str, Any]:
    """A grading result without what the candidate's code produced or holds (messages it raised, values it
    returned, the lines it failed on, what it printed): the verdict, score, per-case status and diagnoses
    stay."""
    cases = [{**case, "message": "", "shown": None, "trace": []} for case in result.get("cases", [])]
    return {**result, "cases": cases, "output": None}


def _forget_in_logs(
    session: Session, org: Organization, candidate: Candidate, invitation_ids: list[int]
) -> None:
    """The address and the ATS's reference also sit in the audit trail, the event outbox (and so in webhook
    payloads not yet sent) and the API's stored replies to retried requests."""
    mentions = or_(
        and_(AuditEntry.target_type == "candidates", AuditEntry.target_id == str(candidate.id)),
        and_(
            AuditEntry.target_type == "invitations",
            AuditEntry.target_id.in_([str(i) for i in invitation_ids]),
        ),
        cast(AuditEntry.detail, Text).contains(candidate.email),
    )
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.organization_id == org.id, mentions)):
        entry.detail = {
            k: v for k, v in entry.detail.items() if k != "email" and candidate.email not in str(v)
        }
    created = session.scalars(
        select(Event).where(
            Event.organization_id == org.id,
            Event.type == "invitation.created",
            Event.created_at >= candidate.created_at,
        )
    )
    for event in created:
        if event.payload.get("invitation_id") in invitation_ids:
            event.payload = {**event.payload, "external_ref": None}
    keys_of_org = select(ApiKey.id).where(ApiKey.organization_id == org.id)
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.api_key_id.in_(keys_of_org), IdempotencyKey.response_body.contains(candidate.email)
        )
    )

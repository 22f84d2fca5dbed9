"""Candidates and invitations: creating links and checking them when a candidate arrives."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload, object_session, selectinload

from app.accounts.principal import Actor, Principal
from app.audit.service import record
from app.core.config import Settings
from app.core.db import claim, lock
from app.core.errors import Conflict, FieldError, Gone, NotFound, ValidationFailed
from app.core.security import derived_token, digests_match, new_token, token_digest
from app.core.tenancy import get_owned
from app.core.timezones import DEFAULT_ZONE, local_time
from app.emails.service import queue_email, valid_address
from app.events.service import record_event
from app.models import (
    Assessment,
    AssessmentStatus,
    Attempt,
    Candidate,
    Invitation,
    InvitationStatus,
    Organization,
    User,
    utcnow,
)
from app.webhooks.service import add_invitation_callback

INVITATION_PATH = "/i/"
TOKEN_PURPOSE = "invitation"  # noqa: S105 - a label mixed into the HMAC, not a secret


@dataclass(frozen=True)
class IssuedInvitation:
    """The plain token exists only here, at creation: the database keeps its digest."""

    invitation: Invitation
    token: str
    callback_secret: str | None = None  # the invitation's own callback's, shown once

    def link(self, base_url: str) -> str:
        return _link(base_url, self.token)


def candidates_stmt(org: Organization, *, email: str | None = None) -> Select[Candidate]:
    """The organization's candidates (the one with an email), for a page of the API to take from."""
    stmt = select(Candidate).where(Candidate.organization_id == org.id)
    return stmt.where(Candidate.email == email.strip().lower()) if email else stmt


def invitations_stmt(
    org: Organization,
    *,
    assessment_id: int | None = None,
    candidate_id: int | None = None,
    external_ref: str | None = None,
    status: InvitationStatus | None = None,
) -> Select[Invitation]:
    """The organization's invitations matching every filter given, for a page of the API to take from."""
    stmt = (
        select(Invitation)
        .where(Invitation.organization_id == org.id)
        .options(
            selectinload(Invitation.candidate),
            selectinload(Invitation.attempt),
            selectinload(Invitation.callback),
        )
    )
    if assessment_id is not None:
        stmt = stmt.where(Invitation.assessment_id == assessment_id)
    if candidate_id is not None:
        stmt = stmt.where(Invitation.candidate_id == candidate_id)
    if external_ref is not None:
        stmt = stmt.where(Invitation.external_ref == external_ref)
    if status is not None:
        stmt = stmt.where(Invitation.current_status == status)
    return stmt


def find_candidate(session: Session, org: Organization, email: str) -> Candidate | None:
    return session.scalar(
        select(Candidate).where(Candidate.organization_id == org.id, Candidate.email == email.strip().lower())
    )


def invitations_of(session: Session, assessment: Assessment, email: str) -> list[Invitation]:
    """The invitations this address already has to the assessment that still count (unused, started or
    finished; not the cancelled or expired), oldest first: what a recruiter is asked about before inviting
    the same person again."""
    return list(
        session.scalars(
            select(Invitation)
            .join(Candidate, Invitation.candidate_id == Candidate.id)
            .where(
                Invitation.assessment_id == assessment.id,
                Candidate.email == email.strip().lower(),
                Invitation.current_status.in_(
                    [InvitationStatus.SENT, InvitationStatus.STARTED, InvitationStatus.COMPLETED]
                ),
            )
            .order_by(Invitation.id)
        )
    )


def get_or_create_candidate(
    session: Session, org: Organization, *, email: str, first_name: str = "", last_name: str = ""
) -> Candidate:
    email = valid_address(email, "The candidate's email is not valid.")
    candidate = find_candidate(session, org, email)
    if candidate is None:
        candidate = Candidate(organization_id=org.id, email=email)
        session.add(candidate)
    if first_name.strip():
        candidate.first_name = first_name.strip()[:120]
    if last_name.strip():
        candidate.last_name = last_name.strip()[:120]
    session.flush()
    return candidate


def add_candidate(
    session: Session, actor: Actor, *, email: str, first_name: str = "", last_name: str = ""
) -> tuple[Candidate, bool]:
    """The organization's candidate with this email, made if new (and audited); names given are applied.
    True when it was made."""
    new = find_candidate(session, actor.organization, email) is None
    candidate = get_or_create_candidate(
        session, actor.organization, email=email, first_name=first_name, last_name=last_name
    )
    if new:
        record(session, actor, "candidate.created", candidate)
    return candidate, new


def rename_candidate(
    session: Session, actor: Actor, candidate: Candidate, *, first_name: str | None, last_name: str | None
) -> Candidate:
    if candidate.erased_at is not None:
        raise Conflict("This candidate's data was erased; invite the person again to start afresh.")
    if first_name is not None:
        candidate.first_name = first_name.strip()
    if last_name is not None:
        candidate.last_name = last_name.strip()
    record(session, actor, "candidate.updated", candidate)
    session.flush()
    return candidate


def create_invitation(
    session: Session,
    org: Organization,
    assessment: Assessment,
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    ttl: timedelta,
    secret_key: str,
    extra_time_pct: int = 0,
    expires_at: datetime | None = None,
    external_ref: str | None = None,
    created_by: User | None = None,
) -> IssuedInvitation:
    if assessment.organization_id != org.id:
        raise NotFound("assessment not found")
    if assessment.status != AssessmentStatus.PUBLISHED:
        raise Conflict("publish the assessment before inviting candidates")
    if not 0 <= extra_time_pct <= 200:
        raise ValidationFailed(
            "Extra time is out of range.", errors=[FieldError("extra_time_pct", "must be between 0 and 200")]
        )
    now = utcnow()
    expires_at = (expires_at or now + ttl).astimezone(UTC)
    if expires_at <= now:
        raise ValidationFailed(
            "The expiry is in the past.", errors=[FieldError("expires_at", "must be in the future")]
        )
    candidate = get_or_create_candidate(session, org, email=email, first_name=first_name, last_name=last_name)
    invitation = Invitation(
        organization_id=org.id,
        assessment_id=assessment.id,
        candidate=candidate,
        expires_at=expires_at,
        extra_time_pct=extra_time_pct,
        external_ref=external_ref,
        created_by_id=created_by.id if created_by else None,
        sent_at=now,
    )
    token = _new_link_token(invitation, secret_key)
    session.add(invitation)
    session.flush()
    record_event(
        session,
        org.id,
        "invitation.created",
        {
            "invitation_id": invitation.id,
            "assessment_id": assessment.id,
            "candidate_id": candidate.id,
            "external_ref": external_ref,
        },
    )
    return IssuedInvitation(invitation=invitation, token=token)


@dataclass(frozen=True)
class Invitee:
    """Who is invited, as a recruiter, an API client, an ATS or a CSV row names them."""

    email: str
    first_name: str = ""
    last_name: str = ""
    extra_time_pct: int = 0


def invite(
    session: Session,
    actor: Actor,
    assessment: Assessment,
    invitee: Invitee,
    *,
    settings: Settings,
    send_email: bool,
    ttl: timedelta | None = None,
    expires_at: datetime | None = None,
    external_ref: str | None = None,
    via: str = "",
    callback_url: str | None = None,
    callback_events: Sequence[str] = (),
) -> IssuedInvitation:
    """Invite one person, whichever door it comes through (a recruiter's page or CSV file, the API, an ATS):
    the invitation is created and announced, emailed when asked, and audited beside it, the same way. With
    a callback URL, the invitation's events are also posted there (app.webhooks)."""
    if callback_events and callback_url is None:
        raise ValidationFailed(
            "callback_events needs a callback_url.",
            errors=[FieldError("callback_events", "give a callback_url, or leave this out")],
        )
    issued = create_invitation(
        session,
        actor.organization,
        assessment,
        email=invitee.email,
        first_name=invitee.first_name,
        last_name=invitee.last_name,
        extra_time_pct=invitee.extra_time_pct,
        ttl=ttl or timedelta(days=settings.invitation_ttl_days),
        secret_key=settings.secret_key.get_secret_value(),
        expires_at=expires_at,
        external_ref=external_ref,
        created_by=actor.user if isinstance(actor, Principal) else None,
    )
    if send_email:
        email_invitation(session, issued.invitation, issued.link(settings.base_url))
    detail = {"email": issued.invitation.candidate.email, "emailed": send_email} | (
        {"via": via} if via else {}
    )
    record(session, actor, "invitation.created", issued.invitation, **detail)
    if callback_url is not None:
        callback = add_invitation_callback(
            session,
            actor,
            issued.invitation,
            url=callback_url,
            settings=settings,
            event_types=list(callback_events),
        )
        issued = replace(issued, callback_secret=callback.secret)
    return issued


def _new_link_token(invitation: Invitation, secret_key: str) -> str:
    """A fresh link for the invitation (any earlier link stops working); returns its token."""
    invitation.token_nonce = new_token(24)
    token = derived_token(secret_key, TOKEN_PURPOSE, invitation.token_nonce)
    invitation.token_hash = token_digest(token)
    return token


def _link(base_url: str, token: str) -> str:
    return f"{base_url}{INVITATION_PATH}{token}"


def invitation_for_token(session: Session, token: str) -> Invitation:
    """The invitation a candidate's link points to, whatever its state (pages explain each state)."""
    if not token or len(token) > 100:
        raise NotFound("This invitation link is not valid. Check that you copied the whole link.")
    invitation = session.scalar(
        select(Invitation)
        .where(Invitation.token_hash == token_digest(token))
        # One query for what every candidate request needs (autosave is the hottest path in Assay).
        .options(
            joinedload(Invitation.assessment),
            joinedload(Invitation.candidate),
            joinedload(Invitation.attempt),
        )
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid. Check that you copied the whole link.")
    return invitation


def expire_if_due(session: Session, invitation: Invitation) -> bool:
    """Mark an unused link past its expiry as expired, announcing it once. Only the sweep does: reading an
    invitation (a candidate opening the link) never writes, and `current_status` already reads as expired."""
    if invitation.current_status == invitation.status:  # only a lapse past expiry makes them differ
        return False
    lapsed, was = invitation.current_status, invitation.status
    if not claim(session, invitation, Invitation.status == was, status=lapsed):
        return False  # cancelled, started or expired by another request meanwhile
    record_event(
        session,
        invitation.organization_id,
        "invitation.expired",
        {"invitation_id": invitation.id, "expired_at": invitation.expires_at.isoformat()},
        once=f"invitation.expired:{invitation.id}",
    )
    return True


def expire_due_invitations(session: Session, limit: int = 500) -> int:
    """The periodic sweep: links that expired unused are marked (and announced) even if nobody opens them."""
    due = session.scalars(
        select(Invitation)
        .where(Invitation.status == InvitationStatus.SENT, Invitation.expires_at <= utcnow())
        .order_by(Invitation.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for invitation in due:
        expire_if_due(session, invitation)
    session.flush()
    return len(due)


def ensure_can_start(invitation: Invitation) -> None:
    """Gone, in words for the candidate (who to ask, and what happened), when the link can no longer start
    or resume the assessment."""
    session = object_session(invitation)
    org = session.get(Organization, invitation.organization_id) if session is not None else None
    company = org.name if org is not None else "the company"
    messages = {
        InvitationStatus.EXPIRED: (
            f"This invitation expired on {invitation.expires_at:%d %B %Y}. If you still want to take the "
            f"assessment, ask the person at {company} who invited you for a new link."
        ),
        InvitationStatus.CANCELLED: (
            f"{company} has withdrawn this invitation, so the assessment can no longer be taken with this "
            f"link. If you think this is a mistake, write to the person at {company} who sent it to you."
        ),
        InvitationStatus.COMPLETED: "You have already completed this assessment. Thank you!",
    }
    status = invitation.current_status
    if status in messages:
        raise Gone(messages[status])


def list_invitations(session: Session, org: Organization, assessment: Assessment) -> list[Invitation]:
    return list(
        session.scalars(
            select(Invitation)
            .where(Invitation.organization_id == org.id, Invitation.assessment_id == assessment.id)
            .options(
                selectinload(Invitation.candidate),
                selectinload(Invitation.attempt),
                selectinload(Invitation.callback),
            )
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
    )


def get_invitation(session: Session, org: Organization, invitation_id: int) -> Invitation:
    return get_owned(
        session,
        Invitation,
        org,
        invitation_id,
        selectinload(Invitation.candidate),
        selectinload(Invitation.assessment),
        selectinload(Invitation.attempt).selectinload(Attempt.answers),
    )


def rebuild_link(invitation: Invitation, secret_key: str, base_url: str) -> str | None:
    """The link the candidate was sent, or None when it cannot be rebuilt (made before link nonces, or the
    secret key changed since): then only a new link can be sent."""
    if invitation.token_nonce is None:
        return None
    token = derived_token(secret_key, TOKEN_PURPOSE, invitation.token_nonce)
    if not digests_match(token_digest(token), invitation.token_hash):
        return None
    return _link(base_url, token)


def email_invitation(session: Session, invitation: Invitation, link: str, *, reminder: bool = False) -> None:
    org = session.get(Organization, invitation.organization_id)
    assessment = invitation.assessment
    queue_email(
        session,
        to=invitation.candidate.email,
        template="candidate_reminder" if reminder else "candidate_invitation",
        context={
            "name": invitation.candidate.first_name or invitation.candidate.full_name,
            "company": org.name if org else "",
            "assessment": assessment.title,
            "minutes": round(invitation.minutes_allowed),
            "extra_time_pct": invitation.extra_time_pct,
            "expires_at": local_time(invitation.expires_at, org.time_zone if org else DEFAULT_ZONE),
            "link": link,
            "instructions": assessment.description.strip(),
        },
        organization=org,
    )


def _ensure_unused(invitation: Invitation, action: str) -> None:
    status = invitation.current_status
    if status not in (InvitationStatus.SENT, InvitationStatus.EXPIRED):
        raise Conflict(f"This invitation is {status.value}: only a link not yet used can be {action}.")


def extend_invitation(
    session: Session,
    actor: Actor,
    invitation: Invitation,
    *,
    expires_at: datetime | None = None,
    extra_time_pct: int | None = None,
) -> Invitation:
    """Give an unused link a later expiry (an expired one works again) or the candidate extra time before
    they start; audited. The candidate's link stays the same."""
    _ensure_unused(invitation, "extended")
    problems = []
    if expires_at is None and extra_time_pct is None:
        problems.append(FieldError("expires_at", "give expires_at, extra_time_pct or both"))
    if expires_at is not None and expires_at.astimezone(UTC) <= utcnow():
        problems.append(FieldError("expires_at", "must be in the future"))
    if extra_time_pct is not None and not 0 <= extra_time_pct <= 200:
        problems.append(FieldError("extra_time_pct", "must be between 0 and 200"))
    if problems:
        raise ValidationFailed("The invitation was not changed.", errors=problems)
    if expires_at is not None:
        invitation.expires_at = expires_at.astimezone(UTC)
        invitation.status, invitation.reminded_at = InvitationStatus.SENT, None
    if extra_time_pct is not None:
        invitation.extra_time_pct = extra_time_pct
    record(
        session,
        actor,
        "invitation.extended",
        invitation,
        expires_at=invitation.expires_at.astimezone(UTC).isoformat(timespec="seconds"),
        extra_time_pct=invitation.extra_time_pct,
    )
    session.flush()
    return invitation


def cancel_invitation(session: Session, actor: Actor, invitation: Invitation) -> None:
    """Withdraw an unused link, once: of two cancels at the same moment the second is told it is done."""
    _ensure_unused(invitation, "cancelled")
    unused = (InvitationStatus.SENT, InvitationStatus.EXPIRED)
    cancelled = claim(
        session,
        invitation,
        Invitation.status.in_(unused),
        status=InvitationStatus.CANCELLED,
        cancelled_at=utcnow(),
    )
    if not cancelled:
        _ensure_unused(invitation, "cancelled")  # it was started or cancelled meanwhile: says which
        raise Conflict("This invitation changed meanwhile; reload the page and try again.")
    record_event(
        session,
        invitation.organization_id,
        "invitation.cancelled",
        {"invitation_id": invitation.id},
        once=f"invitation.cancelled:{invitation.id}",
    )
    record(session, actor, "invitation.cancelled", invitation)
    session.flush()


def resend_invitation(session: Session, actor: Actor, invitation: Invitation, *, settings: Settings) -> str:
    """Email the link again, valid for at least the configured lifetime from now. The same link when it can be
    rebuilt (the candidate may already have the first email open); otherwise a new one, and the old stops
    working."""
    # Each resend is a transition of its own; two at the same moment queue on the invitation's row lock.
    lock(session, invitation)
    _ensure_unused(invitation, "sent again")
    now = utcnow()
    secret_key, base_url = settings.secret_key.get_secret_value(), settings.base_url
    invitation.status = InvitationStatus.SENT
    invitation.expires_at = max(invitation.expires_at, now + timedelta(days=settings.invitation_ttl_days))
    invitation.sent_at, invitation.reminded_at = now, None
    link = rebuild_link(invitation, secret_key, base_url)
    if link is None:
        link = _link(base_url, _new_link_token(invitation, secret_key))
    email_invitation(session, invitation, link)
    _announce_sent_again(session, invitation, "invitation.resent")
    record(
        session,
        actor,
        "invitation.resent",
        invitation,
        expires_at=invitation.expires_at.astimezone(UTC).isoformat(timespec="seconds"),
    )
    session.flush()
    return link


def _announce_sent_again(session: Session, invitation: Invitation, event_type: str) -> None:
    record_event(
        session,
        invitation.organization_id,
        event_type,
        {"invitation_id": invitation.id, "expires_at": invitation.expires_at.astimezone(UTC).isoformat()},
    )


def send_due_reminders(
    session: Session, *, before_expiry: timedelta, secret_key: str, base_url: str, limit: int = 200
) -> int:
    """Remind, once, candidates who have not started and whose link expires within `before_expiry`. Rows are
    locked while sending, so two workers never remind the same candidate twice."""
    now = utcnow()
    due = session.scalars(
        select(Invitation)
        .where(
            Invitation.status == InvitationStatus.SENT,
            Invitation.reminded_at.is_(None),
            Invitation.expires_at > now,
            Invitation.expires_at <= now + before_expiry,
        )
        .order_by(Invitation.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    sent = 0
    for invitation in due:
        invitation.reminded_at = now  # also when the link cannot be rebuilt: that is not retried every sweep
        link = rebuild_link(invitation, secret_key, base_url)
        if link is not None:
            email_invitation(session, invitation, link, reminder=True)
            _announce_sent_again(session, invitation, "invitation.reminded")
            sent += 1
    session.flush()
    return sent


MAX_CSV_ROWS = 2_000
CSV_COLUMNS = ("email", "first_name", "last_name", "extra_time_pct")
# Column names as spreadsheets and ATS exports spell them, after lower-casing and joining words with "_".
HEADER_ALIASES = {
    "e_mail": "email",
    "email_address": "email",
    "firstname": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "extra_time": "extra_time_pct",
    "extra_time_percent": "extra_time_pct",
}


@dataclass(frozen=True)
class CsvRow:
    line: int
    email: str
    first_name: str
    last_name: str
    extra_time_pct: int
    problems: tuple[str, ...] = ()
    skipped: str = ""  # why a valid row needs no new invitation


@dataclass
class CsvReport:
    rows: list[CsvRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # about the file as a whole
    invited: list[Invitation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not any(r.problems for r in self.rows)


def _header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def parse_candidates_csv(session: Session, assessment: Assessment, data: bytes) -> CsvReport:
    """Check every row before inviting anyone: a file with mistakes invites nobody, so fixing it and
    uploading again never invites someone twice."""
    report = CsvReport()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.problems.append("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
        return report
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        first_line = next(reader, [])
    except csv.Error as exc:
        report.problems.append(f"The first line is not valid CSV ({exc}).")
        return report
    header = [_header_key(h) for h in first_line]
    header = [HEADER_ALIASES.get(h, h) for h in header]
    if "email" not in header:
        report.problems.append(
            "The first line must name the columns, including “email” "
            f"(also understood: {', '.join(CSV_COLUMNS[1:])})."
        )
        return report
    open_emails = {
        email
        for (email,) in session.execute(
            select(Candidate.email)
            .join(Invitation, Invitation.candidate_id == Candidate.id)
            .where(
                Invitation.assessment_id == assessment.id,
                Invitation.status.in_([InvitationStatus.SENT, InvitationStatus.STARTED]),
                Invitation.expires_at > utcnow(),
            )
        )
    }
    seen: dict[str, int] = {}
    try:
        for line, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(report.rows) >= MAX_CSV_ROWS:
                report.problems.append(f"At most {MAX_CSV_ROWS} candidates per file; split the file.")
                break
            cells = dict(zip(header, values, strict=False))
            report.rows.append(_check_row(line, cells, seen, open_emails))
    except csv.Error as exc:  # a field longer than the csv module allows, a quote left open, …
        report.problems.append(f"Line {reader.line_num} is not valid CSV ({exc}); nobody was invited.")
    if not report.rows and not report.problems:
        report.problems.append("The file has a header but no candidates.")
    return report


def _check_row(line: int, cells: dict[str, str], seen: dict[str, int], open_emails: set[str]) -> CsvRow:
    problems = []
    raw_email = (cells.get("email") or "").strip()
    email = raw_email
    try:
        email = valid_address(raw_email)
    except ValidationFailed as exc:
        problems.append(f"email {raw_email!r}: {exc.errors[0].message}" if raw_email else "email is missing")
    raw_extra = (cells.get("extra_time_pct") or "").strip().rstrip("%")
    extra = 0
    if raw_extra:
        if re.fullmatch(r"[0-9]{1,3}", raw_extra) and int(raw_extra) <= 200:
            extra = int(raw_extra)
        else:
            problems.append(f"extra_time_pct {raw_extra!r}: a whole number from 0 to 200")
    skipped = ""
    if not problems:
        if email in seen:
            problems.append(f"{email} is also on line {seen[email]}")
        elif email in open_emails:
            skipped = "already has an open invitation to this assessment"
        seen.setdefault(email, line)
    return CsvRow(
        line=line,
        email=email,
        first_name=(cells.get("first_name") or "").strip()[:120],
        last_name=(cells.get("last_name") or "").strip()[:120],
        extra_time_pct=extra,
        problems=tuple(problems),
        skipped=skipped,
    )


def invite_from_csv(
    session: Session,
    actor: Actor,
    assessment: Assessment,
    data: bytes,
    *,
    settings: Settings,
    send_email: bool,
    ttl: timedelta | None = None,
) -> CsvReport:
    """Everyone on a checked file is invited as one by one would be (each audited); a file with mistakes
    invites nobody."""
    report = parse_candidates_csv(session, assessment, data)
    if not report.ok:
        return report
    for row in report.rows:
        if row.skipped:
            continue
        invitee = Invitee(row.email, row.first_name, row.last_name, row.extra_time_pct)
        issued = invite(
            session, actor, assessment, invitee, settings=settings, send_email=send_email, ttl=ttl, via="csv"
        )
        report.invited.append(issued.invitation)
    return report

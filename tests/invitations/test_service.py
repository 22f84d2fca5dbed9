"""Invitations: CSV import with a row report, reminders with the link the candidate already has, resend and
cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.attempts.service import start_attempt
from app.core.config import Settings
from app.core.errors import Conflict, Gone
from app.invitations import service as invitations
from app.models import AuditEntry, EmailMessage, Invitation, InvitationStatus, utcnow
from tests import factories

TTL = timedelta(days=7)
BASE = "http://testserver"
SETTINGS = Settings(
    _env_file=None,  # type: ignore[call-arg]
    base_url=BASE,
    invitation_ttl_days=TTL.days,
    secret_key=factories.SECRET_KEY,
)


def _import(session: Session, data: bytes) -> invitations.CsvReport:
    user, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    return invitations.invite_from_csv(
        session, factories.principal(user, org), assessment, data, settings=SETTINGS, send_email=True, ttl=TTL
    )


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_clean_file_invites_everyone_and_emails_their_own_link(session: Session) -> None:
    data = (
        "\ufeffEmail,First name,Last name,Extra time %\r\n"
        "ada@example.com,Ada,Lovelace,25\r\n"
        "\r\n"
        "GRACE@Example.com,Grace,Hopper,\r\n"
    ).encode()
    report = _import(session, data)
    assert report.ok and [r.email for r in report.rows] == ["ada@example.com", "grace@example.com"]
    assert [i.extra_time_pct for i in report.invited] == [25, 0]
    emails = session.scalars(select(EmailMessage).order_by(EmailMessage.id)).all()
    assert [e.to_address for e in emails] == ["ada@example.com", "grace@example.com"]
    link = next(line for line in emails[0].text_body.splitlines() if line.startswith(f"{BASE}/i/"))
    token = link.removeprefix(f"{BASE}/i/")
    assert invitations.invitation_for_token(session, token).candidate.email == "ada@example.com"


def test_a_file_with_mistakes_invites_nobody_and_says_what_is_wrong_on_which_line(session: Session) -> None:
    data = (
        b"email;first_name;extra_time_pct\n"
        b"ok@example.com;Ok;\n"
        b"not-an-email;Bad;\n"
        b"ok@example.com;Again;\n"
        b"x@example.com;X;300\n"
        b";Nobody;\n"
    )
    report = _import(session, data)
    assert not report.ok and not report.invited
    problems = {r.line: r.problems for r in report.rows}
    assert problems[2] == ()
    assert "not-an-email" in problems[3][0]
    assert "also on line 2" in problems[4][0]
    assert "from 0 to 200" in problems[5][0]
    assert problems[6] == ("email is missing",)
    assert _count(session, Invitation) == 0 and _count(session, EmailMessage) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name,phone\nAda,1\n", "including \u201cemail\u201d"),
        (b"email\n", "no candidates"),
        ("email\nadé@example.com\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_a_file_that_is_not_a_candidate_list_is_explained(
    session: Session, data: bytes, message: str
) -> None:
    report = _import(session, data)
    assert not report.ok and message in report.problems[0]


def test_candidates_with_an_open_invitation_are_skipped_not_invited_twice(session: Session) -> None:
    user, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    factories.invitation(session, org, assessment, email="ada@example.com")
    report = invitations.invite_from_csv(
        session,
        factories.principal(user, org),
        assessment,
        b"email\nada@example.com\nbob@example.com\n",
        settings=SETTINGS,
        send_email=False,
    )
    assert report.ok and [r.skipped != "" for r in report.rows] == [True, False]
    assert [i.candidate.email for i in report.invited] == ["bob@example.com"]


def test_reminders_go_once_with_the_same_link_to_who_has_not_started(session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    soon = factories.invitation(session, org, assessment, email="soon@example.com")
    started = factories.invitation(session, org, assessment, email="started@example.com")
    later = factories.invitation(session, org, assessment, email="later@example.com")
    soon.invitation.expires_at = started.invitation.expires_at = utcnow() + timedelta(hours=10)
    start_attempt(session, started.invitation)
    later.invitation.expires_at = utcnow() + timedelta(days=5)

    def remind() -> int:
        return invitations.send_due_reminders(
            session, before_expiry=timedelta(hours=48), secret_key=factories.SECRET_KEY, base_url=BASE
        )

    assert remind() == 1 and remind() == 0
    reminder = session.scalars(select(EmailMessage)).one()
    assert reminder.to_address == "soon@example.com" and reminder.subject.startswith("Reminder")
    assert soon.link(BASE) in reminder.text_body


def test_a_link_from_before_a_secret_key_change_is_not_rebuilt_wrongly(session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    issued = factories.invitation(session, org, assessment)
    assert invitations.rebuild_link(issued.invitation, factories.SECRET_KEY, BASE) == issued.link(BASE)
    assert invitations.rebuild_link(issued.invitation, "another key", BASE) is None


def test_resend_extends_an_expired_link_and_cancel_ends_it(session: Session) -> None:
    user, org = factories.owner(session)
    actor = factories.principal(user, org)
    assessment = factories.published_assessment(session, org, per_type=1)
    issued = factories.invitation(session, org, assessment)
    invitation = issued.invitation
    invitation.expires_at = utcnow() - timedelta(hours=1)
    assert invitation.current_status == InvitationStatus.EXPIRED
    link = invitations.resend_invitation(session, actor, invitation, settings=SETTINGS)
    assert link == issued.link(BASE) and invitation.current_status == InvitationStatus.SENT
    assert invitation.expires_at > utcnow() + TTL - timedelta(minutes=1)
    invitations.cancel_invitation(session, actor, invitation)
    with pytest.raises(Gone, match="withdrawn"):
        invitations.ensure_can_start(invitations.invitation_for_token(session, issued.token))
    with pytest.raises(Conflict):
        invitations.resend_invitation(session, actor, invitation, settings=SETTINGS)
    trail = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.target_type == "invitations", AuditEntry.target_id == str(invitation.id)
        )
    ).all()
    assert sorted(trail) == ["invitation.cancelled", "invitation.resent"]


def test_a_started_invitation_cannot_be_cancelled(session: Session) -> None:
    user, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    issued = factories.invitation(session, org, assessment)
    start_attempt(session, issued.invitation)
    with pytest.raises(Conflict, match="started"):
        invitations.cancel_invitation(session, factories.principal(user, org), issued.invitation)


def test_current_status_is_one_rule_in_python_and_in_queries(session: Session) -> None:
    """A link past its expiry reads as expired before the sweep marks it, in a row and in a query alike."""
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    made = [factories.invitation(session, org, assessment, f"c{n}@example.com").invitation for n in range(5)]
    made[1].expires_at = utcnow() - timedelta(seconds=1)  # lapsed, not yet swept
    made[2].status = InvitationStatus.STARTED
    made[2].expires_at = utcnow() - timedelta(seconds=1)  # started before it lapsed: still started
    made[3].status = InvitationStatus.CANCELLED
    made[4].status = InvitationStatus.EXPIRED  # swept
    session.flush()
    in_python = {i.id: i.current_status for i in made}
    in_sql = dict(
        session.execute(
            select(Invitation.id, Invitation.current_status).where(Invitation.id.in_(in_python))
        ).all()
    )
    assert in_sql == in_python
    assert [in_python[i.id] for i in made] == [
        InvitationStatus.SENT,
        InvitationStatus.EXPIRED,
        InvitationStatus.STARTED,
        InvitationStatus.CANCELLED,
        InvitationStatus.EXPIRED,
    ]
    expired = session.scalars(
        select(Invitation.id).where(
            Invitation.id.in_(in_python), Invitation.current_status == InvitationStatus.EXPIRED
        )
    ).all()
    assert sorted(expired) == sorted([made[1].id, made[4].id])


def test_the_email_carries_the_recruiters_instructions(session: Session) -> None:
    user, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    assessment.description = "Use **NumPy only**.\n\nBring <script>nothing</script> else."
    invitations.invite(
        session,
        factories.principal(user, org),
        assessment,
        invitations.Invitee("ada@example.com", "Ada"),
        settings=SETTINGS,
        send_email=True,
    )
    mail = session.scalars(select(EmailMessage)).one()
    assert "Instructions from Acme:" in mail.text_body and "Use **NumPy only**." in mail.text_body
    assert "<strong>NumPy only</strong>" in mail.html_body and "<script>" not in mail.html_body

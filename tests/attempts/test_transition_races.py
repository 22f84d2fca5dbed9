"""Transitions raced for real, on separate connections: an attempt closed by two hand-ins at once (two tabs
at the deadline, a retried submit, a submit beside the deadline sweep), an attempt started twice, an
invitation cancelled twice. Each transition happens once and is announced once, with one event id that
consumers can rely on; the losers see the transition already made."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.attempts.service import close_overdue_attempts, hand_in_attempt, save_answer, start_attempt
from app.core.errors import Conflict
from app.events.service import record_event
from app.invitations.service import cancel_invitation
from app.models import Attempt, Event, Invitation, Organization, Submission, SubmissionKind
from tests import factories
from tests.races import at_once, meet

GRACE_SECONDS = 30
# How long a racer waits for the other to have read the same state. When the other cannot (it waits for a
# lock the first holds), the wait runs out and the first goes on alone.
RENDEZVOUS_SECONDS = 3
CODE = "import numpy as np\n\ndef batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n    return x, None\n"


def _invitation(sessions: sessionmaker[Session], email: str, *, started: bool) -> int:
    """An invitation to a coding assessment; once started, with code saved but never submitted."""
    with sessions() as session:
        _, org = factories.owner(session, email=email, org=f"Org of {email}")
        assessment = factories.coding_assessment(session, org)
        issued = factories.invitation(session, org, assessment)
        if started:
            attempt = start_attempt(session, issued.invitation)
            coding = next(i for i in assessment.items if i.question_version.type.value == "coding")
            save_answer(session, attempt, coding.id, {"source": CODE}, grace=timedelta(seconds=GRACE_SECONDS))
        session.commit()
        return issued.invitation.id


def _events(sessions: sessionmaker[Session], invitation_id: int, event_type: str) -> list[Event]:
    with sessions() as session:
        return [
            e
            for e in session.scalars(select(Event).where(Event.type == event_type))
            if e.payload.get("invitation_id") == invitation_id
        ]


def _racing(
    sessions: sessionmaker[Session], invitation_id: int, act: Callable[[Session, Invitation], object]
):  # type: ignore[no-untyped-def]
    """Two requests that both read the invitation as it is, then act on it and commit."""
    both_read = threading.Barrier(2)

    def request() -> None:
        with sessions() as session:
            invitation = session.get(Invitation, invitation_id)
            assert invitation is not None
            _ = invitation.attempt  # loaded now, as a request would have it
            meet(both_read, RENDEZVOUS_SECONDS)
            act(session, invitation)
            session.commit()

    return at_once(request, request)


def test_an_attempt_handed_in_twice_at_once_is_closed_and_announced_once(
    committing_sessions: sessionmaker[Session],
) -> None:
    invitation_id = _invitation(committing_sessions, "twice@example.com", started=True)

    def hand_in(session: Session, invitation: Invitation) -> None:
        assert invitation.attempt is not None
        hand_in_attempt(session, invitation.attempt)

    assert _racing(committing_sessions, invitation_id, hand_in) == []
    assert len(_events(committing_sessions, invitation_id, "invitation.completed")) == 1
    with committing_sessions() as session:
        attempt = session.scalar(select(Attempt).where(Attempt.invitation_id == invitation_id))
        assert attempt is not None and attempt.closed_at is not None
        finals = session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.attempt_id == attempt.id, Submission.kind == SubmissionKind.FINAL)
        )
        assert finals == 1, "the saved code is queued for grading once"


def test_a_hand_in_racing_the_deadline_sweep_closes_once(committing_sessions: sessionmaker[Session]) -> None:
    invitation_id = _invitation(committing_sessions, "sweep@example.com", started=True)
    with committing_sessions() as session:
        attempt = session.scalar(select(Attempt).where(Attempt.invitation_id == invitation_id))
        assert attempt is not None
        attempt.deadline_at = attempt.started_at - timedelta(minutes=5)  # long past, grace included
        session.commit()
    both_read = threading.Barrier(2)

    def hand_in() -> None:
        with committing_sessions() as session:
            attempt = session.scalar(select(Attempt).where(Attempt.invitation_id == invitation_id))
            assert attempt is not None
            meet(both_read, RENDEZVOUS_SECONDS)
            hand_in_attempt(session, attempt)
            session.commit()

    def sweep() -> None:
        with committing_sessions() as session:
            meet(both_read, RENDEZVOUS_SECONDS)
            close_overdue_attempts(session, grace=timedelta(seconds=GRACE_SECONDS))
            session.commit()

    assert at_once(hand_in, sweep) == []
    assert len(_events(committing_sessions, invitation_id, "invitation.completed")) == 1


def test_an_attempt_started_twice_at_once_is_one_attempt_announced_once(
    committing_sessions: sessionmaker[Session],
) -> None:
    invitation_id = _invitation(committing_sessions, "double-start@example.com", started=False)
    assert _racing(committing_sessions, invitation_id, start_attempt) == []
    with committing_sessions() as session:
        attempts = session.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.invitation_id == invitation_id)
        )
        assert attempts == 1
    assert len(_events(committing_sessions, invitation_id, "invitation.started")) == 1


def test_an_invitation_cancelled_twice_at_once_is_cancelled_and_announced_once(
    committing_sessions: sessionmaker[Session],
) -> None:
    invitation_id = _invitation(committing_sessions, "cancel@example.com", started=False)

    def cancel(session: Session, invitation: Invitation) -> None:
        org = session.get(Organization, invitation.organization_id)
        assert org is not None
        cancel_invitation(session, factories.operator(session, org), invitation)

    raised = _racing(committing_sessions, invitation_id, cancel)
    assert all(isinstance(exc, Conflict) for exc in raised), raised  # the loser is told it is done
    assert len(_events(committing_sessions, invitation_id, "invitation.cancelled")) == 1


def test_an_event_keyed_to_its_transition_is_recorded_once(
    committing_sessions: sessionmaker[Session],
) -> None:
    invitation_id = _invitation(committing_sessions, "keyed@example.com", started=False)
    with committing_sessions() as session:
        invitation = session.get(Invitation, invitation_id)
        assert invitation is not None
        first = record_event(
            session,
            invitation.organization_id,
            "invitation.cancelled",
            {"invitation_id": invitation_id},
            once=f"invitation.cancelled:{invitation_id}",
        )
        again = record_event(
            session,
            invitation.organization_id,
            "invitation.cancelled",
            {"invitation_id": invitation_id},
            once=f"invitation.cancelled:{invitation_id}",
        )
        session.commit()
    assert first is not None and again is None
    assert len(_events(committing_sessions, invitation_id, "invitation.cancelled")) == 1

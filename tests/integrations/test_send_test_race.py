"""Greenhouse sends the same test twice at the same moment (a retry racing the original), each on its own
connection, committing for real: one invitation and one email, and both answers name it."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.api.service import authenticate_key, create_api_key
from app.core.config import Settings
from app.integrations import service as greenhouse
from app.integrations.schemas import GreenhouseCandidate
from app.models import EmailMessage, Invitation, QuestionType
from tests import factories
from tests.races import at_once, meet

# How long one request waits for the other to reach the same point. On PostgreSQL both get there (neither
# has written); on SQLite the second waits for the first's write lock, so the wait runs out and the first
# goes on alone.
RENDEZVOUS_SECONDS = 3


def test_two_identical_send_tests_at_once_make_one_invitation_and_one_email(
    committing_sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = committing_sessions
    with sessions() as session:
        _, org = factories.owner(session, email="gh-race@example.com", org="Send race")
        assessment = factories.published_assessment(
            session, org, types=(QuestionType.MCQ_SINGLE,), per_type=1
        )
        _, key = create_api_key(
            session, factories.operator(session, org), name="Greenhouse", scopes=["invitations:write"]
        )
        authenticate_key(session, key)  # its first use is written now, not by the racing requests
        session.commit()
        test_id = assessment.id

    both_looked = threading.Barrier(2)
    real_invite = greenhouse._invite

    def invite_once_both_have_looked(*args: Any, **kwargs: Any) -> Invitation:
        meet(both_looked, RENDEZVOUS_SECONDS)  # both found no invitation before either creates one
        return real_invite(*args, **kwargs)

    monkeypatch.setattr(greenhouse, "_invite", invite_once_both_have_looked)
    answers: list[int] = []

    def send() -> None:
        with sessions() as session:
            invitation = greenhouse.send_test(
                session,
                authenticate_key(session, key),
                partner_test_id=str(test_id),
                candidate=GreenhouseCandidate(
                    email="mary@example.com",
                    first_name="Mary",
                    last_name="Jackson",
                    greenhouse_profile_url="https://app.greenhouse.io/people/789",
                ),
                callback_url=None,
                settings=settings,
                partner_key=key,
            )
            session.commit()
            answers.append(invitation.id)

    assert at_once(send, send) == []

    with sessions() as session:
        invitations = session.scalars(select(Invitation.id).where(Invitation.organization_id == org.id)).all()
        emails = session.scalar(
            select(func.count())
            .select_from(EmailMessage)
            .where(EmailMessage.to_address == "mary@example.com")
        )
    assert len(invitations) == 1 and answers == [invitations[0]] * 2
    assert emails == 1

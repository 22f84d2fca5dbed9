"""Greenhouse sends the same test twice at the same moment (a retry racing the original), each on its own
connection, committing for real: one invitation and one email, and both answers name it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.api.service import authenticate_key, create_api_key
from app.core.config import Settings
from app.core.db import make_session_factory
from app.integrations import service as greenhouse
from app.integrations.schemas import GreenhouseCandidate
from app.models import EmailMessage, Invitation, QuestionType
from tests import factories
from tests.conftest import ready_engine

# How long one request waits for the other to reach the same point. On PostgreSQL both get there (neither
# has written); on SQLite the second waits for the first's write lock, so the wait runs out and the first
# goes on alone.
RENDEZVOUS_SECONDS = 3


@pytest.fixture(scope="module")
def database(backend: str, settings_for: Callable[..., Settings]) -> Iterator[tuple[Engine, Settings]]:
    """A database of its own: the racing requests commit for real."""
    settings = settings_for(backend)
    engine = ready_engine(settings)
    yield engine, settings
    engine.dispose()


def test_two_identical_send_tests_at_once_make_one_invitation_and_one_email(
    database: tuple[Engine, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, settings = database
    sessions: sessionmaker[Session] = make_session_factory(engine)
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
        # Both requests have found no invitation for this application before either creates one.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_looked.wait(timeout=RENDEZVOUS_SECONDS)
        return real_invite(*args, **kwargs)

    monkeypatch.setattr(greenhouse, "_invite", invite_once_both_have_looked)
    answers: list[int] = []
    failures: list[BaseException] = []

    def send() -> None:
        try:
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
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures

    with sessions() as session:
        invitations = session.scalars(select(Invitation.id).where(Invitation.organization_id == org.id)).all()
        emails = session.scalar(
            select(func.count())
            .select_from(EmailMessage)
            .where(EmailMessage.to_address == "mary@example.com")
        )
    assert len(invitations) == 1 and answers == [invitations[0]] * 2
    assert emails == 1

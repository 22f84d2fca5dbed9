"""First run: the owner, their organization and a ready sample, exactly once."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AssessmentStatus, Invitation, QuestionType, User
from app.onboarding.service import first_run
from tests.forms import post_form

TTL = timedelta(days=7)


def test_first_run_creates_owner_and_sample_once(session: Session, client: TestClient) -> None:
    assert session.scalar(select(func.count(User.id))) == 0
    result = first_run(
        session, email="boss@acme.test", password=None, org_name="Acme", invitation_ttl=TTL, secret_key="k"
    )
    assert result is not None and result.password and len(result.password) >= 12
    assert result.demo is not None
    assessment = result.demo.assessment
    assert assessment.status == AssessmentStatus.PUBLISHED
    kinds = {item.question_version.type for item in assessment.items}
    assert QuestionType.WRITTEN in kinds and kinds & {QuestionType.MCQ_SINGLE, QuestionType.MCQ_MULTI}
    assert (
        first_run(
            session,
            email="x@acme.test",
            password="whatever123",
            org_name="X",
            invitation_ttl=TTL,
            secret_key="k",
        )
        is None
    )
    session.commit()

    # The printed credentials and link work.
    login = post_form(client, "/login", data={"email": "boss@acme.test", "password": result.password})
    assert login.status_code == 303
    link = result.demo.issued.link("http://testserver").removeprefix("http://testserver")
    assert client.get(link).status_code == 200
    assert session.scalar(select(func.count(Invitation.id))) == 1


def test_configured_password_is_used_and_not_echoed(session: Session) -> None:
    result = first_run(
        session,
        email="boss@acme.test",
        password="from the env 123",
        org_name="Acme",
        invitation_ttl=TTL,
        secret_key="k",
    )
    assert result is not None and result.password is None

"""Candidate pages for every state of an invitation link."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import InvitationStatus, QuestionType, utcnow
from tests import factories


def make_link(session: Session):
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, types=(QuestionType.WRITTEN,))
    issued = factories.invitation(session, org, assessment)
    session.commit()
    return issued, f"/i/{issued.token}"


def test_unknown_or_mangled_links_get_a_clear_page(client: TestClient) -> None:
    for path in ("/i/not-a-real-token", "/i/" + "x" * 101):
        response = client.get(path)
        assert response.status_code in (404, 422)
        assert "<html" in response.text and "Traceback" not in response.text
    assert "copied the whole link" in client.get("/i/not-a-real-token").text


def test_expired_and_cancelled_links_explain_themselves(client: TestClient, session: Session) -> None:
    issued, link = make_link(session)
    issued.invitation.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    expired = client.get(link)
    assert expired.status_code == 410 and "expired" in expired.text
    issued.invitation.status = InvitationStatus.CANCELLED
    session.commit()
    cancelled = client.get(link)
    assert cancelled.status_code == 410 and "withdrawn" in cancelled.text
    assert client.post(f"{link}/start").status_code == 410


def test_landing_describes_the_assessment_and_start_is_idempotent(
    client: TestClient, session: Session
) -> None:
    issued, link = make_link(session)
    landing = client.get(link).text
    assert "Ada" in landing and "30 minutes" in landing and "written" in landing
    assert client.post(f"{link}/start").status_code == 303
    assert client.post(f"{link}/start").status_code == 303
    assert issued.invitation.attempt is not None
    assert "Continue" in client.get(link).text


def test_answers_survive_a_reload_and_a_submit_after_the_deadline_keeps_what_was_saved(
    client: TestClient, session: Session
) -> None:
    issued, link = make_link(session)
    client.post(f"{link}/start")
    session.refresh(issued.invitation)
    attempt = issued.invitation.attempt
    item = attempt.invitation.assessment.items[0]
    client.post(f"{link}/attempt", data={f"item_{item.id}": "saved in time", "action": "save"})
    assert "saved in time" in client.get(f"{link}/attempt").text

    attempt.deadline_at = utcnow() - timedelta(hours=1)
    session.commit()
    late = client.post(f"{link}/attempt", data={f"item_{item.id}": "written too late", "action": "save"})
    assert late.headers["location"] == f"{link}/done"
    session.refresh(attempt)
    assert attempt.closed_at is not None and attempt.close_reason.value == "deadline"
    assert attempt.answers[0].value == {"text": "saved in time"}


def test_a_malformed_number_is_refused_alone_and_submit_waits_for_it(
    client: TestClient, session: Session
) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(
        session, org, types=(QuestionType.WRITTEN, QuestionType.NUMERIC)
    )
    issued = factories.invitation(session, org, assessment)
    session.commit()
    link = f"/i/{issued.token}"
    client.post(f"{link}/start")
    items = assessment.items
    numeric = next(i for i in items if i.question_version.type == QuestionType.NUMERIC)
    written = next(i for i in items if i.question_version.type == QuestionType.WRITTEN)
    position = items.index(numeric) + 1
    page = client.get(f"{link}/attempt").text
    assert "{{" not in page  # every numeric prompt shows this candidate's own numbers
    form = {f"item_{written.id}": "kept", f"item_{numeric.id}": "1,5", "action": "submit"}
    refused = client.post(f"{link}/attempt", data=form)
    assert refused.headers["location"] == f"{link}/attempt?refused={position}"
    shown = client.get(refused.headers["location"]).text
    assert f"not the answer to question {position}" in shown and "kept" in shown
    session.refresh(issued.invitation)
    attempt = issued.invitation.attempt
    assert attempt.closed_at is None  # not submitted with an answer missing
    assert [a.value for a in attempt.answers] == [{"text": "kept"}]
    fixed = client.post(f"{link}/attempt", data={**form, f"item_{numeric.id}": "1.5"})
    assert fixed.headers["location"] == f"{link}/done"

"""One use case behind every door: a recruiter's page, a CSV file, the REST API and Greenhouse all invite
through `invitations.service.invite`, so each leaves the same trail (the event, the email when asked, the
audit entry naming who acted and through which door)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.service import authenticate_key, create_api_key
from app.core.config import Settings
from app.integrations.schemas import GreenhouseCandidate
from app.integrations.service import send_test
from app.models import AuditEntry, Candidate, EmailMessage, Event, Invitation, QuestionType, utcnow
from tests import factories
from tests.api.conftest import Api
from tests.forms import post_form, sign_in


def _trail(session: Session, email: str) -> tuple[dict[str, object], int, int]:
    """The invitation's audit detail, and how many events and emails it left."""
    session.expire_all()
    invitation = session.scalars(select(Invitation).join(Candidate).where(Candidate.email == email)).one()
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "invitation.created", AuditEntry.target_id == str(invitation.id)
        )
    ).one()
    events = session.scalars(select(Event).where(Event.type == "invitation.created")).all()
    announced = sum(1 for e in events if e.payload["invitation_id"] == invitation.id)
    emails = session.scalars(select(EmailMessage).where(EmailMessage.to_address == email)).all()
    return entry.detail, announced, len(emails)


def test_every_door_invites_the_same_way(
    client: TestClient, session: Session, api: Api, settings: Settings
) -> None:
    kinds = (QuestionType.MCQ_SINGLE,)
    assessment = factories.published_assessment(session, api.org, types=kinds, per_type=1)
    session.commit()

    sign_in(client, "owner@example.com", factories.PASSWORD)
    page = post_form(
        client,
        f"/assessments/{assessment.id}/invitations",
        {"email": "page@example.com", "send_email": "true"},
    )
    assert page.status_code == 201, page.text
    csv = post_form(
        client,
        f"/assessments/{assessment.id}/invitations/csv",
        {"send_email": "true"},
        files={"file": ("c.csv", b"email\ncsv@example.com\n", "text/csv")},
    )
    assert csv.status_code == 201, csv.text
    made = api.post(
        "/invitations",
        json={"assessment_id": assessment.id, "candidate": {"email": "api@example.com"}, "send_email": True},
    )
    assert made.status_code == 201, made.text
    key = create_api_key(
        session, factories.operator(session, api.org), name="gh", scopes=["invitations:write"]
    )[1]
    send_test(
        session,
        authenticate_key(session, key),
        partner_test_id=str(assessment.id),
        candidate=GreenhouseCandidate(email="gh@example.com", first_name="G", last_name="H"),
        callback_url=None,
        settings=settings,
        partner_key=key,
    )
    session.commit()

    doors = {
        "page@example.com": None,
        "csv@example.com": "csv",
        "api@example.com": None,
        "gh@example.com": "greenhouse",
    }
    for email, via in doors.items():
        detail, announced, emails = _trail(session, email)
        expected = {"email": email, "emailed": True} | ({"via": via} if via else {})
        assert (detail, announced, emails) == (expected, 1, 1), email


def test_a_bulk_request_invites_each_good_row_and_explains_each_bad_one(
    session: Session, api: Api, settings: Settings
) -> None:
    kinds = (QuestionType.MCQ_SINGLE,)
    assessment = factories.published_assessment(session, api.org, types=kinds, per_type=1)
    session.commit()
    rows = [
        {"assessment_id": assessment.id, "candidate": {"email": "one@example.com"}, "send_email": True},
        {"assessment_id": 999999, "candidate": {"email": "two@example.com"}},
        {"assessment_id": assessment.id, "candidate": {"email": "three@example.com"}, "extra_time_pct": 25},
    ]
    answer = api.post("/invitations/bulk", json={"invitations": rows}, headers={"Idempotency-Key": "bulk-1"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["invited"] == 2
    assert [(r["index"], r["status"]) for r in result["data"]] == [(0, 201), (1, 404), (2, 201)]
    assert result["data"][1]["problem"]["detail"] and result["data"][1]["invitation"] is None
    assert result["data"][2]["invitation"]["extra_time_pct"] == 25
    detail, announced, emails = _trail(session, "one@example.com")
    assert (detail["emailed"], announced, emails) == (True, 1, 1), "each row as POST /invitations does"
    again = api.post("/invitations/bulk", json={"invitations": rows}, headers={"Idempotency-Key": "bulk-1"})
    assert again.json() == result and again.headers["idempotent-replayed"] == "true"
    refused = api.post("/invitations/bulk", json={"invitations": []})
    assert refused.status_code == 422


def test_an_unused_invitation_is_extended_over_the_api_and_the_link_stays(
    session: Session, api: Api, settings: Settings
) -> None:
    kinds = (QuestionType.MCQ_SINGLE,)
    assessment = factories.published_assessment(session, api.org, types=kinds, per_type=1)
    session.commit()
    made = api.post(
        "/invitations", json={"assessment_id": assessment.id, "candidate": {"email": "late@example.com"}}
    ).json()
    later = (utcnow() + timedelta(days=30)).isoformat()
    extended = api.post(f"/invitations/{made['id']}/extend", json={"expires_at": later, "extra_time_pct": 50})
    assert extended.status_code == 200, extended.text
    body = extended.json()
    assert body["extra_time_pct"] == 50 and body["expires_at"].startswith(later[:16])
    assert body["candidate_url"] == made["candidate_url"], "the candidate's link is unchanged"
    assert api.post(f"/invitations/{made['id']}/extend", json={}).status_code == 422
    past = (utcnow() - timedelta(days=1)).isoformat()
    assert api.post(f"/invitations/{made['id']}/extend", json={"expires_at": past}).status_code == 422
    session.expire_all()
    trail = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.target_type == "invitations", AuditEntry.target_id == str(made["id"])
        )
    ).all()
    assert "invitation.extended" in trail

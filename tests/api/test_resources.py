"""The API's resources as an integration uses them: assessments, candidates, invitations, results, events."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.api.service import OWNER_SCOPES, SCOPES, create_api_key
from app.candidates import service as candidates
from app.core.errors import Forbidden
from app.models import Candidate, EmailMessage, QuestionType, Role
from app.questions.service import current_versions
from tests import factories
from tests.api.conftest import Api, new_key


def test_assessments_drafts_are_created_changed_and_listed_by_status(api: Api, session: Session) -> None:
    versions = [v.id for v in current_versions(session, types=[QuestionType.MCQ_SINGLE])[:3]]
    made = api.post(
        "/assessments",
        json={
            "title": "BN screen",
            "role": "ml-engineer",
            "duration_minutes": 45,
            "question_version_ids": versions,
        },
    )
    assert made.status_code == 201, made.text
    draft = made.json()
    assert (draft["status"], draft["question_count"], draft["role"]) == ("draft", 3, "ml-engineer")
    changed = api.patch(f"/assessments/{draft['id']}", json={"title": "BN screen v2", "pass_mark_pct": 60})
    assert changed.json()["title"] == "BN screen v2" and changed.json()["pass_mark_pct"] == 60
    cleared = api.patch(f"/assessments/{draft['id']}", json={"pass_mark_pct": None})
    assert cleared.json()["pass_mark_pct"] is None and cleared.json()["title"] == "BN screen v2"
    assert api.patch(f"/assessments/{draft['id']}", json={"title": None}).status_code == 422
    assert api.patch(f"/assessments/{draft['id']}", json={"duration_minutes": 1}).status_code == 422
    published = factories.published_assessment(session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1)
    session.commit()
    frozen = api.patch(f"/assessments/{published.id}", json={"title": "x"})
    assert frozen.status_code == 409
    only_drafts = api.get("/assessments", params={"status": "draft"}).json()["data"]
    assert [a["id"] for a in only_drafts] == [draft["id"]]
    unknown = api.post("/assessments", json={"title": "x", "question_version_ids": [999_999]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "question_version_ids"


def test_candidates_are_created_once_per_email_and_renamed(api: Api) -> None:
    first = api.post("/candidates", json={"email": "Grace@Example.com", "first_name": "Grace"})
    assert first.status_code == 201 and first.json()["email"] == "grace@example.com"
    again = api.post("/candidates", json={"email": "grace@example.com", "last_name": "Hopper"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["last_name"] == "Hopper" and again.json()["first_name"] == "Grace"
    renamed = api.patch(f"/candidates/{first.json()['id']}", json={"first_name": "Amazing Grace"})
    assert renamed.json()["first_name"] == "Amazing Grace"
    found = api.get("/candidates", params={"email": "GRACE@example.com"}).json()["data"]
    assert [c["id"] for c in found] == [first.json()["id"]]
    assert api.post("/candidates", json={"email": "not an address"}).status_code == 422


def test_an_erased_candidate_reads_as_erased_and_cannot_be_renamed(api: Api, session: Session) -> None:
    made = api.post("/candidates", json={"email": "grace@example.com", "first_name": "Grace"}).json()
    assert made["erased_at"] is None
    candidates.erase_candidate(
        session, factories.operator(session, api.org), session.get_one(Candidate, made["id"])
    )
    session.commit()
    read = api.get(f"/candidates/{made['id']}").json()
    assert read["erased_at"] and read["first_name"] == "" and "grace" not in read["email"]
    refused = api.patch(f"/candidates/{made['id']}", json={"first_name": "Grace"})
    assert refused.status_code == 409 and "erased" in refused.json()["detail"]
    assert api.get("/candidates", params={"email": "grace@example.com"}).json()["data"] == []


def test_an_invitation_is_made_emailed_read_resent_and_cancelled(api: Api, session: Session) -> None:
    assessment = factories.published_assessment(
        session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1
    )
    session.commit()
    made = api.post(
        "/invitations",
        json={
            "assessment_id": assessment.id,
            "candidate": {"email": "lin@example.com", "first_name": "Lin", "last_name": "Wu"},
            "expires_at": "2099-01-01T09:00:00+01:00",
            "extra_time_pct": 25,
            "external_ref": "gh-application-42",
        },
    )
    assert made.status_code == 201, made.text
    invitation = made.json()
    assert invitation["status"] == "sent" and invitation["candidate_url"].startswith("http://testserver/i/")
    assert invitation["expires_at"] == "2099-01-01T08:00:00Z" and invitation["extra_time_pct"] == 25
    assert session.query(EmailMessage).filter_by(to_address="lin@example.com").count() == 1
    read = api.get(f"/invitations/{invitation['id']}").json()
    assert read["candidate_url"] == invitation["candidate_url"], "the same link can be read again"
    by_ref = api.get("/invitations", params={"external_ref": "gh-application-42"}).json()["data"]
    assert [i["id"] for i in by_ref] == [invitation["id"]]
    resent = api.post(f"/invitations/{invitation['id']}/resend")
    assert resent.status_code == 200 and resent.json()["candidate_url"] == invitation["candidate_url"]
    assert session.query(EmailMessage).filter_by(to_address="lin@example.com").count() == 2
    cancelled = api.post(f"/invitations/{invitation['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert api.post(f"/invitations/{invitation['id']}/cancel").status_code == 409
    quiet = api.post(
        "/invitations",
        json={"assessment_id": assessment.id, "candidate": {"email": "q@example.com"}, "send_email": False},
    )
    assert quiet.status_code == 201
    assert session.query(EmailMessage).filter_by(to_address="q@example.com").count() == 0
    naive = api.post(
        "/invitations",
        json={
            "assessment_id": assessment.id,
            "candidate": {"email": "n@example.com"},
            "expires_at": "2099-01-01T09:00",
        },
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "expires_at"
    draft = factories.published_assessment(session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1)
    draft.status = draft.status.DRAFT
    session.commit()
    refused = api.post(
        "/invitations", json={"assessment_id": draft.id, "candidate": {"email": "d@example.com"}}
    )
    assert refused.status_code == 409


def test_the_result_of_a_finished_attempt(api: Api, session: Session) -> None:
    assessment = factories.published_assessment(
        session, api.org, types=(QuestionType.MCQ_SINGLE, QuestionType.WRITTEN), per_type=1
    )
    assessment.pass_mark_pct = 50
    mcq, written = assessment.items
    correct = next(o["id"] for o in mcq.question_version.spec["options"] if o["correct"])
    invitation = factories.finished_attempt(
        session,
        api.org,
        assessment,
        "r@example.com",
        {mcq.id: {"choice": correct}, written.id: {"text": "Running statistics at inference."}},
    )
    session.commit()
    result = api.get(f"/invitations/{invitation.id}/result").json()
    assert result["status"] == "needs_review" and result["needs_manual_review"] is True
    assert result["score"] == mcq.points and result["passed"] is None
    assert {s["name"] for s in result["sections"]} == {"Concepts", "Written answers"}
    assert sum(t["pending"] for t in result["topics"]) == 1
    assert result["report_url"] == f"http://testserver/invitations/{invitation.id}"
    listed = api.get("/invitations", params={"status": "completed"}).json()["data"]
    assert [i["id"] for i in listed] == [invitation.id] and listed[0]["completed_at"] is not None


def test_events_catch_up_on_everything_in_order(
    api: Api, session: Session, run_jobs: Callable[[], int]
) -> None:
    assessment = factories.published_assessment(
        session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1
    )
    factories.finished_attempt(session, api.org, assessment, "e@example.com", {})
    session.commit()
    everything = api.get("/events", params={"limit": 100}).json()["data"]
    assert [e["type"] for e in everything][::-1] == [
        "assessment.published",
        "invitation.created",
        "invitation.started",
        "invitation.completed",
        "result.scored",
    ]
    first_page = api.get("/events", params={"limit": 2}).json()
    rest = api.get("/events", params={"starting_after": first_page["data"][-1]["id"]}).json()
    assert [e["id"] for e in first_page["data"] + rest["data"]] == [e["id"] for e in everything]
    only = api.get("/events", params={"type": "result.scored"}).json()["data"]
    assert len(only) == 1 and only[0]["data"]["invitation_id"] > 0
    assert api.get(f"/events/{only[0]['id']}").json() == only[0]
    assert api.get("/events", params={"starting_after": "evt_nope"}).status_code == 404


def test_an_owners_key_exports_and_erases_a_candidate_on_their_request(
    api: Api, client: TestClient, session: Session
) -> None:
    assessment = factories.published_assessment(session, api.org, types=(QuestionType.WRITTEN,), per_type=1)
    invitation = factories.finished_attempt(
        session,
        api.org,
        assessment,
        "subject@example.com",
        {assessment.items[0].id: {"text": "My own words."}},
    )
    session.commit()
    person = invitation.candidate_id
    exported = api.get(f"/candidates/{person}/export")
    assert exported.status_code == 200, exported.text
    document = exported.json()
    assert document["format"] == "assay.candidate-export/1"
    assert document["candidate"]["email"] == "subject@example.com"
    assert "My own words." in exported.text

    wrong = api.post(f"/candidates/{person}/erase", json={"confirm_email": "someone@example.com"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "confirm_email"
    assert api.post(f"/candidates/{person}/erase", json={}).status_code == 422
    erased = api.post(f"/candidates/{person}/erase", json={"confirm_email": "Subject@example.com"})
    assert erased.status_code == 200, erased.text
    assert erased.json()["object"] == "erasure" and erased.json()["answers"] == 1
    assert erased.json()["candidate"]["erased_at"] is not None
    assert "My own words." not in api.get(f"/candidates/{person}/export").text
    again = api.post(
        f"/candidates/{person}/erase", json={"confirm_email": erased.json()["candidate"]["email"]}
    )
    assert again.status_code == 409


def test_personal_data_needs_its_own_scope_which_only_an_owner_can_grant(
    api: Api, other_api: Api, client: TestClient, session: Session
) -> None:
    assessment = factories.published_assessment(
        session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1
    )
    person = factories.finished_attempt(session, api.org, assessment, "p@example.com", {}).candidate_id
    everything_else = [s for s in SCOPES if s not in OWNER_SCOPES]
    reader = Api(client, new_key(session, api.org, everything_else), api.org)
    session.commit()
    assert reader.get(f"/candidates/{person}/export").status_code == 403
    assert (
        reader.post(f"/candidates/{person}/erase", json={"confirm_email": "p@example.com"}).status_code == 403
    )
    assert other_api.get(f"/candidates/{person}/export").status_code == 404

    admin = factories.member(session, api.org, "admin@example.com", Role.ADMIN)
    as_admin = Principal(user=admin, organization=api.org, role=Role.ADMIN, session_id=0)
    with pytest.raises(Forbidden, match="Only an owner"):
        create_api_key(session, as_admin, name="HR", scopes=["candidates:personal_data"])
    _, allowed = create_api_key(session, as_admin, name="HR", scopes=everything_else)
    assert allowed.startswith("ak_live_")

"""The whole path through real HTTP: owner signs in, builds and publishes an assessment from bank MCQs,
invites a candidate; the candidate opens the link, answers and submits; the owner reads the score."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Event, QuestionType, QuestionVersion
from app.questions.service import current_versions
from tests import factories
from tests.forms import post_form


def _sign_in(client: TestClient, email: str, password: str) -> None:
    response = post_form(client, "/login", data={"email": email, "password": password, "next": "/"})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"


def test_owner_builds_invites_candidate_submits_owner_sees_score(
    client: TestClient, session: Session
) -> None:
    factories.owner(session, email="lead@acme.test")
    session.commit()

    assert client.get("/").headers["location"].startswith("/login")
    _sign_in(client, "lead@acme.test", factories.PASSWORD)
    assert "Assessments" in client.get("/").text

    # Build from the bank's single-answer MCQs: an empty draft, then the bank browser, filtered by kind.
    created = post_form(client, "/assessments", {"title": "ML engineer screen", "duration_minutes": "30"})
    assert created.status_code == 303
    assessment_url = created.headers["location"].removesuffix("/edit")
    bank = _every_page(client, f"{assessment_url}/bank?type=mcq_single")
    mcqs = current_versions(session, types=[QuestionType.MCQ_SINGLE])
    assert len(mcqs) >= 3
    for version in mcqs:
        assert f'name="question_version_id" value="{version.id}"' in bank
        added = post_form(client, f"{assessment_url}/items", {"question_version_id": version.id})
        assert added.status_code == 303, added.text
    assert post_form(client, f"{assessment_url}/publish").status_code == 303

    invited = post_form(
        client,
        f"{assessment_url}/invitations",
        {"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"},
    )
    assert invited.status_code == 201
    link = re.search(r'value="http://testserver(/i/[A-Za-z0-9_-]{40,})"', invited.text)
    assert link, "the invitation link is shown to the recruiter"
    candidate_path = link.group(1)

    # The candidate has no account: a separate browser, only the link.
    candidate = TestClient(client.app, follow_redirects=False)
    landing = candidate.get(candidate_path)
    assert landing.status_code == 200
    assert "ML engineer screen" in landing.text and "30 minutes" in landing.text
    assert candidate.post(f"{candidate_path}/start").headers["location"] == f"{candidate_path}/attempt"
    attempt_page = candidate.get(f"{candidate_path}/attempt").text
    item_ids = [int(i) for i in dict.fromkeys(re.findall(r'name="item_(\d+)"', attempt_page))]
    assert len(item_ids) == len(mcqs)

    # Answer all correctly but the last one; save first, then submit.
    answers: dict[str, str] = {}
    for item_id, version in zip(item_ids, mcqs, strict=True):
        spec = version.spec
        correct = next(o["id"] for o in spec["options"] if o.get("correct"))
        wrong = next(o["id"] for o in spec["options"] if not o.get("correct"))
        answers[f"item_{item_id}"] = correct if version is not mcqs[-1] else wrong
    saved = candidate.post(f"{candidate_path}/attempt", data={**answers, "action": "save"})
    assert saved.headers["location"].endswith("saved=1")
    assert "checked" in candidate.get(f"{candidate_path}/attempt").text
    done = candidate.post(f"{candidate_path}/attempt", data={**answers, "action": "submit"})
    assert done.headers["location"] == f"{candidate_path}/done"
    assert "Thank you" in candidate.get(f"{candidate_path}/done").text

    # The link cannot be used again to change anything.
    assert candidate.get(f"{candidate_path}/attempt").headers["location"] == f"{candidate_path}/done"

    # The recruiter sees the score.
    points = [float(v.points) for v in mcqs]
    expected, maximum = sum(points[:-1]), sum(points)
    listing = client.get(assessment_url).text
    text = re.sub(r"<[^>]+>", "", listing)
    assert "completed" in text and f"{expected:g} / {maximum:g}" in text
    result_link = re.search(r'href="(/invitations/\d+)"', listing)
    assert result_link
    result = client.get(result_link.group(1)).text
    assert f'<span data-testid="score">{expected:g} / {maximum:g}</span>' in result

    # The completion was recorded in the outbox, in the same transaction.
    types = set(session.scalars(select(Event.type)))
    assert {"invitation.started", "invitation.completed"} <= types


def test_other_organization_cannot_open_an_assessment_or_result(client: TestClient, session: Session) -> None:
    _, acme = factories.owner(session, email="a@acme.test", org="Acme")
    factories.owner(session, email="b@globex.test", org="Globex")
    assessment = factories.published_assessment(session, acme, types=(QuestionType.MCQ_SINGLE,))
    issued = factories.invitation(session, acme, assessment)
    session.commit()
    _sign_in(client, "b@globex.test", factories.PASSWORD)
    assert client.get(f"/assessments/{assessment.id}").status_code == 404
    assert client.get(f"/invitations/{issued.invitation.id}").status_code == 404
    assert post_form(client, f"/assessments/{assessment.id}/publish").status_code == 404
    assert "Screen" not in client.get("/").text


def test_every_bank_question_is_listed_in_the_bank_browser(client: TestClient, session: Session) -> None:
    factories.owner(session)
    session.commit()
    _sign_in(client, "owner@acme.test", factories.PASSWORD)
    pages = _every_page(client, "/bank")
    for version in session.scalars(select(QuestionVersion)):
        assert str(escape(version.title)) in pages, version.title


def _every_page(client: TestClient, url: str) -> str:
    """The bank browser's pages, followed by their Next links, as one text."""
    texts = []
    while url:
        texts.append(client.get(url).text)
        found = re.search(r'<a class="button" href="([^"]+)" rel="next">', texts[-1])
        url = html.unescape(found.group(1)) if found else ""
        assert len(texts) < 100
    return "\n".join(texts)

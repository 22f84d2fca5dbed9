"""What a recruiter sees of similar code: the result page names the closest submission and links the
side-by-side view, which highlights the matching code (hidden characters still marked); the assessment's
groups; the team's threshold; a report shared outside the team names no other candidate; and the API's
result carries the same figures."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Invitation, Organization, SimilarityCheck, SimilarityPair
from tests import factories
from tests.api.conftest import new_key
from tests.forms import post_form, sign_in
from tests.similarity.population import INDEPENDENT, TASK, disguised


def _scene(session: Session) -> tuple[Organization, Invitation, Invitation, Invitation, SimilarityPair]:
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org, task=TASK)
    # The copy hides a right-to-left override in a comment: the side-by-side view must still show it.
    copied = disguised(INDEPENDENT["staged"], 3).replace("# my solution", "# my solution \u202e")
    ids = [
        factories.checked_code(session, org, assessment, "ada@example.com", INDEPENDENT["staged"]),
        factories.checked_code(session, org, assessment, "bob@example.com", copied),
        factories.checked_code(session, org, assessment, "cy@example.com", INDEPENDENT["loops"]),
    ]
    checks = [session.get(SimilarityCheck, i) for i in ids]
    ada, bob, cy = (c.submission.attempt.invitation for c in checks if c is not None)
    pair = session.scalars(
        select(SimilarityPair).where(
            SimilarityPair.first_check_id == ids[0], SimilarityPair.second_check_id == ids[1]
        )
    ).one()
    session.commit()
    return org, ada, bob, cy, pair


def test_the_result_page_names_the_closest_submission_and_the_pair_shows_what_matches(
    client: TestClient, session: Session
) -> None:
    _, ada, bob, cy, pair = _scene(session)
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    report = client.get(f"/invitations/{bob.id}").text
    assert "Similar code" in report and "never a verdict" in report
    closest = re.search(
        r"<strong>(\d+) %</strong> of this code is found in <a href=\"/invitations/(\d+)\">", report
    )
    assert closest and int(closest.group(1)) >= 80 and int(closest.group(2)) == ada.id
    assert f'href="/similarity/{pair.id}"' in report and "for review" in report
    assert "not alike any other submission" in client.get(f"/invitations/{cy.id}").text

    side = client.get(f"/similarity/{pair.id}").text
    assert side.count('<mark class="match">') >= 2
    assert f'href="/invitations/{ada.id}#item-' in side and f'href="/invitations/{bob.id}#item-' in side
    assert 'title="Right-To-Left Override"' in side and "\u202e" not in side

    groups = client.get(f"/assessments/{ada.assessment_id}/similarity").text
    assert "Group 1: 2 submissions" in groups and "Group 2" not in groups
    assert f'href="/similarity/{pair.id}"' in groups
    assert "Similar code" in client.get(f"/assessments/{ada.assessment_id}").text

    link = post_form(client, f"/invitations/{bob.id}/report_link", {"days": "3"})
    shared = re.search(r'value="http://testserver(/reports/[\w.-]+)"', link.text)
    assert shared
    client.cookies.clear()
    opened = client.get(shared.group(1)).text
    assert "Similar code" not in opened and f"/invitations/{ada.id}" not in opened


def test_another_organization_cannot_open_a_pair(client: TestClient, session: Session) -> None:
    *_, pair = _scene(session)
    factories.owner(session, email="rival@other.test", org="Other")
    session.commit()
    sign_in(client, "rival@other.test", factories.PASSWORD)
    assert client.get(f"/similarity/{pair.id}").status_code == 404


def test_the_team_sets_its_threshold_within_bounds(client: TestClient, session: Session) -> None:
    org, *_ = _scene(session)
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    for refused in ("29", "101", "abc", ""):
        answer = post_form(client, "/team/similarity-threshold", {"similarity_threshold": refused})
        assert answer.status_code == 422 and "from 30 to 100" in answer.text
    assert post_form(client, "/team/similarity-threshold", {"similarity_threshold": "95"}).status_code == 303
    session.refresh(org)
    assert org.similarity_threshold == 95
    assert "at least <strong>95 %</strong>" in client.get("/team").text


def test_the_api_result_carries_the_similarity(client: TestClient, session: Session) -> None:
    org, ada, bob, cy, _ = _scene(session)
    key = new_key(session, org)
    session.commit()
    result = client.get(
        f"/api/v1/invitations/{bob.id}/result", headers={"Authorization": f"Bearer {key}"}
    ).json()
    [found] = result["similarity"]
    assert found["status"] == "checked" and found["flagged"] and found["threshold"] == 70
    assert found["matches"][0]["invitation_id"] == ada.id and found["matches"][0]["similarity"] >= 80
    alone = client.get(
        f"/api/v1/invitations/{cy.id}/result", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert alone["similarity"][0] == {
        "item_id": found["item_id"],
        "status": "checked",
        "flagged": False,
        "threshold": 70,
        "matches": [],
    }

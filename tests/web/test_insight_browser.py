"""What a hiring team decides with, across candidates, in a real browser: similar code (the report's
note, the side-by-side view, the assessment's groups), the misconceptions of a round and the item
response model with its charts; axe-core on each page. Screenshots for the README's tour."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.models import SimilarityCheck
from app.worker import load_actors
from tests import factories
from tests.similarity.population import INDEPENDENT, TASK, disguised
from tests.web.conftest import LiveServer, check_accessibility, screenshot
from tests.web.test_recruiter_browser import _sign_in

pytestmark = pytest.mark.slow


def test_similar_code_is_shown_for_review_side_by_side(page: Page, live_server: LiveServer) -> None:
    load_actors()  # the candidates' hand-ins queue gradings from this process
    email = f"owner-{id(page)}-sim@example.com"
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=email, org="Acme ML")
        assessment = factories.coding_assessment(session, org, task=TASK)
        people = [
            ("Grace Hopper", INDEPENDENT["staged"]),
            ("Alan Turing", disguised(INDEPENDENT["staged"], 2)),
            ("Edsger Dijkstra", INDEPENDENT["loops"]),
        ]
        invitations = []
        for name, source in people:
            check = session.get(
                SimilarityCheck,
                factories.checked_code(session, org, assessment, f"{name[:4]}@example.com", source),
            )
            assert check is not None and check.submission is not None
            invitation = check.submission.attempt.invitation
            invitation.candidate.first_name, invitation.candidate.last_name = name.split()
            invitations.append(invitation)
        copier, assessment_id = invitations[1].id, assessment.id
        session.commit()
    _sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/invitations/{copier}")
    section = page.locator("section", has=page.get_by_role("heading", name="Similar code"))
    expect(section).to_contain_text("of this code is found in")
    expect(section).to_contain_text("never a verdict")
    expect(section).to_contain_text("Grace Hopper")
    section.scroll_into_view_if_needed()
    screenshot(page, "similar-code-report", folder="recruiter")
    page.get_by_role("link", name="Compare side by side").first.click()
    expect(page.get_by_role("heading", name="Similar code, side by side")).to_be_visible()
    assert page.locator("mark.match").count() >= 2
    check_accessibility(page)
    screenshot(page, "similar-code-side-by-side", folder="recruiter", full_page=True)
    page.goto(f"{live_server.base}/assessments/{assessment_id}/similarity")
    expect(page.get_by_role("heading", name="Group 1: 2 submissions")).to_be_visible()
    check_accessibility(page)


def test_the_round_misconceptions_and_the_item_response_model(page: Page, live_server: LiveServer) -> None:
    email = f"owner-{id(page)}-irt@example.com"
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=email, org="Acme ML")
        assessment, _ = factories.simulated_round(session, org, candidates=45, seed=4)
        assessment_id = assessment.id
        session.commit()
    _sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{assessment_id}/stats")
    model = page.locator("section", has=page.get_by_role("heading", name="Item response model (2PL)"))
    expect(model).to_contain_text("Difficulty b")
    expect(model.locator("figure svg")).to_have_count(2)  # the item curves and the abilities
    check_accessibility(page)
    page.get_by_role("heading", name="Item response model (2PL)").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -16)")
    screenshot(page, "item-response-model", folder="recruiter")

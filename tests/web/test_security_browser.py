"""Hostile text everywhere a candidate or a teammate can type it (names, answers, code, titles), shown on
every page that displays it, in a real browser: nothing runs. The page fixture also fails on anything the
Content-Security-Policy had to refuse, so a payload that reached the page as markup fails here even though
the policy stopped it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from playwright.sync_api import Dialog, Page, expect

from app.invitations.service import create_invitation
from app.models import QuestionType
from tests import factories
from tests.web.conftest import LiveServer
from tests.web.test_recruiter_browser import _sign_in

pytestmark = pytest.mark.slow

# Each sets a flag if it ever runs; together: a script element, event handlers on HTML and SVG, a
# `javascript:` link (raw and as Markdown), and an attribute break-out.
PAYLOADS = (
    "<script>window.pwned='script'</script>",
    "<img src=x onerror=\"window.pwned='img'\">",
    "<svg onload=\"window.pwned='svg'\"><script>window.pwned='svg-script'</script></svg>",
    "[read me](javascript:window.pwned='markdown-link')",
    "<a href=\"javascript:window.pwned='link'\">link</a>",
    '"><iframe src="javascript:window.pwned=\'iframe\'"></iframe>',
)
HOSTILE = " ".join(PAYLOADS)


def _assert_inert(page: Page, fired: list[str]) -> None:
    for link in page.locator("a").all():
        href = link.get_attribute("href") or ""
        assert not href.strip().lower().startswith("javascript:"), f"a live javascript: link: {href}"
    page.locator("body").click(position={"x": 5, "y": 5})
    assert page.evaluate("window.pwned") is None
    assert fired == [], f"dialogs opened: {fired}"


def test_hostile_text_renders_inert_on_every_page_that_shows_it(page: Page, live_server: LiveServer) -> None:
    email = f"owner-{time.monotonic_ns()}@example.com"
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=email, org=f"Acme {PAYLOADS[1]}")
        assessment = factories.published_assessment(
            session, org, types=(QuestionType.WRITTEN, QuestionType.CODING), per_type=1
        )
        assessment.title = f"Screen {PAYLOADS[0]}"
        written, coding = assessment.items
        issued = create_invitation(
            session,
            org,
            assessment,
            email="hostile@example.com",
            first_name=PAYLOADS[1],
            last_name=PAYLOADS[5],
            ttl=timedelta(days=1),
            secret_key=factories.SECRET_KEY,
        )
        answers = {written.id: {"text": HOSTILE}, coding.id: {"source": HOSTILE}}
        factories.finish(session, issued.invitation, answers)
        session.commit()
        assessment_id, invitation_id = assessment.id, issued.invitation.id

    fired: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        fired.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    _sign_in(page, live_server, email)
    for path in (
        "/",
        f"/assessments/{assessment_id}",
        f"/assessments/{assessment_id}/compare",
        f"/assessments/{assessment_id}/stats",
        f"/invitations/{invitation_id}",
    ):
        page.goto(f"{live_server.base}{path}")
        _assert_inert(page, fired)
    # The payloads are shown as the text they are, not dropped.
    expect(page.get_by_text("window.pwned='script'").first).to_be_visible()

    page.goto(f"{live_server.base}/i/{issued.token}")
    _assert_inert(page, fired)


def test_the_api_docs_page_runs_under_the_policy(page: Page, live_server: LiveServer) -> None:
    """Swagger UI starts from an inline script that carries the request's nonce; nothing else is inline."""
    response = page.goto(f"{live_server.base}/api/v1/docs")
    assert response is not None
    policy = response.headers["content-security-policy"]
    # Browsers hide the nonce attribute from the DOM once parsed; the property still holds it.
    nonce = page.locator("script:not([src])").evaluate("script => script.nonce")
    assert nonce and f"'nonce-{nonce}'" in policy
    expect(page.get_by_role("heading", name="Assay API")).to_be_visible()
    expect(page.get_by_text("/api/v1/assessments").first).to_be_visible()

"""The recruiter's workspace in a real browser (Debian's Chromium through Playwright) against a real server:
building an assessment from a proposal and the bank, inviting by CSV, scoring a written answer, exporting
the results; axe-core on each page. Screenshots for the README go to docs/screenshots/recruiter/."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.web.conftest import LiveServer, check_accessibility, screenshot

pytestmark = pytest.mark.slow


def _sign_in(page: Page, server: LiveServer, email: str) -> None:
    page.goto(f"{server.base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Assessments")).to_be_visible()


def test_building_an_assessment_from_a_proposal_and_the_bank(page: Page, live_server: LiveServer) -> None:
    page.on("dialog", lambda dialog: dialog.accept())  # "remove …?", "publish …?": yes
    email, _ = live_server.recruiter()
    _sign_in(page, live_server, email)
    page.get_by_role("link", name="New assessment").click()
    check_accessibility(page)
    page.get_by_label("Role").first.select_option("ml-engineer")
    page.get_by_label("Duration (minutes)").first.fill("45")
    page.get_by_role("button", name="Propose an assessment").click()
    expect(page.get_by_role("status").first).to_contain_text("Here is a proposal")
    expect(page.get_by_role("heading", name="Coding")).to_have_count(0)  # section titles are inputs
    assert page.locator("input.section-title").count() >= 3
    check_accessibility(page)
    screenshot(page, "01-builder", full_page=True, folder="recruiter")

    page.get_by_label("Pass mark (%)").fill("60")
    page.get_by_label("Candidates see their score when they finish").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_label("Pass mark (%)")).to_have_value("60")
    expect(page.get_by_label("Candidates see their score when they finish")).to_be_checked()

    # Reorder and remove within the first section.
    titles = page.locator("table.items").first.locator("tbody tr td:nth-child(3) a")
    first, second = titles.nth(0).inner_text(), titles.nth(1).inner_text()
    page.get_by_role("button", name=f"Move {first} down").click()
    expect(titles.nth(0)).to_have_text(second)
    expect(titles.nth(1)).to_have_text(first)
    page.get_by_role("button", name=f"Remove {first}").click()
    expect(page.get_by_role("link", name=first, exact=True)).to_have_count(0)

    # Add a written question found by searching the bank, after previewing it.
    page.get_by_role("link", name="Add questions from the bank").click()
    page.get_by_label("Kind").select_option("written")
    page.get_by_label("Search", exact=True).fill("running")
    expect(page).to_have_url(re.compile(r"q=running"))  # filtered as typed
    rows = page.locator("tbody tr")
    expect(rows.first).to_be_visible()
    check_accessibility(page)
    candidate_title = rows.filter(has=page.get_by_role("button")).first.locator("td a").inner_text()
    page.get_by_role("link", name=candidate_title, exact=True).click()
    expect(page.get_by_text("Preview as a candidate sees it")).to_be_visible()
    expect(page.get_by_role("heading", name="Rubric (not shown to candidates)")).to_be_visible()
    page.go_back()
    page.get_by_role("button", name=f"Add {candidate_title}").click()
    expect(page.get_by_role("button", name=f"Add {candidate_title}")).to_have_count(0)
    page.get_by_role("link", name=re.compile("Back to")).click()
    expect(page.get_by_role("link", name=candidate_title, exact=True)).to_be_visible()

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").first).to_contain_text("Published")
    expect(page.get_by_role("heading", name="Invite a candidate")).to_be_visible()
    # Published questions are frozen: editing means a new version.
    page.get_by_role("button", name="Edit as new version").click()
    expect(page.get_by_role("status").first).to_contain_text("new draft version")
    expect(page.get_by_role("heading", level=1)).to_contain_text("v2")


def test_inviting_candidates_from_a_csv_file(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    email, assessment_id = live_server.recruiter(with_results=True)
    _sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{assessment_id}")
    broken = tmp_path / "broken.csv"
    broken.write_text("email,first_name,last_name\nada@example.com,Ada,Lovelace\nnot-an-email,Bob,\n")
    page.get_by_label("CSV file", exact=True).set_input_files(str(broken))
    page.get_by_role("button", name="Upload and invite").click()
    expect(page.get_by_role("alert").first).to_contain_text("Nobody was invited")
    report = page.get_by_role("table").first
    expect(report).to_contain_text("not-an-email")
    expect(report.locator("tr.row-error")).to_have_count(1)

    fixed = tmp_path / "fixed.csv"
    fixed.write_text(
        "email,first_name,last_name,extra_time_pct\nada@example.com,Ada,Lovelace,25\nbob@example.com,Bob,Stone,\n"
    )
    page.get_by_label("CSV file", exact=True).set_input_files(str(fixed))
    page.get_by_role("button", name="Upload and invite").click()
    expect(page.get_by_role("heading", name="Invited 2 candidates from the file")).to_be_visible()
    candidates = page.locator("#candidates")
    expect(candidates).to_contain_text("ada@example.com")
    expect(candidates).to_contain_text("bob@example.com")
    check_accessibility(page)
    screenshot(page, "02-overview", full_page=True, folder="recruiter")
    page.goto(f"{live_server.base}/outbox")
    expect(page.get_by_role("link", name=re.compile("invites you to take"))).to_have_count(2)


def test_scoring_a_written_answer_updates_the_total(page: Page, live_server: LiveServer) -> None:
    email, assessment_id = live_server.recruiter(with_results=True)
    _sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{assessment_id}?review=needed")
    page.get_by_role("link", name=re.compile("Ada Byron")).first.click()
    expect(page.get_by_role("heading", name="Score")).to_be_visible()
    before = page.get_by_test_id("score").inner_text()
    provisional = page.get_by_text(re.compile(r"written answers? needs? review"))
    expect(provisional).to_be_visible()
    check_accessibility(page)
    screenshot(page, "03-report", full_page=True, folder="recruiter")

    answer = page.locator("article.answer").filter(has=page.locator("form"))
    form = answer.first.locator("form")
    inputs = form.locator("input[type=number]")
    for n in range(inputs.count()):
        inputs.nth(n).fill(inputs.nth(n).get_attribute("max") or "0")
    form.get_by_label("Comment").fill("Names running statistics correctly.")
    form.get_by_role("button", name="Save score").click()
    expect(page.get_by_role("status").first).to_contain_text("Score saved")
    after = page.get_by_test_id("score").inner_text()
    earned_before, _ = (float(x) for x in before.split(" / "))
    earned_after, _ = (float(x) for x in after.split(" / "))
    assert earned_after > earned_before
    expect(provisional).to_have_count(0)
    expect(page.get_by_role("button", name="Update score")).to_be_visible()


def test_exporting_the_results_as_csv(page: Page, live_server: LiveServer) -> None:
    email, assessment_id = live_server.recruiter(with_results=True)
    _sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{assessment_id}")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["email"] for r in rows} == {"grace@example.com", "alan@example.com"}
    assert all(r["status"] == "completed" for r in rows)
    assert any(key.startswith("topic_") for key in rows[0])


# Code that reads differently from how it runs: a bidi override inside a string, a zero-width space in a
# name, and an import pushed far past the right edge of the line.
TROJAN_SOURCE = (
    "import numpy as np\n\n"
    "def batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n"
    '    access = "user\u202e \u2066# admin only\u2069 \u2066"\n'
    "    mean\u200b = x.mean(axis=0)" + " " * 240 + "; import os\n"
    "    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta\n"
)


def test_a_reviewer_sees_hidden_characters_and_long_lines_in_candidate_code(
    page: Page, live_server: LiveServer
) -> None:
    email = f"owner-{id(page)}-review@example.com"
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=email, org="Review Co")
        assessment = factories.coding_assessment(session, org)
        coding = next(i for i in assessment.items if i.question_version.type.value == "coding")
        invitation = factories.finished_attempt(
            session, org, assessment, "mallory@example.com", {coding.id: {"source": TROJAN_SOURCE}}
        )
        session.commit()
        invitation_id = invitation.id
    _sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/invitations/{invitation_id}")
    warning = page.locator(".code-warning")
    expect(warning).to_contain_text("5 invisible or direction-changing characters")
    expect(warning).to_contain_text("U+202E Right-To-Left Override on line 4")
    expect(warning).to_contain_text("line 5 is unusually long")
    code = page.locator("pre.code.review")
    expect(code).to_be_visible()
    text = code.inner_text()
    assert "\u202e" not in text and "\u2066" not in text and "\u200b" not in text
    assert text.count("U+2066") == 2 and "U+200B" in text and "; import os" in text
    overflow = code.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 1, f"the code runs {overflow} px past the right edge"
    check_accessibility(page)
    screenshot(page, "05-code-review", full_page=True, folder="recruiter")

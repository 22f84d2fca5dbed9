"""The candidate's attempt in a real browser (Debian's Chromium through Playwright) against a real server with
its embedded worker: the whole flow by keyboard, reloads, lost connections, two tabs, a deadline passing
with the page closed, the code editor with sample runs and submissions, and axe-core on every page.

Screenshots of the key pages are written to docs/screenshots/candidate/ as the tests go."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from app.invitations.service import invitation_for_token
from app.models import CloseReason, utcnow
from tests.web.conftest import LiveServer, check_accessibility, screenshot

pytestmark = pytest.mark.slow


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def _answers(server: LiveServer, link: str) -> dict[int, dict[str, Any]]:
    """What the database holds for the attempt behind the link: item id → saved value."""
    with server.sessions() as session:
        attempt = invitation_for_token(session, _token(link)).attempt
        assert attempt is not None
        return {answer.item_id: answer.value for answer in attempt.answers if answer.revision > 0}


def _start(page: Page, link: str) -> None:
    page.goto(link)
    page.get_by_label("I will work on my own").check()
    page.get_by_role("button", name="Start the assessment").click()
    expect(page.locator("#timer")).to_contain_text("Time left")


def _item_id(page: Page, position: int) -> int:
    return int(page.locator(f"#q{position}").get_attribute("data-item-id") or 0)


def _wait_saved(page: Page) -> None:
    expect(page.locator("#save-state")).to_contain_text("All changes saved", timeout=10_000)


def _set_deadline(server: LiveServer, link: str, from_now: timedelta) -> None:
    with server.sessions() as session:
        attempt = invitation_for_token(session, _token(link)).attempt
        assert attempt is not None
        attempt.deadline_at = utcnow() + from_now
        session.commit()


def _no_horizontal_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    widest = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5).map(el => el.tagName + '.' + el.className)"""
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px: {widest}"


def test_the_whole_flow_by_keyboard_with_no_accessibility_violations(
    live_server: LiveServer, page: Page
) -> None:
    link = live_server.invite()
    page.goto(link)
    # This test has no coding task: the landing page neither mentions one nor offers the code editor's
    # practice (tests/web/test_first_round_browser.py practises on one that has).
    expect(page.get_by_role("heading", name="Rules")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Coding tasks")
    expect(page.get_by_role("heading", name="Practice before the clock starts")).to_have_count(0)
    check_accessibility(page)
    screenshot(page, "01-landing", full_page=True)

    consent = page.get_by_label("I will work on my own")
    consent.focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Start the assessment").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#timer")).to_contain_text("Time left")
    check_accessibility(page)

    # One question at a time; arrows choose among the options, Enter on "Next" moves on.
    first = page.locator("section.question:not([hidden])")
    expect(first).to_have_attribute("data-type", "mcq_single")
    first.locator("input[type=radio]").first.focus()
    page.keyboard.press("ArrowDown")
    answers: dict[int, Any] = {
        int(first.get_attribute("data-item-id") or 0): {
            "choice": first.locator("input[type=radio]:checked").get_attribute("value")
        }
    }
    _wait_saved(page)
    screenshot(page, "02-question")
    first.get_by_role("button", name="Flag for review").focus()
    page.keyboard.press("Enter")
    expect(first.get_by_role("button", name="Flag for review")).to_have_attribute("aria-pressed", "true")
    first.get_by_role("button", name="Next").focus()
    page.keyboard.press("Enter")

    while True:
        shown = page.locator("section.question:not([hidden])")
        kind = shown.get_attribute("data-type")
        item_id = int(shown.get_attribute("data-item-id") or 0)
        if kind == "mcq_single":
            shown.locator("input[type=radio]").last.focus()
            page.keyboard.press("Space")
            answers[item_id] = {"choice": shown.locator("input[type=radio]:checked").get_attribute("value")}
        elif kind == "numeric":
            shown.locator("input[inputmode=decimal]").fill("-1.25")
            answers[item_id] = {"number": "-1.25"}
        elif kind == "written":
            text = "Use the **running** statistics at inference, so one example's output does not depend on"
            text += " the batch."
            shown.locator("textarea").fill(text)
            expect(shown.locator(".word-count")).to_contain_text("16 / ")
            shown.get_by_role("button", name="Preview").click()
            expect(shown.locator(".markdown-preview strong")).to_have_text("running")
            check_accessibility(page)
            screenshot(page, "03-written-preview")
            shown.get_by_role("button", name="Write").click()
            answers[item_id] = {"text": text}
        _wait_saved(page)
        next_button = shown.locator("button.next")
        if next_button.text_content() == "Review and finish":
            next_button.click()
            break
        next_button.click()

    review = page.locator("#review")
    expect(review).to_be_visible()
    first_title = page.locator("#q1").get_attribute("data-title")
    expect(review).to_contain_text(
        f"Question 1, {first_title}: answered, flagged for review"
    )  # with its title
    expect(page.locator("#progress-summary")).to_contain_text("6 of 6 answered, 1 flagged for review")
    check_accessibility(page)
    screenshot(page, "04-review", full_page=True)
    page.get_by_role("button", name="Submit assessment").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "05-done")

    assert _answers(live_server, link) == answers


def _open(page: Page, kind: str) -> Any:
    """Go to the first question of this kind through the overview and return its section."""
    target = page.locator(f"section.question[data-type={kind}]").first
    link = page.locator(f".overview-link[href='#{target.get_attribute('id')}']")
    if not link.is_visible():  # on a phone the overview is a drawer
        page.get_by_role("button", name="Questions").click()
    link.click()
    expect(target).to_be_visible()
    return target


def test_a_reload_keeps_the_answers_and_the_timer(live_server: LiveServer, page: Page) -> None:
    link = live_server.invite()
    _start(page, link)
    first = page.locator("section.question:not([hidden])")
    first.locator("input[type=radio]").nth(1).check()
    written = _open(page, "written")
    written.locator("textarea").fill("Saved before the reload.")
    _wait_saved(page)
    before = int(page.locator("#timer").get_attribute("data-remaining") or 0)
    page.reload()
    expect(page.locator("#timer")).to_contain_text("Time left")
    after = int(page.locator("#timer").get_attribute("data-remaining") or 0)
    assert 0 <= before - after <= 5, (before, after)
    expect(page.locator("section.question[data-type=written] textarea").first).to_have_value(
        "Saved before the reload."
    )
    expect(page.locator("section.question").first.locator("input[type=radio]").nth(1)).to_be_checked()
    # The location keeps the question that was open.
    expect(page.locator("section.question[data-type=written]").first).to_be_visible()


def test_work_done_offline_is_saved_when_the_connection_returns(live_server: LiveServer, page: Page) -> None:
    link = live_server.invite()
    _start(page, link)
    written = _open(page, "written")
    page.context.set_offline(True)
    written.locator("textarea").fill("Typed while the network was down.")
    expect(page.locator("#save-state")).to_contain_text("Offline", timeout=10_000)
    assert "Typed while the network was down." not in str(_answers(live_server, link))
    page.context.set_offline(False)
    _wait_saved(page)
    item_id = int(written.get_attribute("data-item-id") or 0)
    assert _answers(live_server, link)[item_id] == {"text": "Typed while the network was down."}


def test_two_tabs_of_one_attempt_show_each_others_saved_work(
    live_server: LiveServer, browser: Browser
) -> None:
    link = live_server.invite()
    context = browser.new_context()
    first, second = context.new_page(), context.new_page()
    _start(first, link)
    second.goto(f"{link}/attempt")
    expect(second.locator("#timer")).to_contain_text("Time left")

    written = _open(first, "written")
    written.locator("textarea").fill("Written in the first tab.")
    _wait_saved(first)
    second.bring_to_front()
    second.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(second.locator("section.question[data-type=written] textarea").first).to_have_value(
        "Written in the first tab."
    )
    other = _open(second, "written")
    other.locator("textarea").fill("Then changed in the second tab.")
    _wait_saved(second)
    first.bring_to_front()
    first.locator("body").click(position={"x": 5, "y": 5})  # focus leaves the text box being compared
    first.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(written.locator("textarea")).to_have_value("Then changed in the second tab.")
    item_id = int(written.get_attribute("data-item-id") or 0)
    assert _answers(live_server, link)[item_id] == {"text": "Then changed in the second tab."}
    context.close()


def test_the_deadline_closes_the_attempt_with_the_page_closed(live_server: LiveServer, page: Page) -> None:
    link = live_server.invite()
    _start(page, link)
    written = _open(page, "written")
    written.locator("textarea").fill("My last saved words.")
    _wait_saved(page)
    page.close()
    _set_deadline(live_server, link, timedelta(seconds=-1))
    for _ in range(40):  # the sweep runs every half second; saves are accepted for a 2 s grace
        with live_server.sessions() as session:
            attempt = invitation_for_token(session, _token(link)).attempt
            assert attempt is not None
            if attempt.closed_at is not None:
                assert attempt.close_reason == CloseReason.DEADLINE
                break
        time.sleep(0.25)
    else:
        pytest.fail("the attempt was not closed at its deadline")
    assert "My last saved words." in str(_answers(live_server, link))


def test_the_timer_warns_then_submits_at_the_deadline(live_server: LiveServer, page: Page) -> None:
    link = live_server.invite()
    _start(page, link)
    _set_deadline(live_server, link, timedelta(seconds=65))
    page.reload()
    expect(page.locator("#announcer")).to_contain_text("5 minutes left")
    expect(page.locator("#timer")).to_have_class(re.compile("warning"))
    _set_deadline(live_server, link, timedelta(seconds=3))
    page.reload()
    written = _open(page, "written")
    written.locator("textarea").fill("Typed in the last seconds.")
    expect(page.get_by_role("heading", name="Time is up")).to_be_visible(timeout=15_000)
    assert "Typed in the last seconds." in str(_answers(live_server, link))
    page.goto(f"{link}/attempt")
    expect(page.get_by_role("heading", name="Time is up")).to_be_visible()


UNBIASED = """import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    var = x.var(axis=0, ddof=1)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta
"""


def test_the_editor_runs_sample_tests_and_submits_code(live_server: LiveServer, page: Page) -> None:
    link = live_server.invite(kind="coding", show_score=True, sample_run_diagnoses=True)  # a practice test
    _start(page, link)
    coding = _open(page, "coding")
    editor = coding.get_by_role("textbox", name=re.compile("Code for question"))
    expect(editor).to_contain_text("def batchnorm_forward_train")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("# typed in the editor\n")
    # The rest is inserted as a paste would be, so the editor's auto-indent does not double the indentation.
    page.keyboard.insert_text(UNBIASED)
    expect(editor).to_contain_text("# typed in the editor")
    expect(editor).to_contain_text("ddof=1")
    _wait_saved(page)

    coding.get_by_role("button", name="Run sample tests").click()
    output = coding.locator(".run-output")
    expect(output.locator(".run-summary")).to_contain_text("Sample tests: 0 of", timeout=30_000)
    expect(output).to_contain_text("What the grader noticed")
    expect(output).to_contain_text("N - 1")
    expect(output.locator("details").first).to_contain_text("Your output")  # the first failure is open
    check_accessibility(page)
    screenshot(page, "06-coding-sample-run", full_page=True)

    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(UNBIASED.replace(", ddof=1", ""))
    _wait_saved(page)
    coding.get_by_role("button", name="Run sample tests").click()
    expect(output.locator(".run-summary")).to_contain_text(
        re.compile(r"Sample tests: (\d+) of \1 passed"), timeout=30_000
    )

    coding.get_by_role("button", name="Submit code").click()
    expect(output).to_contain_text(re.compile(r"Submitted: (\d+) of \1 hidden tests passed"), timeout=30_000)
    # Four runs a minute on this server: the next is refused with the wait spelled out.
    coding.get_by_role("button", name="Run sample tests").click()
    coding.get_by_role("button", name="Run sample tests").click()
    expect(output).to_contain_text("times a minute", timeout=30_000)

    page.locator("#review-link").click()
    page.get_by_role("button", name="Submit assessment").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    with live_server.sessions() as session:
        attempt = invitation_for_token(session, _token(link)).attempt
        assert attempt is not None
        code = next(a for a in attempt.answers if "source" in a.value)
        assert code.value["source"] == UNBIASED.replace(", ddof=1", "")
        assert code.auto_points == code.item.points, "the submitted code, unchanged since, keeps its grade"


@pytest.mark.parametrize(("width", "height"), [(390, 844), (640, 450)], ids=["phone", "200%-zoom"])
def test_pages_fit_a_phone_and_200_percent_zoom(
    live_server: LiveServer, browser: Browser, width: int, height: int
) -> None:
    """A 1280-pixel window at 200% zoom lays out like a 640-pixel one."""
    link = live_server.invite(kind="coding")
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(link)
    _no_horizontal_scroll(page)
    _start(page, link)
    _no_horizontal_scroll(page)
    coding = _open(page, "coding")
    expect(coding.get_by_role("button", name="Run sample tests")).to_be_visible()
    _no_horizontal_scroll(page)
    check_accessibility(page)
    if width < 400:
        screenshot(page, "07-phone", full_page=True)
    context.close()


def test_without_javascript_questions_can_be_read_answered_and_submitted(
    live_server: LiveServer, browser: Browser
) -> None:
    link = live_server.invite()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(link)
    page.get_by_label("I will work on my own").check()
    page.get_by_role("button", name="Start the assessment").click()
    questions = page.locator("section.question")
    expect(questions).to_have_count(6)
    questions.first.locator("input[type=radio]").first.check()
    written = page.locator("section.question[data-type=written] textarea").first
    written.fill("Answered without JavaScript.")
    page.get_by_role("button", name="Save answers").click()
    expect(page.locator(".alert.success")).to_contain_text("Your answers are saved.")
    page.get_by_role("button", name="Submit assessment").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert "Answered without JavaScript." in str(_answers(live_server, link))
    context.close()


def test_a_broken_link_gets_a_clear_accessible_page(live_server: LiveServer, page: Page) -> None:
    page.goto(f"{live_server.base}/i/not-a-real-invitation-token")
    expect(page.locator("main")).to_contain_text("This invitation link is not valid")
    check_accessibility(page)

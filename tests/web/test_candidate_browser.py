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
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"


def test_the_whole_flow_by_keyboard_with_no_accessibility_violations(
    live_server: LiveServer, page: Page
) -> None:
    link = live_server.invite()
    page.goto(link)
    expect(page.get_by_role("heading", name="Practice before the clock starts")).to_be_visible()
    practice = page.get_by_role("textbox", name="Practice code editor")
    practice.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nprint(standardize(np.eye(3)))")
    expect(practice).to_contain_text("print(standardize(np.eye(3)))")
    expect(page.locator("#practice-status")).to_contain_text("nothing here is saved")
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
            text = "Use the **running** statistics at inference, so one example's output does not depend on the batch."
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
    expect(review).to_contain_text("Question 1: answered, flagged for review")
    expect(page.locator("#progress-summary")).to_contain_text("6 of 6 answered, 1 flagged for review")
    check_accessibility(page)
    screenshot(page, "04-review", full_page=True)
    page.get_by_role("button", name="Submit assessment").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "05-done")

    assert _answers(live_server, link) == answers


def _written(page: Page) -> Any:
    """Go to the first written question and return its section."""
    page.locator("section.question[data-type=written]").first.evaluate("s => s.id")
    target = page.locator("section.question[data-type=written]").first
    page.locator(f".overview-link[href='#{target.get_attribute('id')}']").click()
    expect(target).to_be_visible()
    return target


def test_a_reload_keeps_the_answers_and_the_timer(live_server: LiveServer, page: Page) -> None:
    link = live_server.invite()
    _start(page, link)
    first = page.locator("section.question:not([hidden])")
    first.locator("input[type=radio]").nth(1).check()
    written = _written(page)
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
    written = _written(page)
    page.context.set_offline(True)
    written.locator("textarea").fill("Typed while the network was down.")
    expect(page.locator("#save-state")).to_contain_text("Offline", timeout=10_000)
    assert "Typed while the network was down." not in str(_answers(live_server, link))
    page.context.set_offline(False)
    _wait_saved(page)
    item_id = int(written.get_attribute("data-item-id") or 0)
    assert _answers(live_server, link)[item_id] == {"text": "Typed while the network was down."}


def test_two_tabs_of_one_attempt_show_each_others_saved_work(live_server: LiveServer, browser: Browser) -> None:
    link = live_server.invite()
    context = browser.new_context()
    first, second = context.new_page(), context.new_page()
    _start(first, link)
    second.goto(f"{link}/attempt")
    expect(second.locator("#timer")).to_contain_text("Time left")

    written = _written(first)
    written.locator("textarea").fill("Written in the first tab.")
    _wait_saved(first)
    second.bring_to_front()
    second.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(second.locator("section.question[data-type=written] textarea").first).to_have_value(
        "Written in the first tab."
    )
    other = _written(second)
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
    written = _written(page)
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
    written = _written(page)
    written.locator("textarea").fill("Typed in the last seconds.")
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible(timeout=15_000)
    assert "Typed in the last seconds." in str(_answers(live_server, link))
    page.goto(f"{link}/attempt")
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()

"""What a first real hiring round tripped over, each checked in a real browser (Chromium through Playwright)
against the real server: the candidate's and the recruiter's experience."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import LiveServer, screenshot

pytestmark = pytest.mark.slow

INSTRUCTIONS = "Use **NumPy only**. Explain your reasoning in the written answers; partial credit counts."


def test_candidates_read_the_recruiters_instructions_before_and_during_the_test(
    live_server: LiveServer, page: Page
) -> None:
    link = live_server.invite(instructions=INSTRUCTIONS)
    page.goto(link)
    instructions = page.get_by_role("region", name="Instructions from Acme")
    expect(instructions).to_contain_text("Use NumPy only.")
    expect(instructions.locator("strong")).to_have_text("NumPy only")  # Markdown, rendered
    screenshot(page, "landing-instructions")
    page.get_by_label("I will work on my own").check()
    page.get_by_role("button", name="Start the assessment").click()
    again = page.locator("#instructions")
    again.get_by_text("Instructions").click()
    expect(again).to_contain_text("partial credit counts")

"""What a first real hiring round tripped over, each checked in a real browser (Chromium through Playwright)
against the real server: the candidate's and the recruiter's experience."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import func, select

from app.assessments.service import add_section, create_assessment, new_version, publish_assessment
from app.invitations.service import (
    cancel_invitation,
    email_invitation,
    invitation_for_token,
    list_invitations,
)
from app.models import (
    Assessment,
    Attempt,
    CloseReason,
    EmailMessage,
    Invitation,
    Organization,
    QuestionType,
    Submission,
    utcnow,
)
from app.questions.service import current_versions, spec_of
from app.results.report import attempt_report
from tests import factories
from tests.web.conftest import LiveServer, check_accessibility, screenshot
from tests.web.test_candidate_browser import UNBIASED, _answers, _open, _start
from tests.web.test_recruiter_browser import _sign_in as sign_in

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


def test_without_a_mail_server_nobody_is_told_an_email_went_and_every_link_is_there_to_copy(
    live_server: LiveServer, page: Page, tmp_path: Path
) -> None:
    email, assessment_id = live_server.recruiter(with_results=True)
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{assessment_id}")
    expect(page.get_by_role("note")).to_contain_text("No mail server is configured")

    invite = page.get_by_role("region", name="Invite a candidate")
    invite.get_by_label("Email", exact=True).fill("katherine@example.com")
    invite.get_by_label("First name").fill("Katherine")
    invite.get_by_role("button", name="Invite").click()
    notice = page.get_by_role("status").first
    expect(notice).to_contain_text("waiting in the outbox")
    expect(notice).not_to_contain_text("emailed")
    expect(page.get_by_label("Invitation link")).to_have_value(re.compile(r"/i/[\w-]{40,}$"))

    rows = page.locator("#candidates")
    row = rows.locator("tr", has_text="katherine@example.com")
    row.get_by_text("Link", exact=True).click()
    link = row.get_by_label("Link for Katherine")
    expect(link).to_have_value(page.get_by_label("Invitation link").input_value())

    listing = tmp_path / "round.csv"
    listing.write_text("email,first_name\ndorothy@example.com,Dorothy\nmary@example.com,Mary\n")
    page.get_by_label("CSV file", exact=True).set_input_files(str(listing))
    page.get_by_role("button", name="Upload and invite").click()
    report = page.get_by_role("region", name="Invited 2 candidates from the file")
    expect(report).to_contain_text("email waiting in the outbox (no mail server configured)")
    expect(report).not_to_contain_text("emailed")
    expect(report.get_by_label("Link for dorothy@example.com")).to_have_value(re.compile(r"/i/[\w-]{40,}$"))
    screenshot(page, "invited-without-mail-server", folder="recruiter")


def test_when_the_time_runs_out_the_candidate_is_told_and_the_report_says_so(
    live_server: LiveServer, page: Page
) -> None:
    link = live_server.invite()
    page.goto(link)
    page.get_by_label("I will work on my own").check()
    page.get_by_role("button", name="Start the assessment").click()
    expect(page.locator("#timer")).to_contain_text("Time left")
    token = link.rsplit("/", 1)[1]
    with live_server.sessions() as session:
        attempt = invitation_for_token(session, token).attempt
        assert attempt is not None
        attempt.deadline_at = utcnow() + timedelta(seconds=4)
        session.commit()
    page.reload()  # the page counts down to the deadline it was given
    expect(page.get_by_role("heading", name="Time is up")).to_be_visible(timeout=20_000)
    expect(page.get_by_role("status")).to_contain_text("submitted for you")
    screenshot(page, "time-is-up")
    with live_server.sessions() as session:
        attempt = invitation_for_token(session, token).attempt
        assert attempt is not None and attempt.close_reason == CloseReason.DEADLINE


def test_saving_shows_from_the_first_keystroke_and_a_reload_at_once_loses_nothing(
    live_server: LiveServer, page: Page
) -> None:
    link = live_server.invite()
    _start(page, link)
    written = _open(page, "written")
    state = page.locator("#save-state")
    written.locator("textarea").press_sequentially("Running averages")
    expect(state).to_have_attribute("data-state", "saving", timeout=300)  # not "saved" during the debounce
    expect(state).to_contain_text("Saving…")
    expect(state).to_contain_text("All changes saved", timeout=10_000)

    page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?": yes
    written.locator("textarea").press_sequentially(" at inference.")
    page.reload()  # at once: the change is still waiting out the debounce
    expect(page.locator("#timer")).to_contain_text("Time left")
    deadline = time.monotonic() + 10
    while "Running averages at inference." not in str(_answers(live_server, link)):
        assert time.monotonic() < deadline, f"the last change was lost: {_answers(live_server, link)}"
        time.sleep(0.2)


def test_the_integrity_timeline_has_the_pages_times_and_names_a_reload(
    live_server: LiveServer, page: Page
) -> None:
    link = live_server.invite()
    _start(page, link)
    for position in (2, 3, 4):  # opened a second and more apart; the page sends its signals in batches
        time.sleep(1.2)
        page.locator(f".overview-link[href='#q{position}']").click()
        expect(page.locator(f"#q{position}")).to_be_visible()
    page.reload()
    expect(page.locator("#timer")).to_contain_text("Time left")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # sends the batch now
    token = link.rsplit("/", 1)[1]
    deadline = time.monotonic() + 15
    while True:
        with live_server.sessions() as session:
            invitation = invitation_for_token(session, token)
            org = session.get_one(Organization, invitation.organization_id)
            timeline = attempt_report(session, org, invitation.id).timeline
        if any(e.kind == "page_load" and e.words == "reloaded the page" for e in timeline):
            break
        assert time.monotonic() < deadline, [e.words for e in timeline]
        time.sleep(0.3)
    opened = [e.at for e in timeline if e.kind == "item_shown"]
    gaps = [(b - a).total_seconds() for a, b in pairwise(opened)][:3]
    assert len(opened) >= 4 and all(gap >= 1 for gap in gaps), opened  # not all at their arrival second
    assert not any(e.kind == "page_hidden" for e in timeline), "a reload is not leaving the page"


def test_a_score_waiting_for_review_reads_as_provisional_everywhere(
    live_server: LiveServer, page: Page
) -> None:
    email, assessment_id = live_server.recruiter(with_results=True)
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{assessment_id}")
    grace = page.locator("#candidates tr", has_text="grace@example.com")
    expect(grace).to_contain_text(re.compile(r"provisional: \d+(\.\d{1,2})? pt to review"))
    assert not re.search(r"\d\.\d{3,}", page.locator("#candidates").inner_text()), "one rounding everywhere"
    grace.get_by_role("link").first.click()
    expect(page.locator(".big-score")).to_contain_text("provisional")
    screenshot(page, "report-pending-review", folder="recruiter", full_page=True)


def test_the_score_chart_counts_whole_candidates_draws_the_pass_mark_and_says_who_is_left_out(
    live_server: LiveServer, page: Page
) -> None:
    email, assessment_id = live_server.recruiter(with_results=True)  # pass mark 60%, one awaiting review
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{assessment_id}")
    chart = page.locator("figure.chart svg")
    expect(chart).to_be_visible()
    ticks = chart.locator(".axis.y text").evaluate_all("texts => texts.map(t => t.textContent)")
    assert ticks and all(t.isdigit() for t in ticks) and len(set(ticks)) == len(ticks), ticks
    expect(chart.locator(".axis.x text").last).to_have_text("90-100")
    expect(chart).to_contain_text("below the pass mark (60%)")
    expect(chart).to_contain_text("passed (at least 60%)")
    expect(page.get_by_test_id("not-charted")).to_contain_text(
        "1 candidate who finished is not in the chart yet"
    )
    chart.scroll_into_view_if_needed()
    screenshot(page, "score-distribution", folder="recruiter")


def test_a_right_concept_answer_beside_code_that_makes_the_mistake_is_pointed_out(
    live_server: LiveServer, page: Page
) -> None:
    """The candidate says a training batch is normalized with the variance over N, then codes ddof=1: the
    report sets the two side by side."""
    email = f"owner-{time.monotonic_ns()}@example.com"
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=email)
        assessment = factories.variance_round(session, org)
        link = f"{live_server.base}/i/{factories.invitation(session, org, assessment).token}"
        session.commit()

    _start(page, link)
    choice = _open(page, "mcq_single")
    choice.get_by_label(re.compile("The biased variance")).check()
    coding_section = _open(page, "coding")
    editor = coding_section.get_by_role("textbox", name=re.compile("Code for question"))
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(UNBIASED)
    expect(editor).to_contain_text("ddof=1")
    page.locator("#review-link").click()
    page.get_by_role("button", name="Submit assessment").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()

    page.context.clear_cookies()
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{assessment.id}")
    page.get_by_role("link", name=re.compile("Ada Byron")).first.click()
    links = page.get_by_role("region", name="Concept answers beside the code")
    expect(links).to_contain_text("Rejected “The unbiased variance, dividing by N - 1.”", timeout=30_000)
    expect(links.locator("code")).to_have_text("N - 1")  # the option's Markdown, rendered
    expect(links).to_contain_text("but the code does exactly that")
    expect(links).to_contain_text("unbiased_variance")
    # Topics by name, in the table and the chart alike, not by their slugs.
    expect(page.locator("main")).to_contain_text("Mean and variance")
    expect(page.locator("main")).not_to_contain_text("mean-variance")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon and page.request.get(icon).ok, "a favicon"
    # What the page noticed went before the hand-in, not after it (a closed attempt takes no more).
    expect(page.get_by_role("region", name="Integrity timeline")).to_contain_text("opened a question")
    screenshot(page, "report-concept-beside-code", folder="recruiter", full_page=True)


def test_on_a_phone_the_question_comes_first_below_a_small_bar_and_the_overview_is_a_drawer(
    live_server: LiveServer, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        _start(page, live_server.invite())
        bar = page.locator(".attempt-bar").bounding_box()
        assert bar is not None and bar["height"] < 110, f"the sticky bar takes {bar} of a phone's screen"
        overview = page.locator("#overview")
        expect(overview).not_to_be_visible()

        def below_the_bar(position: int) -> None:
            heading = page.locator(f"#q{position}-title")
            expect(heading).to_be_visible()
            top = heading.bounding_box()
            assert top is not None and bar["height"] <= top["y"] <= 844 / 2, (position, top)

        below_the_bar(1)
        page.locator("#q1").get_by_role("button", name="Next").click()
        below_the_bar(2)
        toggle = page.get_by_role("button", name="Questions")
        toggle.click()
        expect(overview).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        screenshot(page, "phone-overview-drawer")
        overview.locator(".overview-link[href='#q3']").click()
        expect(overview).not_to_be_visible()
        below_the_bar(3)
        screenshot(page, "phone-question")
    finally:
        context.close()


def test_the_note_on_leaving_the_editor_comes_before_the_editor(live_server: LiveServer, page: Page) -> None:
    link = live_server.invite(kind="coding")
    page.goto(link)
    expect(page.locator("main")).to_contain_text("Coding tasks have sample tests")
    practice = page.get_by_role("textbox", name="Practice code editor")
    _note_precedes_editor(page, practice, "#practice-keys")
    practice.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nprint(standardize(np.eye(3)))")
    expect(practice).to_contain_text("print(standardize(np.eye(3)))")
    expect(page.locator("#practice-status")).to_contain_text("nothing here is saved")
    _start(page, link)
    coding = _open(page, "coding")
    item_id = coding.get_attribute("data-item-id")
    editor = coding.get_by_role("textbox", name=re.compile("Code for question"))
    _note_precedes_editor(page, editor, f"#keys-{item_id}")


def _note_precedes_editor(page: Page, editor: Locator, note: str) -> None:
    expect(page.locator(note)).to_be_visible()
    expect(page.locator(note)).to_contain_text("press Esc and then Tab")
    expect(editor).to_have_attribute("aria-describedby", note.removeprefix("#"))
    before = page.locator(note).evaluate(
        "(note, editor) => !!(note.compareDocumentPosition(editor) & Node.DOCUMENT_POSITION_FOLLOWING)",
        editor.element_handle(),
    )
    assert before, "a keyboard user reads how to leave the editor before entering it"


def test_changes_hard_to_take_back_ask_first(live_server: LiveServer, page: Page) -> None:
    email = f"owner-{time.monotonic_ns()}@example.com"
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=email)
        coding = current_versions(session, types=[QuestionType.CODING])[:3]
        draft = create_assessment(
            session,
            factories.operator(session, org),
            title="Too long",
            duration_minutes=10,
            question_version_ids=[v.id for v in coding],
        )
        session.commit()
        first_title = spec_of(coding[0]).title
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{draft.id}/edit")
    asked: list[str] = []

    def answer(accept: bool) -> None:
        page.once(
            "dialog",
            lambda dialog: (asked.append(dialog.message), dialog.accept() if accept else dialog.dismiss()),
        )

    answer(False)
    page.get_by_role("button", name="Publish").click()
    assert "longer than the 10-minute limit" in asked[-1], asked
    expect(page.get_by_role("button", name="Publish")).to_be_visible()  # still a draft

    remove = page.get_by_role("button", name=f"Remove {first_title}")
    answer(False)
    remove.click()
    assert asked[-1] == f"Remove “{first_title}” from this assessment?"
    expect(remove).to_be_visible()
    answer(True)
    remove.click()
    expect(page.get_by_role("button", name=f"Remove {first_title}")).to_have_count(0)


def test_back_moves_between_questions_and_the_landing_page_tells_the_time_left(
    live_server: LiveServer, page: Page
) -> None:
    link = live_server.invite()
    _start(page, link)
    page.locator("#q1").get_by_role("button", name="Next").click()
    page.locator("#q2").get_by_role("button", name="Next").click()
    expect(page.locator("#q3")).to_be_visible()
    page.go_back()
    expect(page.locator("#q2")).to_be_visible()
    expect(page.locator("#q3")).to_be_hidden()
    page.go_back()
    expect(page.locator("#q1")).to_be_visible()
    page.go_forward()
    expect(page.locator("#q2")).to_be_visible()

    page.goto(link)  # the landing page of a started attempt
    left = page.get_by_test_id("time-left")
    expect(left).to_contain_text(re.compile(r"\b(29|30) min \d+ s\b"))
    expect(left).to_contain_text("left")


def test_inviting_someone_already_invited_asks_first(live_server: LiveServer, page: Page) -> None:
    email, assessment_id = live_server.recruiter(with_results=True)  # grace@example.com has finished
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{assessment_id}")
    invite = page.get_by_role("region", name="Invite a candidate")
    invite.get_by_label("Email", exact=True).fill("grace@example.com")
    invite.get_by_role("button", name="Invite").click()
    question = page.get_by_role("alert").filter(has_text="is already invited")
    expect(question).to_contain_text("grace@example.com is already invited")
    expect(question).to_contain_text("completed")
    expect(question).to_contain_text("Nothing was sent")
    rows = page.locator("#candidates tr", has_text="grace@example.com")
    expect(rows).to_have_count(1)
    question.get_by_role("button", name="Invite again anyway").click()
    expect(page.get_by_role("status").first).to_contain_text("Invitation created")
    expect(page.locator("#candidates tr", has_text="grace@example.com")).to_have_count(2)


def test_the_assessments_list_counts_each_round_groups_versions_and_leads_to_the_review_queue(
    live_server: LiveServer, page: Page
) -> None:
    email, assessment_id = live_server.recruiter(with_results=True)  # two finished, one awaiting review
    with live_server.sessions() as session:
        published = session.get_one(Assessment, assessment_id)
        new_version(session, factories.operator(session, published), published)
        session.commit()
    sign_in(page, live_server, email)
    table = page.locator("#assessments")
    line = table.locator("tbody.version-line").filter(has_text="Screen")
    expect(line.locator("tr")).to_have_count(2)  # v2 (the draft) above v1, in one group
    expect(line.locator("tr").first).to_contain_text("v2")
    v1 = line.locator("tr.older-version")
    expect(v1).to_contain_text("v1")
    cells = v1.locator("td").all_inner_texts()
    assert cells[5:9] == ["2", "0", "2", "1"], cells  # invited, started, completed, needs review

    page.get_by_role("link", name=re.compile("waiting to be scored")).click()
    queue = page.locator("#review-queue")
    expect(queue.locator("tbody tr")).to_have_count(1)
    expect(queue).to_contain_text("grace@example.com")
    queue.get_by_role("link", name="Ada Byron").click()
    expect(page.get_by_role("heading", name="Score")).to_be_visible()


def test_a_withdrawn_link_speaks_to_the_candidate(live_server: LiveServer, page: Page) -> None:
    link = live_server.invite()
    with live_server.sessions() as session:
        invitation = invitation_for_token(session, link.rsplit("/", 1)[1])
        cancel_invitation(session, factories.operator(session, invitation.assessment), invitation)
        session.commit()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link no longer opens the assessment")
    expect(page.locator("main")).to_contain_text("Acme has withdrawn this invitation")
    expect(page.locator("main")).not_to_contain_text("Error 410")
    expect(page.locator("main a[href='/']")).to_have_count(0)  # no way to the recruiters' sign-in
    screenshot(page, "withdrawn-link")


def test_the_code_editor_fits_a_full_line_at_1280_pixels(live_server: LiveServer, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        _start(page, live_server.invite(kind="coding"))
        coding = _open(page, "coding")
        line = coding.locator(".cm-line").first
        expect(line).to_be_visible()
        fits = coding.locator(".cm-content").evaluate(
            """content => {
                const probe = document.createElement('span');
                probe.textContent = 'x'.repeat(79);
                content.querySelector('.cm-line').append(probe);
                const wide = probe.getBoundingClientRect().width;
                probe.remove();
                return content.closest('.cm-scroller').clientWidth - wide;
            }"""
        )
        assert fits >= 0, f"a 79-character line is {-fits:.0f} px wider than the editor"
    finally:
        context.close()


def test_form_errors_name_fields_as_the_page_does(live_server: LiveServer, page: Page) -> None:
    email, _ = live_server.recruiter()
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/new")
    for level in ("Easy", "Medium", "Hard"):
        page.get_by_label(level, exact=True).fill("0")
    page.get_by_role("button", name="Propose an assessment").click()
    errors = page.get_by_role("alert")
    expect(errors).to_contain_text("Difficulty mix: give each difficulty a share")
    expect(errors.locator("code")).to_have_count(0)  # no internal names such as `mix`


def test_one_way_to_finish_is_shown_at_a_time(live_server: LiveServer, page: Page) -> None:
    _start(page, live_server.invite())
    finish = page.get_by_role("button", name="Submit assessment")
    expect(finish).to_be_hidden()  # only the overview's link leads on while answering
    expect(page.get_by_role("link", name="Review and finish")).to_be_visible()
    page.get_by_role("link", name="Review and finish").click()
    expect(finish).to_be_visible()


def _draft_with_sections(live_server: LiveServer, email: str) -> tuple[int, list[str]]:
    """A draft of four coding tasks in one section and an empty second section; the tasks' titles in order."""
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=email)
        coding = current_versions(session, types=[QuestionType.CODING])[:4]
        draft = create_assessment(
            session,
            factories.operator(session, org),
            title="Reorder me",
            duration_minutes=60,
            question_version_ids=[v.id for v in coding],
        )
        add_section(session, draft, "Deployment")
        session.commit()
        return draft.id, [spec_of(v).title for v in coding]


def _settled(page: Page, said: str = "Saved.") -> None:
    """The builder has the server's answer to the last change in place."""
    expect(page.locator("#builder")).not_to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("status")).to_have_text(said)


def test_the_builder_edits_in_place_and_questions_are_dragged_into_place(
    live_server: LiveServer, page: Page
) -> None:
    email = f"owner-{time.monotonic_ns()}@example.com"
    draft_id, titles = _draft_with_sections(live_server, email)
    sign_in(page, live_server, email)
    page.set_viewport_size({"width": 1280, "height": 600})
    page.goto(f"{live_server.base}/assessments/{draft_id}/edit")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    rows = page.locator(
        "#section-" + page.locator(".section-block").first.get_attribute("data-section") + " tbody tr"
    )
    shown = rows.locator("td:nth-child(3) a")
    expect(shown).to_have_text(titles)

    # ↑ on the last question: the page is not reloaded, stays scrolled and keeps focus on that question.
    up = page.get_by_role("button", name=f"Move {titles[3]} up")
    up.scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0
    up.click()
    _settled(page)
    expect(shown).to_have_text([titles[0], titles[1], titles[3], titles[2]])
    assert page.evaluate("window.sameDocument") is True
    assert abs(page.evaluate("window.scrollY") - scrolled) < 2
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == f"Move {titles[3]} up"

    # Points in place.
    page.get_by_label(f"Points for {titles[1]}").fill("7.5")
    page.get_by_label(f"Points for {titles[1]}").press("Enter")
    _settled(page)

    # Drag the last question to the top, then the second into the empty section (with both ends in view:
    # Playwright's drag does not scroll while the button is held).
    page.set_viewport_size({"width": 1280, "height": 1200})
    page.locator(f"tr[data-title='{titles[2]}'] .handle").drag_to(
        rows.first, target_position={"x": 20, "y": 3}
    )
    _settled(page)
    expect(shown).to_have_text([titles[2], titles[0], titles[1], titles[3]])
    page.locator(f"tr[data-title='{titles[0]}'] .handle").drag_to(
        page.locator(".section-block").nth(1).locator(".drop-zone")
    )
    _settled(page)
    expect(page.locator(".section-block").nth(1).locator("tbody tr td:nth-child(3) a")).to_have_text(
        [titles[0]]
    )
    assert page.evaluate("window.sameDocument") is True

    # A refused change is explained in place.
    section_title = page.get_by_label("Section title").nth(1)
    section_title.fill(" ")
    section_title.press("Enter")
    _settled(page, "Not saved: The section needs a title.")
    expect(page.get_by_role("alert")).to_contain_text("The section needs a title.")
    assert page.evaluate("window.sameDocument") is True
    screenshot(page, "builder-in-place", folder="recruiter")

    with live_server.sessions() as session:
        draft = session.get(Assessment, draft_id)
        assert draft is not None
        by_section: dict[str, list[str]] = {}
        for item in sorted(draft.items, key=lambda i: i.position):
            by_section.setdefault(item.section.title, []).append(spec_of(item.question_version).title)
            if spec_of(item.question_version).title == titles[1]:
                assert item.points == 7.5
        assert list(by_section.values()) == [[titles[2], titles[1], titles[3]], [titles[0]]]


def test_without_scripts_the_builder_opens_where_the_change_was_made(
    live_server: LiveServer, browser: Browser
) -> None:
    email = f"owner-{time.monotonic_ns()}@example.com"
    draft_id, titles = _draft_with_sections(live_server, email)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live_server, email)
        page.goto(f"{live_server.base}/assessments/{draft_id}/edit")
        expect(page.locator(".handle").first).to_be_hidden()
        page.get_by_role("button", name=f"Move {titles[3]} up").click()
        assert re.search(r"/edit\?notice=saved#item-\d+$", page.url), page.url
        item_id = page.url.rsplit("-", 1)[1]
        expect(page.locator(f"#item-{item_id}")).to_be_in_viewport()
        expect(page.locator(f"#item-{item_id} td:nth-child(3) a")).to_have_text(titles[3])
    finally:
        context.close()


HELPER_FAILS = """import numpy as np


def centre(x):
    print("centring a batch of", x.shape[0])
    return x - x.mean(axis=7)


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    return centre(x), None
"""


def _run_samples(page: Page, source: str) -> Locator:
    coding = _open(page, "coding")
    editor = coding.get_by_role("textbox", name=re.compile("Code for question"))
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)
    coding.get_by_role("button", name="Run sample tests").click()
    output = coding.locator(".run-output")
    expect(output.locator(".run-summary")).to_be_visible(timeout=30_000)
    return output


def test_a_sample_run_shows_the_failing_line_the_printed_output_and_diagnoses_only_in_practice(
    live_server: LiveServer, page: Page
) -> None:
    _start(page, live_server.invite(kind="coding"))  # a hiring test: diagnoses are off by default
    output = _run_samples(page, HELPER_FAILS)
    first = output.locator("details").first
    expect(first).to_have_attribute("open", "")
    expect(first).to_contain_text("AxisError: axis 7 is out of bounds")
    where = first.get_by_role("list", name="Where your code failed, innermost call last").locator("li")
    expect(where).to_have_text(
        [
            "line 10, in batchnorm_forward_train: return centre(x), None",
            "line 6, in centre: return x - x.mean(axis=7)",
        ]
    )
    expect(output.locator(".printed pre.stdout")).to_contain_text("centring a batch of 4")
    screenshot(page, "coding-error-and-print")

    output = _run_samples(page, UNBIASED)
    expect(output.locator(".run-summary")).to_contain_text("Sample tests: 0 of")
    expect(output).not_to_contain_text("What the grader noticed")

    page.context.clear_cookies()
    _start(page, live_server.invite(kind="coding", sample_run_diagnoses=True))  # a practice test
    output = _run_samples(page, UNBIASED)
    expect(output).to_contain_text("What the grader noticed")
    expect(output).to_contain_text("N - 1")


def test_the_builder_switches_diagnoses_in_sample_runs(live_server: LiveServer, page: Page) -> None:
    email = f"owner-{time.monotonic_ns()}@example.com"
    draft_id, _ = _draft_with_sections(live_server, email)
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{draft_id}/edit")
    switch = page.get_by_label("Candidates see the grader's diagnoses when they run the sample tests")
    expect(switch).not_to_be_checked()
    switch.check()
    page.get_by_role("button", name="Save settings").click()
    _settled(page)
    with live_server.sessions() as session:
        draft = session.get(Assessment, draft_id)
        assert draft is not None and draft.sample_run_diagnoses


def _recorded(live_server: LiveServer) -> tuple[int, int, int]:
    """Rows a preview must never add: attempts, submissions of code, invitations."""
    with live_server.sessions() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model))
            for model in (Attempt, Submission, Invitation)
        )


def test_a_coding_question_previews_with_the_real_editor_runnable_samples_and_the_reference_solution(
    live_server: LiveServer, page: Page
) -> None:
    email, _ = live_server.recruiter()
    with live_server.sessions() as session:
        version = next(
            v
            for v in current_versions(session, types=[QuestionType.CODING])
            if spec_of(v).task == "bn-forward-train"
        )
    before = _recorded(live_server)
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/bank/{version.id}")
    editor = page.get_by_role("textbox", name="Code for the preview")
    expect(editor).to_contain_text("def batchnorm_forward_train")
    page.get_by_role("button", name="Run sample tests").click()
    output = page.locator(".run-output")
    expect(output.locator(".run-summary")).to_contain_text(
        re.compile(r"Sample tests: 0 of \d+ passed"), timeout=30_000
    )
    expect(page.get_by_role("button", name="Submit code")).to_be_hidden()

    expect(page.get_by_role("heading", name="Reference solution (not shown to candidates)")).to_be_visible()
    page.get_by_role("button", name="Load it into the editor").click()
    expect(editor).to_contain_text("var = ((x - mu) ** 2).mean(axis=0)")
    page.get_by_role("button", name="Run sample tests").click()
    expect(output.locator(".run-summary")).to_contain_text(
        re.compile(r"Sample tests: (\d+) of \1 passed"), timeout=30_000
    )
    check_accessibility(page)
    screenshot(page, "coding-preview", full_page=True, folder="recruiter")
    assert _recorded(live_server) == before


def test_the_whole_assessment_previews_as_a_candidate_meets_it_and_nothing_is_recorded(
    live_server: LiveServer, page: Page
) -> None:
    email = f"owner-{time.monotonic_ns()}@example.com"
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=email)
        assessment = factories.coding_assessment(session, org)
        assessment.description = INSTRUCTIONS
        session.commit()
        assessment_id = assessment.id
    before = _recorded(live_server)
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/assessments/{assessment_id}")
    page.get_by_role("link", name="Preview as a candidate").click()
    expect(page.get_by_role("note")).to_contain_text(
        "Preview as a candidate. Nothing you do here is recorded"
    )
    expect(page.get_by_role("timer")).to_contain_text("Time left")
    page.locator("#instructions summary").click()
    expect(page.locator("#instructions")).to_contain_text("NumPy only")

    concept = _open(page, "mcq_single")
    concept.locator("input[type=radio]").first.check()
    expect(page.locator("#save-state")).to_contain_text("All changes saved")
    output = _run_samples(page, UNBIASED)
    expect(output.locator(".run-summary")).to_contain_text("Sample tests: 0 of")
    expect(output).not_to_contain_text("What the grader noticed")  # as this assessment's candidates see it
    expect(page.get_by_role("button", name="Submit code")).to_be_hidden()
    screenshot(page, "assessment-preview", folder="recruiter")

    page.locator("#review-link").click()
    page.get_by_role("button", name="Submit assessment").click()
    expect(page.get_by_role("heading", name="End of the preview")).to_be_visible()
    assert _recorded(live_server) == before


def test_the_question_bank_comes_in_pages_and_filters_as_you_type(
    live_server: LiveServer, page: Page
) -> None:
    email, _ = live_server.recruiter()
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/bank")
    count = page.locator("#bank-count")
    expect(count).to_have_text(re.compile(r"^1\u201320 of \d+ questions$"))
    total = int(count.inner_text().split(" of ")[1].split()[0])
    assert total > 40
    rows = page.locator("#bank-results tbody tr")
    expect(rows).to_have_count(20)
    page.get_by_role("link", name="Next →").click()
    expect(count).to_have_text(f"21\u201340 of {total} questions")
    expect(page.get_by_text("Page 2 of")).to_be_visible()

    page.evaluate("window.sameDocument = true")
    page.get_by_label("Kind").select_option("coding")
    expect(count).not_to_contain_text("of " + str(total))
    search = page.get_by_label("Search", exact=True)
    search.press_sequentially("backw", delay=30)
    expect(page).to_have_url(re.compile(r"/bank\?q=backw&type=coding$"))
    titles = rows.locator("td:first-child a")
    expect(titles.first).to_be_visible()
    assert page.evaluate("window.sameDocument") is True  # no page load while filtering
    assert "backward" in " ".join(titles.all_inner_texts()).casefold()
    search.fill("no question says this")
    expect(rows).to_have_text(["No question matches these filters."])
    page.reload()
    expect(search).to_have_value("no question says this")  # the address kept up


def test_without_scripts_the_bank_filters_with_a_button_and_pages_keep_the_filters(
    live_server: LiveServer, browser: Browser
) -> None:
    email, _ = live_server.recruiter()
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live_server, email)
        page.goto(f"{live_server.base}/bank")
        page.get_by_label("Kind").select_option("mcq_single")
        page.get_by_role("button", name="Filter").click()
        count = page.locator("#bank-count")
        expect(count).to_have_text(re.compile(r"^1\u201320 of \d+ questions$"))
        page.get_by_role("link", name="Next →").click()
        expect(page).to_have_url(re.compile(r"type=mcq_single.*page=2|page=2.*type=mcq_single"))
        expect(count).to_have_text(re.compile(r"^21\u201340 of \d+ questions$"))
        expect(page.get_by_label("Kind")).to_have_value("mcq_single")
    finally:
        context.close()


def test_times_read_in_the_organizations_time_zone_named_everywhere(
    live_server: LiveServer, page: Page
) -> None:
    email, assessment_id = live_server.recruiter(with_results=True)
    sign_in(page, live_server, email)
    page.goto(f"{live_server.base}/team")
    zone = page.get_by_role("combobox", name="Time zone")
    expect(zone).to_have_value("UTC")
    zone.fill("Mars/Olympus_Mons")
    page.get_by_role("button", name="Save time zone").click()
    expect(page.get_by_role("alert")).to_contain_text("That is not a time zone this server knows.")
    page.get_by_role("combobox", name="Time zone").fill("Europe/Paris")
    page.get_by_role("button", name="Save time zone").click()
    expect(page.locator("#zone-title + p")).to_contain_text("Europe/Paris")

    with live_server.sessions() as session:
        assessment = session.get(Assessment, assessment_id)
        assert assessment is not None
        org = session.get(Organization, assessment.organization_id)
        assert org is not None
        invitation = next(i for i in list_invitations(session, org, assessment) if i.attempt is not None)
        started = invitation.attempt.started_at  # type: ignore[union-attr]
        issued = factories.invitation(session, org, assessment)
        email_invitation(session, issued.invitation, f"{live_server.base}/i/{issued.token}")
        session.commit()
        invitation_id, token = invitation.id, issued.token
    paris = started.astimezone(ZoneInfo("Europe/Paris"))  # December: CET, an hour ahead of UTC
    page.goto(f"{live_server.base}/invitations/{invitation_id}")
    expect(page.locator("main")).to_contain_text(f"started {paris:%Y-%m-%d %H:%M} CET")
    expect(page.locator("main")).not_to_contain_text("UTC")
    page.goto(f"{live_server.base}/assessments/{assessment_id}")
    expect(page.locator("main")).to_contain_text("CET")
    expect(page.locator("main")).not_to_contain_text("UTC")

    page.goto(f"{live_server.base}/i/{token}")  # the candidate reads the company's time, named
    expect(page.locator("li", has_text="Link expires:")).to_contain_text("CET")
    with live_server.sessions() as session:
        message = session.scalars(select(EmailMessage).order_by(EmailMessage.id.desc())).first()
        assert message is not None and "CET" in message.text_body and "UTC" not in message.text_body


def test_answer_keys_rubrics_and_item_statistics_render_their_markdown(
    live_server: LiveServer, page: Page
) -> None:
    email = f"owner-{time.monotonic_ns()}@example.com"
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=email)
        choice = next(
            v
            for v in current_versions(session, types=[QuestionType.MCQ_SINGLE])
            if any("`" in (o.get("explanation") or "") for o in v.spec["options"])
            and any("`" in o["text"] for o in v.spec["options"])
        )
        written = next(
            v
            for v in current_versions(session, types=[QuestionType.WRITTEN])
            if any("`" in r["description"] for r in v.spec["rubric"])
        )
        assessment = create_assessment(
            session,
            factories.operator(session, org),
            title="Markdown everywhere",
            duration_minutes=30,
            question_version_ids=[choice.id],
        )
        publish_assessment(session, factories.operator(session, org), assessment)
        item = assessment.items[0]
        for n in range(5):  # enough finished attempts for the statistics to show the choices
            pick = choice.spec["options"][n % len(choice.spec["options"])]["id"]
            factories.finished_attempt(
                session, org, assessment, f"c{n}@example.com", {item.id: {"choice": pick}}
            )
        session.commit()
        choice_id, written_id, assessment_id = choice.id, written.id, assessment.id
    sign_in(page, live_server, email)
    for url, region in (
        (f"/bank/{choice_id}", page.locator(".card", has=page.get_by_role("heading", name="Answer key"))),
        (f"/bank/{written_id}", page.locator(".card", has=page.get_by_role("heading", name="Rubric"))),
        (f"/assessments/{assessment_id}/stats", page.locator("table")),
    ):
        page.goto(live_server.base + url)
        expect(region.locator("code").first).to_be_visible()
        assert "`" not in region.inner_text(), (url, region.inner_text())

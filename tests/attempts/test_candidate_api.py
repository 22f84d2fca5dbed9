"""The attempt page's JSON endpoints: every server-side rule of autosave, flags and integrity signals, over
HTTP against the real app and database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.candidate_api import MAX_BODY_BYTES
from app.models import AssessmentItem, Attempt, PageSignal, QuestionType, utcnow
from app.questions.kinds.written import MAX_TEXT_CHARS
from tests import factories

TAB = "tab-0123456789"


class Link:
    def __init__(self, client: TestClient, session: Session, token: str, attempt: Attempt | None) -> None:
        self.client, self.session, self.base = client, session, f"/i/{token}/api"
        self.attempt = attempt

    def item(self, kind: QuestionType) -> AssessmentItem:
        assert self.attempt is not None
        return next(i for i in self.attempt.invitation.assessment.items if i.question_version.type == kind)

    def save(self, item_id: int, value: dict[str, Any], seq: int, tab: str = TAB) -> Any:
        return self.client.put(
            f"{self.base}/answers/{item_id}", json={"client_id": tab, "seq": seq, "value": value}
        )


def _link(client: TestClient, session: Session, *, start: bool = True, email: str = "c@example.com") -> Link:
    _, org = factories.owner(session, email=f"owner-{email}")
    assessment = factories.published_assessment(
        session, org, types=(QuestionType.WRITTEN, QuestionType.MCQ_SINGLE, QuestionType.NUMERIC)
    )
    issued = factories.invitation(session, org, assessment, email=email)
    session.commit()
    if start:
        assert client.post(f"/i/{issued.token}/start").status_code == 303
        session.refresh(issued.invitation)
    return Link(client, session, issued.token, issued.invitation.attempt)


@pytest.fixture
def link(client: TestClient, session: Session) -> Link:
    return _link(client, session)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def test_state_before_the_start_explains_what_to_do(client: TestClient, session: Session) -> None:
    link = _link(client, session, start=False)
    assert "press Start" in _problem(client.get(f"{link.base}/state"), 409)["detail"]


def test_state_gives_the_servers_clock_and_deadline(link: Link) -> None:
    state = link.client.get(f"{link.base}/state").json()
    assert link.attempt is not None
    assert 29 * 60 < state["remaining_s"] <= 30 * 60 and state["closed"] is False and state["answers"] == []
    assert state["deadline_at"].startswith(link.attempt.deadline_at.isoformat()[:19])


def test_a_save_is_acknowledged_with_its_revision_and_restored_on_reload(link: Link) -> None:
    item = link.item(QuestionType.WRITTEN)
    first = link.save(item.id, {"text": "draft one"}, seq=1).json()
    assert first["applied"] is True and first["revision"] == 1 and first["value"] == {"text": "draft one"}
    second = link.save(item.id, {"text": "draft two"}, seq=2).json()
    assert second["revision"] == 2
    [answer] = link.client.get(f"{link.base}/state").json()["answers"]
    assert (
        answer["item_id"] == item.id and answer["value"] == {"text": "draft two"} and answer["revision"] == 2
    )


def test_retries_and_late_saves_never_reorder_the_work(link: Link) -> None:
    item = link.item(QuestionType.WRITTEN)
    link.save(item.id, {"text": "newest"}, seq=5)
    retry = link.save(item.id, {"text": "newest"}, seq=5).json()
    late = link.save(item.id, {"text": "older"}, seq=4).json()
    for response in (retry, late):
        assert response["applied"] is False and response["value"] == {"text": "newest"}
        assert response["revision"] == 1
    other_tab = link.save(item.id, {"text": "from the phone"}, seq=1, tab="phone-tab-01").json()
    assert other_tab["applied"] is True and other_tab["revision"] == 2
    # A tab's counter may go as high as the API allows (2**53), past a 32-bit column.
    highest = link.save(item.id, {"text": "much later"}, seq=2**53, tab="phone-tab-01")
    assert highest.status_code == 200 and highest.json()["applied"] is True


def test_saves_after_the_deadline_and_after_submitting_are_refused(link: Link) -> None:
    item = link.item(QuestionType.WRITTEN)
    assert link.attempt is not None
    link.attempt.deadline_at = utcnow() - timedelta(seconds=5)  # within the grace for in-flight saves
    link.session.commit()
    assert link.save(item.id, {"text": "just in time"}, seq=1).json()["applied"] is True
    link.attempt.deadline_at = utcnow() - timedelta(minutes=5)
    link.session.commit()
    assert "Time is up" in _problem(link.save(item.id, {"text": "too late"}, seq=2), 410)["detail"]
    link.attempt.closed_at = utcnow()
    link.session.commit()
    assert "submitted" in _problem(link.save(item.id, {"text": "after submit"}, seq=3), 410)["detail"]
    flag = link.client.put(f"{link.base}/answers/{item.id}/flag", json={"flagged": True})
    assert _problem(flag, 410)["status"] == 410
    assert link.session.scalars(select(Attempt)).first() is not None


def test_another_candidates_items_and_unknown_links_are_not_found(
    client: TestClient, session: Session, link: Link
) -> None:
    other = _link(client, session, email="other@example.com")
    foreign = other.item(QuestionType.WRITTEN)
    assert _problem(link.save(foreign.id, {"text": "x"}, seq=1), 404)["title"] == "Not found"
    unknown = client.put("/i/not-a-token/api/answers/1", json={"client_id": TAB, "seq": 1, "value": {}})
    assert "copied the whole link" in _problem(unknown, 404)["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_id": TAB, "seq": 1, "value": {"text": "x"}, "extra": 1}, "extra"),
        ({"client_id": "short", "seq": 1, "value": {"text": "x"}}, "client_id"),
        ({"client_id": TAB, "seq": 0, "value": {"text": "x"}}, "seq"),
        ({"client_id": TAB, "seq": "one", "value": {"text": "x"}}, "seq"),
        ({"client_id": TAB, "seq": 1, "value": {"text": ["not", "text"]}}, "items."),
        ({"client_id": TAB, "seq": 1, "value": {"text": "x" * (MAX_TEXT_CHARS + 1)}}, "items."),
    ],
    ids=["unknown_field", "bad_client_id", "zero_seq", "wrong_type", "value_not_text", "answer_too_long"],
)
def test_malformed_saves_name_the_field(link: Link, body: dict[str, Any], field: str) -> None:
    item = link.item(QuestionType.WRITTEN)
    problem = _problem(link.client.put(f"{link.base}/answers/{item.id}", json=body), 422)
    assert any(error["field"].startswith(field) for error in problem["errors"]), problem


def test_an_oversized_body_is_refused_before_it_is_read(link: Link) -> None:
    item = link.item(QuestionType.WRITTEN)
    huge = {"client_id": TAB, "seq": 1, "value": {"text": "x" * MAX_BODY_BYTES}}
    problem = _problem(link.client.put(f"{link.base}/answers/{item.id}", json=huge), 413)
    assert problem["title"] == "Request too large" and str(MAX_BODY_BYTES) in problem["detail"]
    # Sent in chunks without declaring a length, it is cut off as it streams in.
    chunks = (b"x" * 65536 for _ in range(MAX_BODY_BYTES // 65536 + 1))
    streamed = link.client.put(
        f"{link.base}/answers/{item.id}", content=chunks, headers={"content-type": "application/json"}
    )
    assert _problem(streamed, 413)["title"] == "Request too large"
    # The plain-HTML form on the same link gets the same limit, as a page.
    page = link.client.post(
        link.base.removesuffix("/api") + "/attempt", data={"item_1": "x" * MAX_BODY_BYTES}
    )
    assert (
        page.status_code == 413 and "<html" in page.text and "larger than this address accepts" in page.text
    )


def test_a_wrong_option_or_number_is_a_clear_422(link: Link) -> None:
    mcq, numeric = link.item(QuestionType.MCQ_SINGLE), link.item(QuestionType.NUMERIC)
    assert (
        "not an option" in _problem(link.save(mcq.id, {"choice": "zz"}, seq=1), 422)["errors"][0]["message"]
    )
    assert (
        "not a number"
        in _problem(link.save(numeric.id, {"number": "1,5"}, seq=2), 422)["errors"][0]["message"]
    )


def test_an_item_can_be_flagged_before_it_is_answered(link: Link) -> None:
    item = link.item(QuestionType.MCQ_SINGLE)
    flagged = link.client.put(f"{link.base}/answers/{item.id}/flag", json={"flagged": True}).json()
    assert flagged == {**flagged, "flagged": True, "revision": 0, "value": {"choice": None}}
    answered = link.save(item.id, {"choice": "a"}, seq=1).json()
    assert answered["flagged"] is True and answered["revision"] == 1
    cleared = link.client.put(f"{link.base}/answers/{item.id}/flag", json={"flagged": False}).json()
    assert cleared["flagged"] is False and cleared["value"] == {"choice": "a"}


def test_integrity_signals_are_stored_with_the_servers_time(link: Link) -> None:
    item = link.item(QuestionType.WRITTEN)
    signals = [
        {"kind": "item_shown", "client_at": "2001-01-01T00:00:00Z", "item_id": item.id},
        {"kind": "paste", "client_at": "2001-01-01T00:00:05Z", "item_id": item.id, "length": 812},
        {"kind": "page_hidden", "client_at": "2001-01-01T00:00:09Z"},
    ]
    assert link.client.post(f"{link.base}/signals", json={"signals": signals}).status_code == 204
    assert link.attempt is not None
    events = link.session.scalars(select(PageSignal).where(PageSignal.attempt_id == link.attempt.id)).all()
    assert [(e.kind, e.detail.get("length")) for e in events] == [
        ("item_shown", None),
        ("paste", 812),
        ("page_hidden", None),
    ]
    assert all(e.at > utcnow() - timedelta(minutes=1) for e in events)  # not the page's wrong clock
    assert events[1].detail["client_at"].startswith("2001-01-01T00:00:05")
    bad = link.client.post(
        f"{link.base}/signals", json={"signals": [{"kind": "screenshot", "client_at": "x"}]}
    )
    assert {e["field"] for e in _problem(bad, 422)["errors"]} >= {"signals.0.kind", "signals.0.client_at"}


@pytest.fixture
def coding_link(client: TestClient, session: Session) -> Link:
    _, org = factories.owner(session, email="owner-coder@example.com")
    issued = factories.invitation(session, org, factories.coding_assessment(session, org))
    session.commit()
    assert client.post(f"/i/{issued.token}/start").status_code == 303
    session.refresh(issued.invitation)
    return Link(client, session, issued.token, issued.invitation.attempt)


RIGHT = """import numpy as np

def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta
"""


def test_sample_runs_report_each_visible_case_then_hit_the_rate_limit(
    coding_link: Link, run_jobs: Callable[[], int]
) -> None:
    item = coding_link.item(QuestionType.CODING)
    url = f"{coding_link.base}/answers/{item.id}/run"
    queued = coding_link.client.post(url, json={"source": RIGHT.replace("+ eps", "")})
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    assert run_jobs() == 1
    done = coding_link.client.get(f"{coding_link.base}/submissions/{queued.json()['id']}").json()
    assert done["status"] == "done" and done["kind"] == "sample"
    assert all(case["visible"] and case["shown"]["got"] for case in done["result"]["cases"])
    for _ in range(5):  # the test settings allow 6 a minute
        assert coding_link.client.post(url, json={"source": RIGHT}).status_code == 202
    refused = coding_link.client.post(url, json={"source": RIGHT})
    problem = _problem(refused, 429)
    assert "6 times a minute" in problem["detail"] and int(refused.headers["Retry-After"]) >= 1


def test_submit_grades_the_saved_code_and_hides_the_details(
    coding_link: Link, run_jobs: Callable[[], int]
) -> None:
    item = coding_link.item(QuestionType.CODING)
    url = f"{coding_link.base}/answers/{item.id}/submit"
    assert _problem(coding_link.client.post(url), 422)["errors"][0]["field"] == f"items.{item.id}"
    assert coding_link.save(item.id, {"source": RIGHT}, seq=1).status_code == 200
    queued = coding_link.client.post(url)
    assert queued.status_code == 202 and queued.json()["kind"] == "final"
    run_jobs()
    done = coding_link.client.get(f"{coding_link.base}/submissions/{queued.json()['id']}").json()
    assert done == {
        "id": queued.json()["id"],
        "kind": "final",
        "status": "done",
        "result": None,
        "error": None,
    }


def test_code_runs_are_private_to_their_attempt(
    client: TestClient, session: Session, coding_link: Link, run_jobs: Callable[[], int]
) -> None:
    item = coding_link.item(QuestionType.CODING)
    mine = coding_link.client.post(f"{coding_link.base}/answers/{item.id}/run", json={"source": RIGHT}).json()
    other = _link(client, session, email="other@example.com")
    assert _problem(client.get(f"{other.base}/submissions/{mine['id']}"), 404)
    written = other.item(QuestionType.WRITTEN)
    assert _problem(client.post(f"{other.base}/answers/{written.id}/run", json={"source": RIGHT}), 404)


def test_the_markdown_preview_is_sanitized(link: Link) -> None:
    body = {"text": "**bold** <script>alert(1)</script> [x](javascript:alert(1))"}
    html = link.client.post(f"{link.base}/preview", json=body).json()["html"]
    assert "<strong>bold</strong>" in html and "<script" not in html and "href" not in html


def test_the_finish_page_waits_for_code_grading_before_showing_a_score(
    client: TestClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    _, org = factories.owner(session, email="owner-scores@example.com")
    assessment = factories.coding_assessment(session, org)
    assessment.show_score_to_candidate = True
    issued = factories.invitation(session, org, assessment)
    session.commit()
    client.post(f"/i/{issued.token}/start")
    session.refresh(issued.invitation)
    link = Link(client, session, issued.token, issued.invitation.attempt)
    assert link.save(link.item(QuestionType.CODING).id, {"source": RIGHT}, seq=1).status_code == 200
    assert client.post(f"{link.base}/submit").status_code == 200
    assert "still being graded" in client.get(f"/i/{issued.token}/done").text
    assert run_jobs() == 2  # the final grading, then the similarity check its score announced
    page = client.get(f"/i/{issued.token}/done").text
    assert "still being graded" not in page, page
    assert "Your score: 10 / " in page, page

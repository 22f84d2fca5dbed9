"""A result as an HR system reads it: question by question (the answer, the points, the code's grading and
diagnoses, the time on screen), the integrity signals, the PDF, and a report link that opens without an
Assay login until it expires."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.service import close_attempt, record_signals, save_answer, start_attempt
from app.models import AuditEntry, CloseReason, Invitation, QuestionType
from app.results import sharing
from tests import factories
from tests.api.conftest import Api

CORPUS = Path(__file__).parents[1] / "grader" / "corpus" / "bn-forward-train"
GRACE = timedelta(seconds=30)


def _coded(session: Session, api: Api, run_jobs: Callable[[], int], source: str | None = None) -> Invitation:
    """A candidate who chose the right option, coded the unbiased variance with eps=1e-3 (or `source`),
    pasted once."""
    issued = factories.invitation(session, api.org, factories.coding_assessment(session, api.org))
    attempt = start_attempt(session, issued.invitation)
    mcq, coding = sorted(
        attempt.invitation.assessment.items, key=lambda i: i.question_version.type != "mcq_single"
    )
    correct = next(o["id"] for o in mcq.question_version.spec["options"] if o["correct"])
    save_answer(session, attempt, mcq.id, {"choice": correct}, grace=GRACE)
    save_answer(
        session,
        attempt,
        coding.id,
        {"source": source or (CORPUS / "unbiased_and_default_eps.py").read_text()},
        grace=GRACE,
    )
    now = datetime.now(UTC)
    record_signals(
        session,
        attempt,
        [
            {"kind": "item_shown", "item_id": coding.id, "client_at": now.isoformat()},
            {"kind": "paste", "item_id": coding.id, "length": 120, "client_at": now.isoformat()},
            {"kind": "page_hidden", "client_at": now.isoformat()},
        ],
        grace=GRACE,
    )
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    session.commit()
    assert run_jobs() == 2  # the final grading, then the similarity check its score announced
    return issued.invitation


def test_a_result_reads_question_by_question_with_the_grading_and_the_page_signals(
    api: Api, session: Session, run_jobs: Callable[[], int]
) -> None:
    invitation = _coded(session, api, run_jobs)
    result = api.get(f"/invitations/{invitation.id}/result").json()
    assert result["status"] == "scored"
    choice, code = sorted(result["items"], key=lambda i: i["kind"] != "mcq_single")
    assert choice["kind"] == "mcq_single" and choice["state"] == "correct"
    assert choice["points"] == choice["max_points"] > 0
    assert [o["chosen"] for o in choice["options"]] == [o["correct"] for o in choice["options"]]
    assert choice["code"] is None and choice["text"] is None and choice["number"] is None

    assert code["kind"] == "coding" and code["state"] == "partly correct"
    assert "ddof=1" in code["code"]["source"]
    assert code["code"]["state"] == "graded" and code["code"]["verdict"] == "partially_accepted"
    assert {d["code"] for d in code["code"]["diagnoses"]} == {"unbiased_variance", "wrong_default_eps"}
    failing = [c for c in code["code"]["cases"] if c["status"] != "passed"]
    assert failing and all(c["message"] for c in failing)
    assert 0 < code["points"] < code["max_points"]
    assert code["seconds_on_screen"] is not None
    assert sorted([choice["position"], code["position"]]) == [1, 2]

    integrity = result["integrity"]
    assert (integrity["left_page"], integrity["pastes"], integrity["pasted_characters"]) == (1, 1, 120)
    assert [s["kind"] for s in integrity["timeline"]] == ["item_shown", "paste", "page_hidden"]
    assert integrity["timeline"][1]["question_position"] == code["position"]
    assert result["pdf_url"] == f"http://testserver/api/v1/invitations/{invitation.id}/report.pdf"


def test_a_case_that_crashed_says_on_which_of_the_candidates_lines(
    api: Api, session: Session, run_jobs: Callable[[], int]
) -> None:
    source = "def batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n    return x.mean(axis=9), None\n"
    invitation = _coded(session, api, run_jobs, source)
    result = api.get(f"/invitations/{invitation.id}/result").json()
    code = next(i for i in result["items"] if i["kind"] == "coding")["code"]
    visible = [c for c in code["cases"] if c["visible"]]
    hidden = [c for c in code["cases"] if not c["visible"]]
    assert visible and all(
        c["trace"]
        == [{"line": 2, "function": "batchnorm_forward_train", "code": "return x.mean(axis=9), None"}]
        for c in visible
    )
    assert hidden and all(c["trace"] == [] for c in hidden)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_pdf_holds_the_score_the_code_and_its_diagnoses(
    api: Api, session: Session, run_jobs: Callable[[], int]
) -> None:
    invitation = _coded(session, api, run_jobs)
    pdf = api.get(f"/invitations/{invitation.id}/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "private, no-store"
    text = _text(pdf.content)
    assert "Ada Byron" in text and "cand@example.com" in text
    assert "x.var(axis=0, ddof=1)" in text
    assert "unbiased_variance" in text and "wrong_default_eps" in text
    assert "pasted text (120 characters)" in text
    assert api.get("/invitations/999999/report.pdf").status_code == 404


def test_a_report_link_opens_without_a_login_until_it_expires(
    api: Api,
    client: TestClient,
    session: Session,
    run_jobs: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invitation = _coded(session, api, run_jobs)
    made = api.post(f"/invitations/{invitation.id}/report_link", json={"expires_in_days": 2})
    assert made.status_code == 201, made.text
    link = made.json()
    expires_at = datetime.fromisoformat(link["expires_at"])
    assert timedelta(days=2) - timedelta(minutes=1) < expires_at - datetime.now(UTC) <= timedelta(days=2)
    path = link["url"].removeprefix("http://testserver")
    assert path.startswith("/reports/")

    client.cookies.clear()  # nobody signed in
    page = client.get(path)
    assert page.status_code == 200 and "Ada Byron" in page.text
    assert "unbiased_variance" in page.text
    assert "<form" not in page.text.split("<main", 1)[1], "read-only: no scoring, regrading or sharing"
    assert page.headers["x-robots-tag"] == "noindex, nofollow"
    pdf = client.get(link["pdf_url"].removeprefix("http://testserver"))
    assert pdf.status_code == 200 and "Ada Byron" in _text(pdf.content)

    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    assert client.get(tampered).status_code == 404
    another_install = sharing._signer("another secret").dumps([api.org.id, invitation.id, 4_000_000_000])
    assert client.get(f"/reports/{another_install}").status_code == 404

    later = expires_at + timedelta(seconds=1)
    monkeypatch.setattr(sharing, "utcnow", lambda: later)
    expired = client.get(path)
    assert expired.status_code == 410 and "expired" in expired.text
    assert client.get(f"{path}/pdf").status_code == 410

    audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "report_link.created")).one()
    assert audited.target_id == str(invitation.id)


def test_report_links_are_bounded_and_kept_within_the_organization(
    api: Api, other_api: Api, session: Session
) -> None:
    assessment = factories.published_assessment(
        session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1
    )
    invitation = factories.finished_attempt(session, api.org, assessment, "b@example.com", {})
    session.commit()
    default = api.post(f"/invitations/{invitation.id}/report_link")
    assert default.status_code == 201
    days = (datetime.fromisoformat(default.json()["expires_at"]) - datetime.now(UTC)).days
    assert days == sharing.DEFAULT_DAYS - 1  # just under 14 whole days from now
    for refused in (0, sharing.MAX_DAYS + 1, "7", 2.5):
        answer = api.post(f"/invitations/{invitation.id}/report_link", json={"expires_in_days": refused})
        assert answer.status_code == 422, refused
    assert other_api.post(f"/invitations/{invitation.id}/report_link").status_code == 404
    assert other_api.get(f"/invitations/{invitation.id}/report.pdf").status_code == 404

"""The Greenhouse Assessment Partner flow, end to end: this test plays Greenhouse against a live server (list
the tests, send one, poll its status, report an error) and a candidate who takes the test; the server calls
Greenhouse back with an empty PATCH once the result is in."""

from __future__ import annotations

import base64
import json
import re
import time

import httpx2 as httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.service import authenticate_key, create_api_key
from app.core.config import Settings
from app.integrations.schemas import GreenhouseCandidate
from app.integrations.service import send_test
from app.models import Assessment, AssessmentItem, EmailMessage, PartnerCallback, QuestionType
from tests import factories
from tests.web.conftest import LiveServer
from tests.webhooks.conftest import Receiver


def _greenhouse_org(
    live_server: LiveServer, types: tuple[QuestionType, ...] = (QuestionType.MCQ_SINGLE,)
) -> tuple[str, int, str]:
    """An organization with a published assessment of `types` (two questions of each unless written) and
    a key for Greenhouse: (key, assessment id, the owner's email)."""
    email = f"gh-{time.monotonic_ns()}@example.com"
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=email, org="Hiring Co")
        assessment = factories.published_assessment(
            session, org, types=types, per_type=1 if QuestionType.WRITTEN in types else 2
        )
        factories.published_assessment(session, org, types=(QuestionType.NUMERIC,), per_type=1)
        _, key = create_api_key(
            session,
            factories.operator(session, org),
            name="Greenhouse",
            scopes=["assessments:read", "invitations:write", "results:read"],
        )
        session.commit()
        return key, assessment.id, email


def _take_the_test(live_server: LiveServer, email: str, written: str = "") -> None:
    """The candidate opens the emailed link, answers every choice right, writes `written` in any written
    answer, and hands in."""
    with live_server.sessions() as session:
        mail = session.scalars(select(EmailMessage).where(EmailMessage.to_address == email)).one()
    link = re.search(r"/i/[A-Za-z0-9_-]{40,}", mail.text_body)
    assert link
    candidate = httpx.Client(base_url=live_server.base, timeout=30)
    assert candidate.post(f"{link.group(0)}/start").status_code == 303
    page = candidate.get(f"{link.group(0)}/attempt").text
    item_ids = list(dict.fromkeys(re.findall(r'name="item_(\d+)"', page)))
    answers = {}
    with live_server.sessions() as session:
        for item_id in item_ids:
            spec = session.get_one(AssessmentItem, int(item_id)).question_version.spec
            if "options" in spec:
                answers[f"item_{item_id}"] = next(o["id"] for o in spec["options"] if o["correct"])
            else:
                answers[f"item_{item_id}"] = written
    submitted = candidate.post(f"{link.group(0)}/attempt", data={**answers, "action": "submit"})
    assert submitted.status_code == 303


def _wait_for(receiver: Receiver, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(receiver.received) == count, receiver.received


def test_greenhouse_sends_a_test_and_gets_the_result(live_server: LiveServer, receiver: Receiver) -> None:
    key, assessment_id, _ = _greenhouse_org(live_server)
    receiver.require_authorization = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    greenhouse = httpx.Client(
        base_url=f"{live_server.base}/integrations/greenhouse", auth=(key, ""), timeout=30
    )

    tests = greenhouse.get("/list_tests")
    assert tests.status_code == 200 and isinstance(tests.json(), list) and len(tests.json()) == 2
    assert {"partner_test_id": str(assessment_id), "partner_test_name": "Screen (v1)"} in tests.json()

    sent = greenhouse.post(
        "/send_test",
        json={
            "partner_test_id": assessment_id,  # a number here; Greenhouse may send either
            "candidate": {
                "first_name": "Katherine",
                "last_name": "Johnson",
                "preferred_name": None,
                "email": "katherine@example.com",
                "greenhouse_profile_url": "https://app.greenhouse.io/people/123",
                "phone_number": None,
                "pronouns": "she/her",  # a field we do not know
            },
            "sent_by": "recruiter@example.com",
            "url": f"{receiver.url}/greenhouse/callback/abc",
            "future_field": {"ignored": True},
        },
    )
    assert sent.status_code == 200, sent.text
    interview_id = sent.json()["partner_interview_id"]
    retried = greenhouse.post("/send_test", json=json.loads(sent.request.read()))
    assert retried.json() == {"partner_interview_id": interview_id}, "Greenhouse retried: the same interview"
    assert isinstance(interview_id, str)
    assert greenhouse.get("/test_status", params={"partner_interview_id": interview_id}).json() == {
        "partner_status": "sent",
        "partner_profile_url": None,
        "partner_score": None,
        "metadata": None,
    }

    _take_the_test(live_server, "katherine@example.com")

    # Assay calls Greenhouse back: an empty PATCH to the URL it was given, with the partner key as
    # Greenhouse's documentation shows (Greenhouse's side refuses anything else).
    _wait_for(receiver, 1)
    (callback,) = receiver.received
    assert callback.headers["authorization"] == receiver.require_authorization
    assert (
        callback.method == "PATCH"
        and callback.path == "/hooks/greenhouse/callback/abc"
        and callback.body == b""
    )

    status = greenhouse.get("/test_status", params={"partner_interview_id": interview_id}).json()
    assert status["partner_status"] == "complete" and status["partner_score"] == 100.0
    assert status["partner_profile_url"] == f"{live_server.base}/invitations/{interview_id}"
    assert all(isinstance(v, str) for v in status["metadata"].values())
    assert status["metadata"]["Needs manual review"] == "no"

    reported = greenhouse.post(
        "/response_error", json={"partner_interview_id": int(interview_id), "errors": ["score out of range"]}
    )
    assert reported.status_code == 200


def _signed_in(live_server: LiveServer, email: str) -> httpx.Client:
    """A recruiter's browser-like client: signed in, with the CSRF token its pages carry."""
    recruiter = httpx.Client(base_url=live_server.base, timeout=30)
    token = _csrf(recruiter.get("/login").text)
    signed_in = recruiter.post(
        "/login", data={"email": email, "password": factories.PASSWORD, "next": "/", "csrf_token": token}
    )
    assert signed_in.status_code == 303, signed_in.text
    return recruiter


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def test_greenhouse_hears_once_the_written_answer_is_scored_and_again_when_it_is_rescored(
    live_server: LiveServer, receiver: Receiver
) -> None:
    key, assessment_id, owner_email = _greenhouse_org(
        live_server, (QuestionType.MCQ_SINGLE, QuestionType.WRITTEN)
    )
    receiver.require_authorization = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    greenhouse = httpx.Client(
        base_url=f"{live_server.base}/integrations/greenhouse", auth=(key, ""), timeout=30
    )
    request = {
        "partner_test_id": str(assessment_id),
        "candidate": {
            "first_name": "Dorothy",
            "last_name": "Vaughan",
            "email": "dorothy@example.com",
            "greenhouse_profile_url": "https://app.greenhouse.io/people/456",
        },
        "url": f"{receiver.url}/greenhouse/callback/xyz",
    }
    first, second = greenhouse.post("/send_test", json=request), greenhouse.post("/send_test", json=request)
    assert first.status_code == second.status_code == 200
    interview_id = first.json()["partner_interview_id"]
    assert second.json()["partner_interview_id"] == interview_id

    def status() -> dict[str, object]:
        answer = greenhouse.get("/test_status", params={"partner_interview_id": interview_id})
        assert answer.status_code == 200
        return answer.json()  # type: ignore[no-any-return]

    _take_the_test(live_server, "dorothy@example.com", written="Running averages at inference.")
    # The choice question is scored; the written one waits for a person. Greenhouse keeps polling, and
    # is not called back: nothing it could read is final yet.
    assert status() == {
        "partner_status": "awaiting_review",
        "partner_profile_url": None,
        "partner_score": None,
        "metadata": None,
    }
    time.sleep(1.5)  # three outbox sweeps
    assert receiver.received == []

    recruiter = _signed_in(live_server, owner_email)
    with live_server.sessions() as session:
        written = next(
            item
            for item in session.get_one(Assessment, assessment_id).items
            if item.question_version.spec["type"] == "written"
        )
        rubric = [(c["id"], c["points"]) for c in written.question_version.spec["rubric"]]
        total = sum(item.points for item in session.get_one(Assessment, assessment_id).items)

    def score(fraction: float) -> None:
        report = recruiter.get(f"/invitations/{interview_id}")
        criteria = {f"criterion_{cid}": points * fraction for cid, points in rubric}
        scored = recruiter.post(
            f"/invitations/{interview_id}/items/{written.id}/score",
            data={**criteria, "comment": "", "csrf_token": _csrf(report.text)},
        )
        assert scored.status_code == 303, scored.text

    score(0.5)
    _wait_for(receiver, 1)
    final = status()
    expected = round(100 * (total - written.points / 2) / total, 1)
    assert final["partner_status"] == "complete" and final["partner_score"] == expected

    score(1.0)  # a second look: full marks
    _wait_for(receiver, 2)
    assert [(r.method, r.headers["authorization"]) for r in receiver.received] == [
        ("PATCH", receiver.require_authorization)
    ] * 2
    rescored = status()
    assert rescored["partner_status"] == "complete" and rescored["partner_score"] == 100.0
    assert rescored["metadata"]["Needs manual review"] == "no"  # type: ignore[index]


def test_greenhouse_is_refused_without_the_key_and_gets_404_for_unknown_ids(live_server: LiveServer) -> None:
    key, _, _ = _greenhouse_org(live_server)
    base = f"{live_server.base}/integrations/greenhouse"
    assert httpx.get(f"{base}/list_tests").status_code == 401
    assert httpx.get(f"{base}/list_tests", auth=("ak_live_wrong", "")).status_code == 401
    unknown = httpx.get(f"{base}/test_status", params={"partner_interview_id": "99999999"}, auth=(key, ""))
    assert unknown.status_code == 404
    not_a_number = httpx.get(f"{base}/test_status", params={"partner_interview_id": "abc"}, auth=(key, ""))
    assert not_a_number.status_code == 404
    no_test = httpx.post(
        f"{base}/send_test",
        json={"partner_test_id": "424242", "candidate": {"email": "x@example.com"}, "url": None},
        auth=(key, ""),
    )
    assert no_test.status_code == 404


def test_callbacks_are_kept_only_for_allow_listed_hosts(session: Session, settings: Settings) -> None:
    _, org = factories.owner(session, email="gh@example.com")
    assessment = factories.published_assessment(session, org, types=(QuestionType.MCQ_SINGLE,), per_type=1)
    key = create_api_key(session, factories.operator(session, org), name="", scopes=["invitations:write"])[1]
    principal = authenticate_key(session, key)
    kept = {}
    for n, url in enumerate(
        [
            "https://app.greenhouse.io/hooks/1",
            "https://greenhouse.io.evil.example/x",
            "http://169.254.169.254/",
        ]
    ):
        invitation = send_test(
            session,
            principal,
            partner_test_id=str(assessment.id),
            candidate=GreenhouseCandidate(email=f"c{n}@example.com", first_name="C", last_name=str(n)),
            callback_url=url,
            settings=settings,
            partner_key=key,
        )
        kept[url] = session.scalar(
            select(PartnerCallback).where(PartnerCallback.invitation_id == invitation.id)
        )
    assert [url for url, row in kept.items() if row is not None] == ["https://app.greenhouse.io/hooks/1"]

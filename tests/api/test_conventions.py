"""What every endpoint shares: cursor pagination, problem+json errors, idempotency keys, rate limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.http import idempotency
from app.main import create_app
from app.models import IdempotencyKey, Organization, QuestionType, utcnow
from tests import factories
from tests.api.conftest import Api, new_key

REDIS_URL = "redis://127.0.0.1:6379/15"


def _candidate(api: Api, n: int) -> int:
    response = api.post("/candidates", json={"email": f"c{n}@example.com", "first_name": f"C{n}"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_pages_are_newest_first_and_stable_while_objects_are_added(api: Api) -> None:
    made = [_candidate(api, n) for n in range(7)]
    seen: list[int] = []
    page = api.get("/candidates", params={"limit": 3}).json()
    while True:
        seen += [c["id"] for c in page["data"]]
        _candidate(api, 100 + len(seen))  # inserted between page reads
        if not page["has_more"]:
            break
        page = api.get("/candidates", params={"limit": 3, "starting_after": seen[-1]}).json()
    assert seen == sorted(made, reverse=True), "each object once, none skipped, in order"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"starting_after": "x"}, "starting_after"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_field(
    api: Api, params: dict[str, object], field: str
) -> None:
    response = api.get("/candidates", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_every_error_of_a_body_is_listed(api: Api) -> None:
    response = api.post(
        "/invitations",
        json={"assessment_id": "seven", "candidate": {"email": 5}, "extra_time_pct": 500, "colour": "red"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422 and body["title"] == "Invalid input"
    assert {e["field"] for e in body["errors"]} == {
        "assessment_id",
        "candidate.email",
        "extra_time_pct",
        "colour",
    }
    not_json = api.post("/invitations", content=b"{oops", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422


# ---- idempotency ---------------------------------------------------------------------------------------


@pytest.fixture
def invite_body(session: Session, api: Api) -> dict[str, object]:
    assessment = factories.published_assessment(
        session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1
    )
    session.commit()
    return {"assessment_id": assessment.id, "candidate": {"email": "ada@example.com"}, "send_email": False}


def test_a_retry_with_the_same_key_replays_the_first_response(
    api: Api, invite_body: dict[str, object]
) -> None:
    first = api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "order-1"})
    again = api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(api.get("/invitations").json()["data"]) == 1, "the invitation was made once"
    other = api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "order-2"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_the_same_key_with_another_body_is_422(api: Api, invite_body: dict[str, object]) -> None:
    assert api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "k"}).status_code == 201
    changed = {**invite_body, "extra_time_pct": 25}
    response = api.post("/invitations", json=changed, headers={"Idempotency-Key": "k"})
    assert response.status_code == 422 and "different request" in response.json()["detail"]


def test_a_duplicate_while_the_first_runs_is_409_and_an_abandoned_claim_is_taken_over(
    api: Api, session: Session, invite_body: dict[str, object]
) -> None:
    body = api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "warm-up"}).request.content
    # The first request has claimed the key and is still running (no response stored yet).
    key_row = session.scalars(
        update(IdempotencyKey)
        .where(IdempotencyKey.key == "warm-up")
        .values(key="busy")
        .returning(IdempotencyKey)
    ).one()
    key_row.response_status = key_row.response_body = None
    key_row.request_hash = idempotency.request_fingerprint("POST", "/api/v1/invitations", body)
    session.commit()
    busy = api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "busy"})
    assert busy.status_code == 409 and "still in progress" in busy.json()["detail"]
    key_row.created_at = utcnow() - idempotency.ABANDONED_AFTER - timedelta(seconds=1)
    session.commit()
    assert api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "busy"}).status_code == 201


def test_requests_that_did_not_run_are_not_stored(
    api: Api, invite_body: dict[str, object], session: Session
) -> None:
    missing = {**invite_body, "assessment_id": 999_999}
    assert api.post("/invitations", json=missing, headers={"Idempotency-Key": "nf"}).status_code == 404
    conflict_key = {"Idempotency-Key": "conflict"}
    invitation = api.post("/invitations", json=invite_body).json()
    assert api.post(f"/invitations/{invitation['id']}/cancel", headers=conflict_key).status_code == 200
    again = api.post(f"/invitations/{invitation['id']}/cancel", headers={"Idempotency-Key": "c2"})
    assert again.status_code == 409
    assert (
        api.post(f"/invitations/{invitation['id']}/cancel", headers={"Idempotency-Key": "c2"}).status_code
        == 409
    )
    assert session.query(IdempotencyKey).filter_by(key="c2").count() == 0, "a 409 leaves the key free"
    assert session.query(IdempotencyKey).filter_by(key="nf").count() == 1, "a 404 is an answer, kept"


def test_keys_expire_after_a_day(api: Api, invite_body: dict[str, object], session: Session) -> None:
    first = api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "daily"})
    session.execute(update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    later = api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "daily"})
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in later.headers


def test_an_overlong_key_is_refused(api: Api, invite_body: dict[str, object]) -> None:
    response = api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "Idempotency-Key"


# ---- rate limits ---------------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def limited_client(
    request: pytest.FixtureRequest, settings: Settings, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    """An app allowing 3 requests a minute per key, counting in memory or (as replicas do) in Redis."""
    broker = ""
    if request.param == "redis":
        redis.Redis.from_url(REDIS_URL).flushdb()
        broker = REDIS_URL
    limited = settings.model_copy(update={"api_rate_limit_per_minute": 3, "broker_url": broker})
    with TestClient(create_app(limited, session_factory=session_factory)) as client:
        yield client


def test_each_key_has_its_own_limit_with_headers_and_retry_after(
    limited_client: TestClient, session: Session, org: Organization
) -> None:
    key, other = new_key(session, org), new_key(session, org)
    responses = [
        limited_client.get("/api/v1/candidates", headers={"Authorization": f"Bearer {key}"}) for _ in range(4)
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].headers["ratelimit-policy"] == '"per-key";q=3;w=60'
    assert responses[2].headers["ratelimit"].startswith('"per-key";r=0;t=')
    refused = responses[3]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert (
        refused.headers["content-type"] == "application/problem+json"
        and "Retry after" in refused.json()["detail"]
    )
    fresh = limited_client.get("/api/v1/candidates", headers={"Authorization": f"Bearer {other}"})
    assert fresh.status_code == 200, "another key is counted apart"


def test_the_docs_page_is_served_with_its_own_assets(client: TestClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and "/api/v1/openapi.json" in page.text
    for asset in ("/static/dist/swagger-ui-bundle.js", "/static/dist/swagger-ui.css"):
        assert asset in page.text and client.get(asset).status_code == 200, (
            f"{asset}: `make assets` copies it"
        )
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1") and set(document["webhooks"]) >= {"result.scored"}


def test_the_reply_is_stored_before_it_is_sent(
    api: Api, session_factory: sessionmaker[Session], invite_body: dict[str, object]
) -> None:
    """A client that retries the moment it reads the answer must get the replay, never 409 "in progress":
    when the response starts going out, its stored copy is already there."""
    app = api.client.app  # type: ignore[attr-defined]
    seen: list[int | None] = []

    def stored_status() -> int | None:
        with session_factory() as session:
            found = select(IdempotencyKey.response_status).where(IdempotencyKey.key == "instant")
            return session.scalar(found)

    class Watch:
        """The app as it is, noting the stored status the moment the response starts going out."""

        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def watched(message: Message) -> None:
                if message["type"] == "http.response.start":
                    seen.append(stored_status())
                await send(message)

            await self.inner(scope, receive, watched)

    app.middleware_stack = Watch(app.build_middleware_stack())
    first = api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "instant"})
    assert first.status_code == 201
    assert seen == [201], "stored before the first byte left"


def test_every_answer_to_a_counted_key_carries_its_quota(api: Api, invite_body: dict[str, object]) -> None:
    """Successes, errors (404, 422, 409) and idempotent replays alike, as the document declares."""
    answers = {
        "ok": api.get("/candidates"),
        "not found": api.get("/invitations/999999"),
        "invalid": api.post("/candidates", json={"email": "not an email"}),
        "first": api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "quota"}),
        "replay": api.post("/invitations", json=invite_body, headers={"Idempotency-Key": "quota"}),
    }
    assert answers["replay"].headers["idempotent-replayed"] == "true"
    for name, response in answers.items():
        assert "ratelimit" in response.headers and "ratelimit-policy" in response.headers, name


def test_a_method_the_address_does_not_answer_is_405_with_allow(api: Api) -> None:
    response = api.request("DELETE", "/invitations")
    assert response.status_code == 405 and response.headers["content-type"] == "application/problem+json"
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}

"""A candidate's link opens their own attempt and nothing else, enumerated over every candidate route: another
candidate's questions and code runs are not found through it, a finished attempt cannot be changed through
it, and the link itself is a 256-bit secret the database does not hold."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.attempts.service import close_attempt, start_attempt
from app.core.security import token_digest
from app.grading.service import new_submission
from app.invitations.service import IssuedInvitation, invitation_for_token
from app.models import CloseReason, QuestionType, SubmissionKind
from tests import factories
from tests.candidates.test_service import everything_stored

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
SOURCE = "import numpy as np\ndef batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n    return x\n"


def candidate_routes(client: TestClient) -> list[tuple[str, str]]:
    app_routes = client.app.routes  # type: ignore[attr-defined]
    found = [
        (method, route.path)
        for route in iter_route_contexts(app_routes)
        if route.path and route.path.startswith("/i/{token}") and route.methods
        for method in route.methods
    ]
    assert len(found) >= 14
    return sorted(found)


BODIES = {
    "/answers/{item_id}": {"client_id": "tab-isolation", "seq": 10**6, "value": {"source": SOURCE}},
    "/flag": {"flagged": True},
    "/run": {"source": SOURCE},
    "/signals": {"signals": [{"kind": "page_hidden", "client_at": "2026-01-01T00:00:00Z"}]},
    "/preview": {"text": "hi"},
}


def request(client: TestClient, method: str, path: str, ids: dict[str, Any]) -> Any:
    """The route called with these ids and a body it accepts, so only the rule under test can refuse it."""
    url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m[1]]), path)
    if method not in WRITES:
        return client.get(url)
    if "/api/" not in path:
        return client.request(method, url, data={"action": "submit"})
    body = next((b for suffix, b in BODIES.items() if path.endswith(suffix)), {})
    return client.request(method, url, json=body)


def _coding_candidate(
    session: Session, org: Any, assessment: Any, email: str
) -> tuple[IssuedInvitation, int]:
    issued = factories.invitation(session, org, assessment, email=email)
    attempt = start_attempt(session, issued.invitation)
    coding = next(i for i in assessment.items if i.question_version.type == QuestionType.CODING)
    run = new_submission(session, attempt, coding, SubmissionKind.SAMPLE, SOURCE)
    return issued, run.id


def test_a_link_reaches_nothing_of_another_candidate(client: TestClient, session: Session) -> None:
    _, org = factories.owner(session)
    mine = factories.coding_assessment(session, org)
    theirs = factories.coding_assessment(session, org)
    me, _ = _coding_candidate(session, org, mine, "me@example.com")
    them, their_run = _coding_candidate(session, org, theirs, "them@example.com")
    session.commit()
    ids = {"item_id": theirs.items[1].id, "submission_id": their_run}
    before = everything_stored(session)
    for method, path in candidate_routes(client):
        if not re.search(r"\{(item_id|submission_id)\}", path):
            continue
        response = request(client, method, path, {"token": me.token, **ids})
        assert response.status_code == 404, (method, path, response.status_code, response.text[:200])
    session.expire_all()
    assert everything_stored(session) == before, "a refused request changed something"
    assert them.invitation.attempt is not None and them.invitation.attempt.answers == []


def test_a_finished_attempt_cannot_be_changed_through_its_link(client: TestClient, session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org)
    issued, run_id = _coding_candidate(session, org, assessment, "done@example.com")
    attempt = issued.invitation.attempt
    assert attempt is not None
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    session.commit()
    ids = {"token": issued.token, "item_id": assessment.items[1].id, "submission_id": run_id}
    before = everything_stored(session)
    for method, path in candidate_routes(client):
        if method not in WRITES or path.endswith("/preview"):
            continue
        response = request(client, method, path, ids)
        if path.endswith("/api/submit"):  # idempotent: a retried submit is told it is done
            assert response.status_code == 200 and response.json()["closed"] is True
        elif "/api/" in path:
            assert response.status_code == 410, (method, path, response.status_code, response.text[:200])
        else:  # the pages send a finished candidate on to the page that says so
            assert response.status_code == 303, path
            assert client.get(response.headers["location"], follow_redirects=True).url.path.endswith("/done")
    session.expire_all()
    assert everything_stored(session) == before, "a finished attempt changed"
    assert attempt.close_reason == CloseReason.SUBMITTED


@pytest.mark.parametrize("count", [300])
def test_links_are_256_bit_secrets_that_the_database_does_not_hold(session: Session, count: int) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    issued = [factories.invitation(session, org, assessment, email=f"c{n}@example.com") for n in range(count)]
    tokens = [i.token for i in issued]
    assert len(set(tokens)) == count
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 256 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    # Each lookup is by the token's SHA-256: comparing digests in the index tells nothing about the token.
    assert all(i.invitation.token_hash == token_digest(i.token) for i in issued)
    assert invitation_for_token(session, tokens[7]) is issued[7].invitation
    stored = everything_stored(session)
    assert not any(token in stored for token in tokens[:20])
    # Which bits differ between two links is random: no shared prefix beyond chance.
    prefixes = {token[:4] for token in tokens}
    assert len(prefixes) > count * 0.95

"""Every route of the app, enumerated: a malformed id or token in its address (too large for the database,
negative, not a number, very long, odd characters) gets a 4xx, never a server error. A new route is covered
the day it is added."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from app.api.service import SCOPES, create_api_key
from app.attempts.service import run_samples, start_attempt
from app.emails.service import queue_email
from app.invitations.service import IssuedInvitation
from app.models import Assessment, EmailMessage, Event, InvitationStatus, Organization, QuestionType, utcnow
from app.webhooks.service import create_endpoint
from tests import factories
from tests.forms import csrf_token, sign_in

MALFORMED = [
    "99999999999999999999999",
    str(2**63),
    "-1",
    "0",
    "1.5",
    "1e3",
    "abc",
    "%00",
    "é",
    "x" * 3000,
]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _everything_reachable(client: TestClient, session: Session) -> tuple[Assessment, IssuedInvitation, str]:
    """A published assessment, a started attempt, an API key with every scope, and the owner signed in."""
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    issued = factories.invitation(session, org, assessment)
    start_attempt(session, issued.invitation)
    _, key = create_api_key(session, factories.operator(session, org), name="all", scopes=list(SCOPES))
    session.commit()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    return assessment, issued, key


def test_no_route_fails_on_a_malformed_id_or_token(client: TestClient, session: Session) -> None:
    _, issued, key = _everything_reachable(client, session)
    csrf = csrf_token(client)
    valid = {"token": issued.token}

    app_routes = client.app.routes  # type: ignore[attr-defined]
    routes = [r for r in iter_route_contexts(app_routes) if r.methods and r.path and "{" in r.path]
    assert len(routes) >= 60
    checked = 0
    for route in routes:
        params = re.findall(r"\{(\w+)\}", route.path)
        for attacked in params:
            for value in MALFORMED:
                url = route.path
                for param in params:
                    chosen = value if param == attacked else valid.get(param, "1")
                    url = url.replace(f"{{{param}}}", quote(chosen, safe=""))
                for method in route.methods:
                    kwargs: dict[str, object] = {"headers": {"Authorization": f"Bearer {key}"}}
                    if method in WRITES:
                        kwargs |= {"json": {}} if "/api/" in url else {"data": {"csrf_token": csrf}}
                    response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
                    assert 400 <= response.status_code < 500, (
                        method,
                        route.path,
                        attacked,
                        value[:30],
                        response.status_code,
                    )
                    checked += 1
    assert checked >= 600


# Values that once ended in a 500: a digit str.isdigit() accepts and int() refuses, an integer past Python's
# 4300-digit conversion limit, UTF-8 bytes of a lone surrogate, a NUL.
ODD_QUERY_VALUES = ["²", "9" * 5000, "%ED%A0%80", "%00", "-1"]
# A JSON body can spell a lone surrogate, which no database or JSON encoder accepts.
SURROGATE_BODY = '{"value": {"text": "a\\ud800"}, "text": "\\udfff", "source": "\\ud800", "name": "\\ud800"}'


def test_no_route_fails_on_an_odd_query_value_or_a_lone_surrogate_in_its_body(
    client: TestClient, session: Session
) -> None:
    assessment, issued, key = _everything_reachable(client, session)
    headers = {"Authorization": f"Bearer {key}"}
    item_id = str(assessment.items[0].id)
    valid = {"token": issued.token, "item_id": item_id, "assessment_id": str(assessment.id)}

    queried = bodied = 0
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        dependant = getattr(route, "dependant", None)
        if dependant is None or not context.methods:
            continue
        url = context.path
        for param in re.findall(r"\{(\w+)\}", url):
            url = url.replace(f"{{{param}}}", quote(valid.get(param, "1"), safe=""))
        for method in context.methods:
            for query in dependant.query_params:
                for value in ODD_QUERY_VALUES:
                    response = client.request(method, f"{url}?{query.alias}={value}", headers=headers)
                    assert response.status_code < 500, (method, context.path, query.alias, value[:20])
                    queried += 1
            if method in WRITES and route.body_field is not None:
                json_headers = headers | {"Content-Type": "application/json"}
                response = client.request(method, url, content=SURROGATE_BODY, headers=json_headers)
                assert 400 <= response.status_code < 500, (method, context.path, response.status_code)
                bodied += 1
    assert queried >= 50 and bodied >= 15, (queried, bodied)


# What a read may still write: the signed-in session's last activity, a key's last use, and the audit trail
# of who exported personal data.
READ_BOOKKEEPING = ("user_sessions", "api_keys", "audit_log")


def test_no_read_writes_domain_data(client: TestClient, session: Session, engine: Engine) -> None:
    """Every GET route, with real ids, on an invitation whose link expired unused: none writes a row of the
    domain or announces anything (marking the expiry and announcing it is the sweep's job)."""
    assessment, issued, key = _everything_reachable(client, session)
    org = session.get(Organization, assessment.organization_id)
    assert org is not None
    expired = factories.invitation(session, org, assessment, "late@example.com")
    expired.invitation.expires_at = utcnow() - timedelta(minutes=1)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    endpoint = create_endpoint(
        session, factories.owner_of(session, org), url="https://hooks.example.com/in", settings=settings
    )
    attempt = issued.invitation.attempt
    assert attempt is not None
    coding = next(i for i in assessment.items if i.question_version.type == QuestionType.CODING)
    run = run_samples(session, attempt, coding.id, "x = 1", grace=timedelta(seconds=30), per_minute=100)
    event = session.scalars(select(Event).order_by(Event.id)).first()
    message = session.scalars(select(EmailMessage)).first() or queue_email(
        session, to="x@example.com", template="password_reset", context={"link": "L"}, organization=None
    )
    session.commit()
    ids = {
        "assessment_id": assessment.id,
        "candidate_id": expired.invitation.candidate_id,
        "invitation_id": expired.invitation.id,
        "endpoint_id": endpoint.id,
        "event_id": event.public_id if event else "",
        "message_id": message.id,
        "question_version_id": coding.question_version_id,
        "submission_id": run.id,
    }
    writes: list[str] = []

    def spot_writes(conn: object, cursor: object, statement: str, *args: object) -> None:
        verb = statement.lstrip().split(" ", 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE") and not any(t in statement for t in READ_BOOKKEEPING):
            writes.append(statement.split("\n", 1)[0][:120])

    visited = 0
    sa_event.listen(engine, "before_cursor_execute", spot_writes)
    try:
        for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
            if not route.methods or "GET" not in route.methods or not route.path:
                continue
            for token in {expired.token, issued.token} if "{token}" in route.path else {""}:
                url = route.path.replace("{token}", token)
                for param, value in ids.items():
                    url = url.replace(f"{{{param}}}", str(value))
                writes.clear()
                response = client.get(url, headers={"Authorization": f"Bearer {key}"})
                assert response.status_code < 500, (url, response.status_code)
                assert writes == [], (route.path, writes)
                visited += 1
    finally:
        sa_event.remove(engine, "before_cursor_execute", spot_writes)
    assert visited >= 46
    session.expire_all()
    assert expired.invitation.status == InvitationStatus.SENT, "still unmarked: the sweep marks it"
    assert expired.invitation.current_status == InvitationStatus.EXPIRED

"""Sign-in, lockout and server-side sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.service import authenticate, create_owner, resolve_session
from app.core.errors import Conflict, RateLimited, Unauthenticated, ValidationFailed
from app.models import Role
from tests import factories
from tests.forms import post_form

TTL = timedelta(hours=1)


def sign_in(session: Session, email: str, password: str) -> str:
    return authenticate(session, email=email, password=password, max_failures=3, ttl=TTL).token


def test_owner_signs_in_and_the_session_resolves(session: Session) -> None:
    user, org = factories.owner(session, email="Owner@Acme.Test")
    assert user.email == "owner@acme.test"
    token = sign_in(session, "OWNER@acme.test", factories.PASSWORD)
    principal = resolve_session(session, token)
    assert (principal.user.id, principal.organization.id, principal.role) == (user.id, org.id, Role.OWNER)
    assert user.password_hash != factories.PASSWORD and user.password_hash.startswith("$argon2")


def test_wrong_password_and_unknown_email_get_the_same_message(session: Session) -> None:
    factories.owner(session)
    messages = set()
    for email, password in (("owner@acme.test", "wrong password!"), ("nobody@acme.test", factories.PASSWORD)):
        with pytest.raises(Unauthenticated) as raised:
            sign_in(session, email, password)
        messages.add(raised.value.message)
    assert messages == {"Email or password is incorrect."}


def test_repeated_failures_lock_the_account_even_for_the_right_password(session: Session) -> None:
    factories.owner(session)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            sign_in(session, "owner@acme.test", "wrong password!")
    with pytest.raises(RateLimited) as raised:
        sign_in(session, "owner@acme.test", factories.PASSWORD)
    assert raised.value.retry_after > 60


def test_weak_password_and_duplicate_email_are_refused(session: Session) -> None:
    with pytest.raises(ValidationFailed, match="at least 10"):
        create_owner(session, email="a@b.test", password="short", org_name="X")
    factories.owner(session, email="dup@b.test")
    from app.accounts.service import create_user

    with pytest.raises(Conflict):
        create_user(session, email="DUP@b.test", password="long enough pw")


def test_logout_revokes_the_server_side_session(client: TestClient, session: Session) -> None:
    factories.owner(session)
    session.commit()
    response = post_form(client, "/login", data={"email": "owner@acme.test", "password": factories.PASSWORD})
    cookie = response.cookies.get("assay_session")
    assert cookie and "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=lax" in response.headers["set-cookie"].lower()
    assert client.get("/").status_code == 200
    post_form(client, "/logout")
    client.cookies.set("assay_session", cookie)  # a stolen copy of the cookie is useless after logout
    assert client.get("/").headers["location"].startswith("/login")


def test_login_page_shows_errors_and_ignores_offsite_next(client: TestClient, session: Session) -> None:
    factories.owner(session)
    session.commit()
    bad = post_form(client, "/login", data={"email": "owner@acme.test", "password": "nope nope nope"})
    assert bad.status_code == 401 and "Email or password is incorrect." in bad.text
    ok = post_form(
        client,
        "/login",
        data={"email": "owner@acme.test", "password": factories.PASSWORD, "next": "//evil.example/x"},
    )
    assert ok.headers["location"] == "/"


def test_viewer_cannot_change_anything(client: TestClient, session: Session) -> None:
    from app.accounts.service import create_user
    from app.models import Membership

    _, org = factories.owner(session)
    viewer = create_user(session, email="viewer@acme.test", password=factories.PASSWORD)
    session.add(Membership(organization=org, user=viewer, role=Role.VIEWER))
    assessment = factories.published_assessment(session, org)
    session.commit()
    post_form(client, "/login", data={"email": "viewer@acme.test", "password": factories.PASSWORD})
    assert client.get(f"/assessments/{assessment.id}").status_code == 200
    refused = post_form(client, f"/assessments/{assessment.id}/invitations", data={"email": "x@example.com"})
    assert refused.status_code == 403 and "viewer" in refused.text
    assert client.get("/assessments/new").status_code == 403

"""Sign-in and password-reset forms under attack: guessing from one place and flooding an inbox are slowed
down with a clear message, counted across replicas when they share Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.main import create_app
from app.models import EmailMessage
from tests import factories
from tests.forms import post_form

REDIS_URL = "redis://127.0.0.1:6379/15"


def _app(settings: Settings, session_factory: sessionmaker[Session], **limits: object) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits), session_factory=session_factory))


@pytest.fixture
def strict(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with _app(settings, session_factory, sign_ins_per_minute=3, password_resets_per_hour=2) as client:
        yield client


def _sign_in(client: TestClient, email: str, password: str) -> int:
    data = {"email": email, "password": password, "next": "/"}
    return post_form(client, "/login", data, follow_redirects=False).status_code


def test_sign_ins_from_one_address_are_limited_across_accounts(strict: TestClient, session: Session) -> None:
    factories.owner(session, email="owner@acme.test")
    # Guessing one password each for many accounts (credential stuffing) is not stopped by per-account locks.
    guesses = [_sign_in(strict, f"user{n}@acme.test", "guess") for n in range(3)]
    assert guesses == [401, 401, 401]
    refused = post_form(strict, "/login", {"email": "owner@acme.test", "password": factories.PASSWORD})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Too many sign-in attempts from here. Wait" in refused.text
    assert "owner@acme.test" in refused.text, "the form keeps what was typed"


def test_password_reset_requests_are_limited_per_email_address(strict: TestClient, session: Session) -> None:
    factories.owner(session, email="owner@acme.test")
    answers = [
        post_form(strict, "/password/forgot", {"email": "Owner@Acme.test"}, follow_redirects=False)
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [303, 303, 429]
    assert "Too many password reset requests. Wait" in answers[2].text
    assert "minutes" in answers[2].text and int(answers[2].headers["retry-after"]) > 60
    sent = session.scalar(
        select(func.count()).select_from(EmailMessage).where(EmailMessage.to_address == "owner@acme.test")
    )
    assert sent == 2, "the refused request sent nothing"


def test_password_reset_requests_are_limited_per_client_address(strict: TestClient) -> None:
    codes = [
        post_form(
            strict, "/password/forgot", {"email": f"nobody{n}@acme.test"}, follow_redirects=False
        ).status_code
        for n in range(3)
    ]
    assert codes == [303, 303, 429], "probing many addresses from one place is slowed down too"


def test_replicas_sharing_redis_count_sign_ins_together(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()
    limits = {"sign_ins_per_minute": 2, "broker_url": REDIS_URL}
    with _app(settings, session_factory, **limits) as one, _app(settings, session_factory, **limits) as two:
        assert _sign_in(one, "a@acme.test", "guess") == 401
        assert _sign_in(two, "b@acme.test", "guess") == 401
        assert _sign_in(one, "c@acme.test", "guess") == 429


def test_signing_in_never_adopts_a_session_planted_before(client: TestClient, session: Session) -> None:
    """Session fixation: an attacker who sets the victim's cookie (to a value of their choosing, or to a
    session of their own) gains nothing when the victim signs in."""
    factories.owner(session, email="victim@acme.test")
    factories.owner(session, email="attacker@evil.test", org="Evil")
    session.commit()
    attacker = TestClient(client.app, follow_redirects=False)
    signed = post_form(attacker, "/login", {"email": "attacker@evil.test", "password": factories.PASSWORD})
    assert signed.status_code == 303
    attackers_session = attacker.cookies["assay_session"]
    for planted in ("chosen-by-the-attacker-0123456789", attackers_session):
        client.cookies.clear()
        client.cookies.set("assay_session", planted)
        signed_in = post_form(client, "/login", {"email": "victim@acme.test", "password": factories.PASSWORD})
        issued = signed_in.cookies["assay_session"]
        assert signed_in.status_code == 303 and issued != planted
        victim_home = client.get("/")
        assert victim_home.status_code == 200 and "victim@acme.test" in victim_home.text
        assert "attacker@evil.test" not in victim_home.text
    attacker.cookies.set("assay_session", attackers_session)
    home = attacker.get("/")
    assert "attacker@evil.test" in home.text and "victim@acme.test" not in home.text


def test_cookies_are_secure_in_production(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    production = settings.model_copy(
        update={"environment": "production", "secret_key": SecretStr("p" * 48), "base_url": "https://a.test"}
    )
    app = create_app(production, session_factory=session_factory)
    with TestClient(app, base_url="https://a.test", follow_redirects=False) as client:
        with session_factory() as session:
            factories.owner(session)
            session.commit()
        response = post_form(client, "/login", {"email": "owner@acme.test", "password": factories.PASSWORD})
        assert response.status_code == 303, response.text[:300]
        (issued,) = [c for c in response.headers.get_list("set-cookie") if c.startswith("assay_session=")]
        assert all(flag in issued.lower() for flag in ("httponly", "samesite=lax", "secure"))
        client.cookies.clear()
        (csrf,) = [
            c for c in client.get("/login").headers.get_list("set-cookie") if c.startswith("assay_csrf=")
        ]
        assert "secure" in csrf.lower() and "httponly" in csrf.lower()

"""Secrets never reach the logs, the error pages or the API's replies: every flow that carries one is driven
against the real server (`assay serve`, its own logging configuration), then its whole log is searched."""

from __future__ import annotations

import re
import secrets
import time

import httpx2 as httpx
from sqlalchemy import select

from app.api.service import create_api_key
from app.invitations.service import invitation_for_token
from app.models import EmailMessage, Invitation, Organization, QuestionType
from app.web.csrf import CSRF_COOKIE, CSRF_FIELD
from tests import factories
from tests.web.conftest import LiveServer


def _form(client: httpx.Client, url: str, data: dict[str, str]) -> httpx.Response:
    if CSRF_COOKIE not in client.cookies:
        client.get("/login")
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    return client.post(url, data={**data, CSRF_FIELD: token.group(1)})


def _last_link(live_server: LiveServer, to: str, prefix: str) -> str:
    with live_server.sessions() as session:
        message = session.scalars(
            select(EmailMessage).where(EmailMessage.to_address == to).order_by(EmailMessage.id.desc())
        ).first()
        assert message is not None, f"no email to {to}"
        found = re.search(rf"https?://[^/\s]+({prefix}[A-Za-z0-9_-]+)", message.text_body)
        assert found, message.text_body
        return found.group(1)


def test_no_secret_of_any_flow_is_logged_or_sent_back(live_server: LiveServer) -> None:
    secret_values: dict[str, str] = {}
    owner, _ = live_server.recruiter()
    wrong_password = f"wrong-{secrets.token_hex(8)}"
    new_password = f"renewed-{secrets.token_hex(8)}"
    with httpx.Client(base_url=live_server.base, follow_redirects=False, timeout=30) as web:
        # Sign-in: a wrong password, then the right one; the session and CSRF cookies are secrets too.
        refused = _form(web, "/login", {"email": owner, "password": wrong_password})
        assert refused.status_code in (401, 422) and wrong_password not in refused.text
        assert _form(web, "/login", {"email": owner, "password": factories.PASSWORD}).status_code == 303
        secret_values |= {
            "wrong password": wrong_password,
            "password": factories.PASSWORD,
            **{f"cookie {name}": value for name, value in web.cookies.items()},
        }

        # A teammate's invitation link.
        teammate = f"mate-{secrets.token_hex(4)}@example.com"
        assert _form(web, "/team/invitations", {"email": teammate, "role": "viewer"}).status_code == 303
        join = _last_link(live_server, teammate, "/join/")
        assert web.get(join).status_code == 200
        secret_values["join token"] = join.removeprefix("/join/")

        # A password reset, through its emailed link, with passwords that do not match first.
        with httpx.Client(base_url=live_server.base, follow_redirects=False, timeout=30) as anonymous:
            assert _form(anonymous, "/password/forgot", {"email": owner}).status_code == 303
            reset = _last_link(live_server, owner, "/password/reset/")
            mismatch = _form(
                anonymous, reset, {"new_password": new_password, "confirm_password": new_password + "x"}
            )
            assert mismatch.status_code == 422 and new_password not in mismatch.text
            changed = _form(
                anonymous, reset, {"new_password": new_password, "confirm_password": new_password}
            )
            assert changed.status_code == 303
        secret_values |= {"reset token": reset.removeprefix("/password/reset/"), "new password": new_password}

    # A candidate: the link, the start, an autosave; then a guessed link, shaped like a real one.
    link = live_server.invite()
    token = link.rsplit("/", 1)[1]
    guess = secrets.token_urlsafe(32)
    with httpx.Client(base_url=live_server.base, follow_redirects=False, timeout=30) as candidate:
        assert candidate.get(f"/i/{token}").status_code == 200
        assert candidate.post(f"/i/{token}/start").status_code == 303
        assert candidate.get(f"/i/{token}/api/state").status_code == 200
        with live_server.sessions() as session:
            written = [
                item.id
                for item in invitation_for_token(session, token).assessment.items
                if item.question_version.type == QuestionType.WRITTEN
            ]
        saved = candidate.put(
            f"/i/{token}/api/answers/{written[0]}",
            json={"value": {"text": "x"}, "client_id": "tab-0001", "seq": 1},
        )
        assert saved.status_code == 200, saved.text
        assert candidate.get(f"/i/{guess}").status_code == 404
        assert candidate.get(f"/i/{guess}/api/state").status_code == 404
    secret_values |= {"candidate token": token, "guessed token": guess}

    # An integration: its key, a wrong key, and a webhook endpoint's signing secret (shown once only).
    with live_server.sessions() as session:
        org = session.scalar(select(Organization).join(Invitation).order_by(Invitation.id.desc()))
        assert org is not None
        _, key = create_api_key(
            session, factories.operator(session, org), name="ATS", scopes="webhooks:manage"
        )
        session.commit()
    wrong_key = key[:-6] + "abcdef"
    with httpx.Client(base_url=f"{live_server.base}/api/v1", timeout=30) as api:
        assert (
            api.get("/webhook_endpoints", headers={"Authorization": f"Bearer {wrong_key}"}).status_code == 401
        )
        auth = {"Authorization": f"Bearer {key}"}
        made = api.post("/webhook_endpoints", headers=auth, json={"url": "http://127.0.0.1:9/hook"})
        assert made.status_code == 201, made.text
        webhook_secret = made.json()["secret"]
        assert webhook_secret not in api.get(f"/webhook_endpoints/{made.json()['id']}", headers=auth).text
        assert webhook_secret not in api.get("/webhook_endpoints", headers=auth).text
        assert webhook_secret not in api.get("/events", headers=auth).text
    secret_values |= {"API key": key, "wrong API key": wrong_key, "webhook secret": webhook_secret}
    secret_values["admin password"] = "browser-test-password"  # ASSAY_ADMIN_PASSWORD of the live server

    time.sleep(0.5)  # the server writes its log lines as it answers; let the last ones land
    log = live_server.log.read_text()
    assert '"GET /i/[redacted] HTTP/1.1" 200' in log or "GET /i/[redacted]" in log, (
        "no access lines to search"
    )
    assert "/password/reset/[redacted]" in log and "/join/[redacted]" in log
    assert [name for name, value in secret_values.items() if value and value in log] == []
    # The first start prints the sample candidate's link once, for the operator to try; nothing else may.
    banner = re.findall(r"Sample candidate link: \S+(/i/[A-Za-z0-9_-]+)", log)
    links = re.findall(r"/i/(?!\[redacted\])[A-Za-z0-9_-]{16,}", log)
    assert len(banner) == 1 and [link for link in links if link not in banner] == []

"""Posting recruiter forms the way a browser does: with the CSRF token the page would carry."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from app.web.csrf import CSRF_COOKIE, CSRF_FIELD, token_for


def csrf_token(client: TestClient) -> str:
    if CSRF_COOKIE not in client.cookies:
        client.get("/login")  # any page sets the cookie
    return token_for(client.app.state.settings, client.cookies[CSRF_COOKIE])  # type: ignore[attr-defined]


def post_form(
    client: TestClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any
) -> httpx.Response:
    return client.post(url, data={**(data or {}), CSRF_FIELD: csrf_token(client)}, **kwargs)


def sign_in(client: TestClient, email: str, password: str) -> None:
    response = post_form(client, "/login", {"email": email, "password": password, "next": "/"})
    assert response.status_code == 303, response.text

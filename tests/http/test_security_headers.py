"""Every response carries the security headers; the script nonce is fresh per response, and no page has an
inline script without it."""

from __future__ import annotations

import re

import httpx2 as httpx
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.http.security_headers import security_headers
from app.main import create_app

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


def nonce_of(response: httpx.Response) -> str:
    found = re.search(r"'nonce-([A-Za-z0-9_-]+)'", response.headers["content-security-policy"])
    assert found, response.headers["content-security-policy"]
    return found.group(1)


def assert_only_nonced_inline_scripts(response: httpx.Response) -> None:
    """Scripts are Assay's files, data blocks the browser never runs, or inline with this response's nonce."""
    nonce = nonce_of(response)
    for attributes in SCRIPT_TAG.findall(response.text):
        if "src=" in attributes or 'type="application/json"' in attributes:
            continue
        assert f'nonce="{nonce}"' in attributes, f"inline <script{attributes}> without the response's nonce"


def test_every_kind_of_response_carries_the_policy(client: TestClient) -> None:
    paths = ("/login", "/healthz", "/api/v1/assessments", "/no-such-page", "/i/not-a-token", "/api/v1/docs")
    for path in paths:
        response = client.get(path)
        headers = response.headers
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, path
        assert "script-src 'self' 'nonce-" in policy and "unsafe-inline" not in policy.split("style-src")[0]
        assert headers["referrer-policy"] == "no-referrer", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert "strict-transport-security" not in headers, "HSTS only in production (behind HTTPS)"
        assert_only_nonced_inline_scripts(response)


def test_the_nonce_is_new_for_every_response(client: TestClient) -> None:
    nonces = {nonce_of(client.get("/login")) for _ in range(20)}
    assert len(nonces) == 20 and all(len(n) >= 24 for n in nonces)


def test_production_adds_hsts(settings: Settings, session_factory) -> None:  # type: ignore[no-untyped-def]
    production = settings.model_copy(update={"environment": "production"})
    with TestClient(create_app(production, session_factory=session_factory)) as client:
        assert client.get("/healthz").headers["strict-transport-security"] == "max-age=63072000"
    assert "Strict-Transport-Security" not in security_headers(production=False)

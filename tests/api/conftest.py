"""An API client with a key of the organization under test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from app.api.service import SCOPES, create_api_key
from app.models import Organization
from tests import factories


@dataclass
class Api:
    client: TestClient
    key: str
    org: Organization

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> Response:
        return self.client.request(
            method, f"/api/v1{path}", headers={"Authorization": f"Bearer {self.key}", **(headers or {})}, **kw
        )

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.request("DELETE", path, **kw)


def new_key(session: Session, org: Organization, scopes: list[str] | None = None) -> str:
    _, key = create_api_key(
        session, factories.operator(session, org), name="test", scopes=scopes or list(SCOPES)
    )
    session.commit()
    return key


@pytest.fixture
def org(session: Session) -> Organization:
    _, organization = factories.owner(session, email="owner@example.com", org="Acme")
    session.commit()
    return organization


@pytest.fixture
def api(client: TestClient, session: Session, org: Organization) -> Api:
    return Api(client, new_key(session, org), org)


@pytest.fixture
def other_api(client: TestClient, session: Session) -> Api:
    """A key of another organization, with every scope."""
    _, other = factories.owner(session, email="rival@example.com", org="Rival")
    session.commit()
    return Api(client, new_key(session, other), other)

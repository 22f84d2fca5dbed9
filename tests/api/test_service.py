"""API keys: their form, how they are stored, scopes, revocation and last use."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.api.service import SCOPES, authenticate_key, create_api_key, parse_scopes, revoke_api_key
from app.core.errors import Unauthenticated, ValidationFailed
from app.models import ApiKey, Organization, utcnow
from tests import factories


def test_a_key_has_the_documented_form_and_only_its_digest_is_stored(
    session: Session, org: Organization
) -> None:
    row, key = create_api_key(
        session, factories.operator(session, org), name="Greenhouse", scopes="results:read"
    )
    assert re.fullmatch(r"ak_live_[0-9A-Za-z]{38}", key)
    stored = session.get(ApiKey, row.id)
    assert stored is not None and key not in (stored.key_hash, stored.prefix)
    assert key.startswith(stored.prefix) and key.endswith(stored.last_four)
    assert len(stored.prefix) == len("ak_live_") + 8


def test_a_typo_fails_the_checksum_before_any_lookup(session: Session, org: Organization) -> None:
    _, key = create_api_key(session, factories.operator(session, org), name="", scopes=list(SCOPES))
    assert authenticate_key(session, key).organization.id == org.id
    swapped = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]
    for wrong in (swapped, key[:-1], key + "x", "ak_live_" + "0" * 38, "", "Bearer " + key):
        with pytest.raises(Unauthenticated):
            authenticate_key(session, wrong)


def test_revoked_keys_stop_working_and_use_is_recorded(session: Session, org: Organization) -> None:
    row, key = create_api_key(session, factories.operator(session, org), name="", scopes=["results:read"])
    assert row.last_used_at is None
    authenticate_key(session, key)
    first_use = row.last_used_at
    assert first_use is not None and utcnow() - first_use < timedelta(seconds=5)
    revoke_api_key(session, factories.operator(session, org), row.id)
    with pytest.raises(Unauthenticated):
        authenticate_key(session, key)


def test_scopes_are_checked_by_name(session: Session, org: Organization) -> None:
    assert parse_scopes("results:read, assessments:read,results:read") == ["assessments:read", "results:read"]
    with pytest.raises(ValidationFailed, match="admin"):
        parse_scopes(["results:read", "admin"])
    with pytest.raises(ValidationFailed, match="at least one"):
        parse_scopes("")
    principal = authenticate_key(
        session,
        create_api_key(session, factories.operator(session, org), name="", scopes=["results:read"])[1],
    )
    principal.require_scope("results:read")
    with pytest.raises(Exception, match="lacks the 'invitations:write' scope"):
        principal.require_scope("invitations:write")

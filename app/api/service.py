"""API keys: made once and shown once, stored as a SHA-256 digest with a prefix to find them and the last
four characters to recognise them, limited by scopes, revocable, with their last use recorded.

A key reads `ak_live_<32 random base62 characters><6 base62 checksum characters>`. The checksum (CRC32 of
the rest, as GitHub's tokens do) lets a typo or a truncated paste be refused without a database lookup, and
lets secret scanners recognise a real key.

A test key (`ak_test_…`) acts on the organization's test data, an organization of its own (created with the
first test key, pointing back at the live one, with no members): what a test key creates, a live key and
Assay's pages never see, and the other way round. Its emails are kept in the outbox, never sent. A key may
expire; after `expires_at` it is refused as a revoked one is.
"""

from __future__ import annotations

import secrets
import string
import zlib
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.accounts.principal import Actor, ApiPrincipal, Principal, acting_user
from app.accounts.service import create_organization
from app.audit.service import record
from app.core.errors import FieldError, Forbidden, Unauthenticated, ValidationFailed
from app.core.security import digests_match, token_digest
from app.core.tenancy import get_owned
from app.models import ApiKey, Organization, utcnow

KEY_PREFIX = "ak_live_"
TEST_KEY_PREFIX = "ak_test_"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
RANDOM_CHARS = 32  # 32 * log2(62) ≈ 190 bits
CHECKSUM_CHARS = 6
LOOKUP_CHARS = 8  # of the random part, stored in the clear with the prefix to find the row

SCOPES: dict[str, str] = {
    "assessments:read": "List and read assessments.",
    "assessments:write": "Create draft assessments and change their settings.",
    "candidates:read": "List and read candidates.",
    "candidates:write": "Create candidates and change their names.",
    "candidates:personal_data": "Export everything held on a candidate, and erase it on their request. "
    "Only an owner can create a key with this scope.",
    "invitations:read": "List and read invitations.",
    "invitations:write": "Invite candidates, cancel and resend invitations.",
    "results:read": "Read candidates' results.",
    "webhooks:manage": "Manage webhook endpoints and read events and deliveries.",
}
# What only an owner may hand to an integration, as only an owner may do it in Assay's pages.
OWNER_SCOPES = frozenset({"candidates:personal_data"})
MAX_NAME_LENGTH = 200
# Writing last use on every request would turn reads into writes; once a minute is precise enough.
LAST_USE_PRECISION = timedelta(minutes=1)


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_CHARS)


def _well_formed(key: str) -> bool:
    prefix = key[: len(KEY_PREFIX)]
    if prefix not in (KEY_PREFIX, TEST_KEY_PREFIX) or len(key) != len(prefix) + RANDOM_CHARS + CHECKSUM_CHARS:
        return False
    body, checksum = key[:-CHECKSUM_CHARS], key[-CHECKSUM_CHARS:]
    return all(c in BASE62 for c in key[len(prefix) :]) and digests_match(checksum, _checksum(body))


def _lookup_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + LOOKUP_CHARS]


def parse_scopes(raw: list[str] | str) -> list[str]:
    """Known scopes, deduplicated, in a stable order; anything else is refused by name."""
    items = raw.split(",") if isinstance(raw, str) else raw
    chosen = {s.strip() for s in items if s.strip()}
    unknown = sorted(chosen - SCOPES.keys())
    if unknown or not chosen:
        message = f"unknown scope(s): {', '.join(unknown)}" if unknown else "choose at least one scope"
        raise ValidationFailed(
            f"{message}. Known scopes: {', '.join(SCOPES)}.", errors=[FieldError("scopes", message)]
        )
    return [s for s in SCOPES if s in chosen]


def create_api_key(
    session: Session,
    actor: Actor,
    *,
    name: str,
    scopes: list[str] | str,
    test: bool = False,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """The new row and the key itself, which exists nowhere else once returned: show it once. Audited."""
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed(
            "A key cannot expire in the past.", errors=[FieldError("expires_at", "choose a later time")]
        )
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            "The key's name is too long.",
            errors=[FieldError("name", f"at most {MAX_NAME_LENGTH} characters")],
        )
    chosen = parse_scopes(scopes)
    if isinstance(actor, Principal) and OWNER_SCOPES & set(chosen) and not actor.is_owner:
        raise Forbidden(
            f"Only an owner can create a key with {', '.join(sorted(OWNER_SCOPES & set(chosen)))}; "
            f"your role is {actor.role.value}."
        )
    if test:
        test_organization(session, actor.organization)  # ready before the key's first call
    body = (TEST_KEY_PREFIX if test else KEY_PREFIX) + "".join(
        secrets.choice(BASE62) for _ in range(RANDOM_CHARS)
    )
    key = body + _checksum(body)
    created_by = acting_user(actor)
    row = ApiKey(
        organization_id=actor.organization.id,
        name=name,
        prefix=_lookup_prefix(key),
        last_four=key[-4:],
        key_hash=token_digest(key),
        scopes=chosen,
        created_by_id=created_by.id if created_by else None,
        test=test,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "api_key.created",
        row,
        scopes=row.scopes,
        name=row.name,
        test=test,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    return row, key


def test_organization(session: Session, org: Organization) -> Organization:
    """Where `org`'s test keys act: made the first time it is needed, with no members (nobody signs in to
    it), so every tenancy rule that keeps organizations apart keeps test data apart too."""
    found = session.scalar(select(Organization).where(Organization.live_organization_id == org.id))
    if found is not None:
        return found
    sandbox = create_organization(session, f"{org.name} (test data)")
    sandbox.live_organization_id = org.id
    session.flush()
    return sandbox


def authenticate_key(session: Session, key: str, *, ip: str = "") -> ApiPrincipal:
    """The caller a key stands for. Every failure reads the same, so a probe learns nothing."""
    refused = Unauthenticated("The API key is missing, malformed, revoked or unknown.")
    if not _well_formed(key):
        raise refused
    row = session.scalar(
        select(ApiKey).where(ApiKey.prefix == _lookup_prefix(key)).options(selectinload(ApiKey.organization))
    )
    if row is None or row.revoked_at is not None or not digests_match(row.key_hash, token_digest(key)):
        raise refused
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        # Whoever holds the whole key may learn that it expired, and when: it tells them what to do.
        raise Unauthenticated(
            f"This API key expired on {row.expires_at:%Y-%m-%d %H:%M} UTC; create a new one."
        )
    if row.last_used_at is None or now - row.last_used_at > LAST_USE_PRECISION:
        row.last_used_at = now
    organization = test_organization(session, row.organization) if row.test else row.organization
    return ApiPrincipal(api_key=row, organization=organization, scopes=frozenset(row.scopes), ip=ip)


def list_api_keys(session: Session, org: Organization) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.organization_id == org.id).order_by(ApiKey.created_at.desc())
        )
    )


def revoke_api_key(session: Session, actor: Actor, key_id: int) -> ApiKey:
    row = get_owned(session, ApiKey, actor.organization, key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(session, actor, "api_key.revoked", row)
    return row

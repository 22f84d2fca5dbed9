"""Organizations, users and sign-in sessions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthenticated, ValidationFailed
from app.models import Membership, Organization, Role, User, UserSession, utcnow
from app.security import hash_password, new_token, password_needs_rehash, token_digest, verify_password

MIN_PASSWORD_LENGTH = 10
LOCKOUT = timedelta(minutes=15)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:60] or "org"


def find_organization(session: Session, name_or_slug: str) -> Organization:
    org = session.scalar(
        select(Organization).where(
            (Organization.slug == name_or_slug) | (func.lower(Organization.name) == name_or_slug.lower())
        )
    )
    if org is None:
        raise NotFound(f"no organization named {name_or_slug!r}")
    return org


def create_organization(session: Session, name: str) -> Organization:
    name = name.strip()
    if not name:
        raise ValidationFailed("organization name is required")
    base = slug = slugify(name)
    n = 1
    while session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    org = Organization(name=name, slug=slug)
    session.add(org)
    session.flush()
    return org


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def create_user(session: Session, *, email: str, password: str, display_name: str = "") -> User:
    email = normalize_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} already exists")
    check_password_strength(password)
    user = User(email=email, password_hash=hash_password(password), display_name=display_name)
    session.add(user)
    session.flush()
    return user


def create_owner(session: Session, *, email: str, password: str, org_name: str) -> tuple[User, Organization]:
    """A new organization with `email` as its owner; an existing user is made owner of the new org."""
    existing = session.scalar(select(User).where(User.email == normalize_email(email)))
    user = existing or create_user(session, email=email, password=password)
    org = create_organization(session, org_name)
    session.add(Membership(organization=org, user=user, role=Role.OWNER))
    session.flush()
    return user, org


def user_count(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0


@dataclass(frozen=True)
class SignIn:
    user: User
    membership: Membership
    token: str


def authenticate(
    session: Session, *, email: str, password: str, max_failures: int, ttl: timedelta, user_agent: str = ""
) -> SignIn:
    """Check credentials and open a server-side session. The message never says which part was wrong."""
    now = utcnow()
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is not None and user.locked_until is not None and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        raise RateLimited(
            f"Too many failed sign-ins. Try again in {max(1, wait // 60)} minute(s).", retry_after=wait
        )
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + LOCKOUT
                user.failed_logins = 0
        raise Unauthenticated("Email or password is incorrect.")
    membership = session.scalar(
        select(Membership).where(Membership.user_id == user.id).order_by(Membership.id).limit(1)
    )
    if membership is None:
        raise Unauthenticated("This account does not belong to any organization.")
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    token = new_token()
    session.add(
        UserSession(
            token_hash=token_digest(token),
            user=user,
            organization_id=membership.organization_id,
            expires_at=now + ttl,
            user_agent=user_agent[:300],
        )
    )
    session.flush()
    return SignIn(user=user, membership=membership, token=token)


@dataclass(frozen=True)
class Principal:
    """Who is acting, in which organization, with which role: every recruiter-side query scopes by this."""

    user: User
    organization: Organization
    role: Role
    session_id: int

    @property
    def can_edit(self) -> bool:
        return self.role != Role.VIEWER

    def require_editor(self) -> None:
        if not self.can_edit:
            raise Forbidden("Your role (viewer) can read but not change anything. Ask an owner for access.")


def resolve_session(session: Session, token: str) -> Principal:
    now = utcnow()
    row = session.scalar(select(UserSession).where(UserSession.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.user.is_active:
        raise Unauthenticated("Your session has ended. Please sign in again.")
    membership = session.scalar(
        select(Membership).where(
            Membership.user_id == row.user_id, Membership.organization_id == row.organization_id
        )
    )
    if membership is None:
        raise Unauthenticated("You are no longer a member of this organization.")
    # Throttled so that reading pages does not turn every request into a write.
    if row.last_seen_at is None or now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return Principal(user=row.user, organization=row.organization, role=membership.role, session_id=row.id)


def revoke_session(session: Session, token: str) -> None:
    row = session.scalar(select(UserSession).where(UserSession.token_hash == token_digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()

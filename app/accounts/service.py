"""Organizations, users and sign-in sessions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.principal import Operator, Principal
from app.audit.service import record
from app.core.config import Settings
from app.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    Gone,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from app.core.security import hash_password, new_token, password_needs_rehash, token_digest, verify_password
from app.core.timezones import zone_names
from app.emails.service import queue_email, valid_address
from app.models import Membership, Organization, Role, User, UserSession, UserToken, UserTokenKind, utcnow

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
    session_id: int


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    max_failures: int,
    ttl: timedelta,
    user_agent: str = "",
    ip: str = "",
) -> SignIn:
    """Check credentials and open a server-side session (audited). The message never says which part was
    wrong."""
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
    signed_in = open_session(session, user, membership, ttl=ttl, user_agent=user_agent)
    record(session, principal_for(signed_in, ip=ip), "signed_in", user)
    return signed_in


def open_session(
    session: Session, user: User, membership: Membership, *, ttl: timedelta, user_agent: str = ""
) -> SignIn:
    """A fresh random session token at every sign-in, so a token planted before sign-in is worthless."""
    now = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    token = new_token()
    row = UserSession(
        token_hash=token_digest(token),
        user=user,
        organization_id=membership.organization_id,
        expires_at=now + ttl,
        user_agent=user_agent[:300],
    )
    session.add(row)
    session.flush()
    return SignIn(user=user, membership=membership, token=token, session_id=row.id)


def principal_for(signed_in: SignIn, *, ip: str = "") -> Principal:
    membership = signed_in.membership
    return Principal(
        user=signed_in.user,
        organization=membership.organization,
        role=membership.role,
        session_id=signed_in.session_id,
        ip=ip,
    )


def user_exists(session: Session, email: str) -> bool:
    return session.scalar(select(User.id).where(User.email == normalize_email(email))) is not None


def resolve_session(session: Session, token: str, *, ip: str = "") -> Principal:
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
    return Principal(
        user=row.user, organization=row.organization, role=membership.role, session_id=row.id, ip=ip
    )


def revoke_session(session: Session, token: str) -> None:
    row = session.scalar(select(UserSession).where(UserSession.token_hash == token_digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def revoke_user_sessions(
    session: Session, user_id: int, *, keep_session_id: int | None = None, organization_id: int | None = None
) -> int:
    """End every session of the user (but `keep_session_id`; only those in `organization_id` if given):
    after a password change or reset a stolen session stops working, and a removed member is out at once."""
    stmt = select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if organization_id is not None:
        stmt = stmt.where(UserSession.organization_id == organization_id)
    rows = session.scalars(stmt).all()
    now = utcnow()
    revoked = 0
    for row in rows:
        if row.id != keep_session_id:
            row.revoked_at = now
            revoked += 1
    return revoked


def change_password(session: Session, principal: Principal, *, current: str, new: str) -> int:
    """Returns how many other sessions were signed out."""
    user = principal.user
    if not verify_password(user.password_hash, current):
        raise ValidationFailed(
            "Your current password is not correct.",
            errors=[FieldError("current_password", "does not match your current password")],
        )
    _set_password(user, new)
    signed_out = revoke_user_sessions(session, user.id, keep_session_id=principal.session_id)
    record(session, principal, "password.changed", user, other_sessions_ended=signed_out)
    return signed_out


def reset_password_by_operator(session: Session, email: str, password: str) -> User:
    """The host's operator sets a person's password (`assay users reset-password`): the way back in for a
    sole owner without a mail server for the reset link. Unlocks the account, ends every session, and is
    in the audit log of each organization the person belongs to."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise NotFound(f"No account uses {email}.")
    _set_password(user, password)
    ended = revoke_user_sessions(session, user.id)
    for membership in memberships_of(session, user):
        record(session, Operator(membership.organization), "password.reset", user, sessions_ended=ended)
    return user


def _set_password(user: User, password: str) -> None:
    try:
        check_password_strength(password)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, errors=[FieldError("new_password", exc.message)]) from None
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None


def _issue_token(
    session: Session,
    kind: UserTokenKind,
    *,
    email: str,
    ttl: timedelta,
    user: User | None = None,
    organization: Organization | None = None,
    role: Role | None = None,
) -> str:
    token = new_token()
    session.add(
        UserToken(
            kind=kind,
            token_hash=token_digest(token),
            email=email,
            user_id=user.id if user else None,
            organization_id=organization.id if organization else None,
            role=role,
            expires_at=utcnow() + ttl,
        )
    )
    session.flush()
    return token


def valid_token(session: Session, kind: UserTokenKind, token: str) -> UserToken:
    """A link's token that exists, is of this kind, unused and unexpired; one message for every failure, so
    the page does not reveal which links ever existed."""
    row = (
        session.scalar(select(UserToken).where(UserToken.token_hash == token_digest(token)))
        if 0 < len(token) <= 100
        else None
    )
    if row is None or row.kind != kind or row.used_at is not None or row.expires_at <= utcnow():
        raise Gone("This link has expired or was already used. Ask for a new one.")
    return row


def start_password_reset(session: Session, email: str, ttl: timedelta) -> tuple[User, str] | None:
    """A single-use reset token for an active user, or None (the page says the same thing either way, so it
    cannot be used to learn who has an account)."""
    user = session.scalar(select(User).where(User.email == normalize_email(email), User.is_active))
    if user is None:
        return None
    return user, _issue_token(session, UserTokenKind.PASSWORD_RESET, email=user.email, ttl=ttl, user=user)


def finish_password_reset(session: Session, token: str, new_password: str) -> User:
    row = valid_token(session, UserTokenKind.PASSWORD_RESET, token)
    user = session.get(User, row.user_id) if row.user_id else None
    if user is None or not user.is_active:
        raise Gone("This link has expired or was already used. Ask for a new one.")
    _set_password(user, new_password)
    row.used_at = utcnow()
    revoke_user_sessions(session, user.id)
    return user


def list_members(session: Session, org: Organization) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership)
            .where(Membership.organization_id == org.id)
            .join(User)
            .options(selectinload(Membership.user))
            .order_by(User.email)
        )
    )


def pending_team_invites(session: Session, org: Organization) -> list[UserToken]:
    return list(
        session.scalars(
            select(UserToken)
            .where(
                UserToken.organization_id == org.id,
                UserToken.kind == UserTokenKind.TEAM_INVITE,
                UserToken.used_at.is_(None),
                UserToken.expires_at > utcnow(),
            )
            .order_by(UserToken.created_at.desc())
        )
    )


def _check_can_grant(principal: Principal, role: Role) -> None:
    principal.require_team_manager()
    if role == Role.OWNER and not principal.is_owner:
        raise Forbidden("Only an owner can make someone an owner.")


def invite_teammate(
    session: Session, principal: Principal, *, email: str, role: Role, settings: Settings
) -> str:
    """Invite someone to the team by email, with a link valid for `team_invite_days`; audited. Returns the
    link's token."""
    _check_can_grant(principal, role)
    email = valid_address(email, "The email is not valid.")
    already = session.scalar(
        select(Membership.id)
        .join(User)
        .where(Membership.organization_id == principal.organization.id, User.email == email)
    )
    if already is not None:
        raise Conflict(f"{email} is already a member of {principal.organization.name}.")
    days = settings.team_invite_days
    token = _issue_token(
        session,
        UserTokenKind.TEAM_INVITE,
        email=email,
        ttl=timedelta(days=days),
        organization=principal.organization,
        role=role,
    )
    queue_email(
        session,
        to=email,
        template="team_invite",
        context={
            "inviter": principal.user.display_name or principal.user.email,
            "company": principal.organization.name,
            "role": role.value,
            "days": days,
            "link": f"{settings.base_url}/join/{token}",
        },
        organization=principal.organization,
    )
    record(session, principal, "member.invited", None, email=email, role=role.value)
    return token


def accept_team_invite(
    session: Session, token: str, *, password: str, display_name: str = ""
) -> tuple[User, Membership]:
    """Join the organization. A new address gets an account with `password`; an existing account must
    prove it is theirs with its current password."""
    row = valid_token(session, UserTokenKind.TEAM_INVITE, token)
    assert row.organization_id is not None and row.role is not None
    user = session.scalar(select(User).where(User.email == row.email))
    if user is None:
        try:
            user = create_user(session, email=row.email, password=password, display_name=display_name.strip())
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, errors=[FieldError("password", exc.message)]) from None
    elif not verify_password(user.password_hash, password):
        raise ValidationFailed(
            "That is not the password of this account.",
            errors=[FieldError("password", f"enter the current password of {user.email}")],
        )
    membership = session.scalar(
        select(Membership).where(
            Membership.organization_id == row.organization_id, Membership.user_id == user.id
        )
    )
    if membership is None:
        membership = Membership(organization_id=row.organization_id, user=user, role=row.role)
        session.add(membership)
    row.used_at = utcnow()
    session.flush()
    return user, membership


def join_team(
    session: Session,
    token: str,
    *,
    password: str,
    display_name: str,
    ttl: timedelta,
    user_agent: str = "",
    ip: str = "",
) -> SignIn:
    """Accept a team invitation and sign in as the new member (audited)."""
    user, membership = accept_team_invite(session, token, password=password, display_name=display_name)
    signed_in = open_session(session, user, membership, ttl=ttl, user_agent=user_agent)
    record(session, principal_for(signed_in, ip=ip), "member.joined", membership, role=membership.role.value)
    return signed_in


def get_membership(session: Session, principal: Principal, membership_id: int) -> Membership:
    membership = session.scalar(
        select(Membership)
        .where(Membership.id == membership_id, Membership.organization_id == principal.organization.id)
        .options(selectinload(Membership.user))
    )
    if membership is None:
        raise NotFound("member not found")
    return membership


def _owner_count(session: Session, org_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Membership.id)).where(
                Membership.organization_id == org_id, Membership.role == Role.OWNER
            )
        )
        or 0
    )


def _check_can_change(session: Session, principal: Principal, membership: Membership) -> None:
    principal.require_team_manager()
    if membership.role == Role.OWNER:
        if not principal.is_owner:
            raise Forbidden("Only an owner can change or remove another owner.")
        if _owner_count(session, membership.organization_id) <= 1:
            raise Conflict("An organization needs at least one owner; make someone else owner first.")


def change_role(session: Session, principal: Principal, membership: Membership, role: Role) -> Role:
    """Returns the previous role."""
    if membership.role == role:
        return role
    _check_can_change(session, principal, membership)
    _check_can_grant(principal, role)
    previous, membership.role = membership.role, role
    record(
        session,
        principal,
        "member.role_changed",
        membership,
        email=membership.user.email,
        previous=previous.value,
        role=role.value,
    )
    session.flush()
    return previous


def remove_member(session: Session, principal: Principal, membership: Membership) -> None:
    _check_can_change(session, principal, membership)
    record(session, principal, "member.removed", None, email=membership.user.email)
    # Their sessions in this organization end now; sessions in their other organizations stay.
    revoke_user_sessions(session, membership.user_id, organization_id=membership.organization_id)
    session.delete(membership)
    session.flush()


def memberships_of(session: Session, user: User) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership)
            .where(Membership.user_id == user.id)
            .options(selectinload(Membership.organization))
            .order_by(Membership.id)
        )
    )


def switch_organization(
    session: Session, principal: Principal, organization_id: int, *, ttl: timedelta, user_agent: str = ""
) -> SignIn:
    """Sign in to another organization the user belongs to; the current session ends."""
    membership = session.scalar(
        select(Membership).where(
            Membership.user_id == principal.user.id, Membership.organization_id == organization_id
        )
    )
    if membership is None:
        raise NotFound("organization not found")
    current = session.get(UserSession, principal.session_id)
    if current is not None:
        current.revoked_at = utcnow()
    return open_session(session, principal.user, membership, ttl=ttl, user_agent=user_agent)


SIMILARITY_THRESHOLDS = range(30, 101)


def set_similarity_threshold(session: Session, actor: Principal, percent: int) -> Organization:
    """The share of a candidate's code found in another's at which they are flagged for review; audited.
    Below 30 % nearly every answer to a short task would be flagged."""
    if percent not in SIMILARITY_THRESHOLDS:
        raise ValidationFailed(
            "The similarity threshold is a percentage from 30 to 100.",
            errors=[FieldError("similarity_threshold", "a whole number from 30 to 100")],
        )
    organization = actor.organization
    before = organization.similarity_threshold
    organization.similarity_threshold = percent
    record(
        session,
        actor,
        "organization.similarity_threshold_changed",
        organization,
        before=before,
        after=percent,
    )
    session.flush()
    return organization


def set_time_zone(session: Session, actor: Principal, name: str) -> Organization:
    """The zone the organization's times are shown in, to its members and its candidates; audited."""
    if name not in zone_names():
        raise ValidationFailed(
            "That is not a time zone this server knows.",
            errors=[
                FieldError("time_zone", "choose a zone from the list, e.g. Europe/Paris or America/New_York")
            ],
        )
    organization = actor.organization
    before = organization.time_zone
    organization.time_zone = name
    record(session, actor, "organization.time_zone_changed", organization, before=before, after=name)
    session.flush()
    return organization

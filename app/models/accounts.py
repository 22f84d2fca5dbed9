"""Organizations, people, their roles, sign-in sessions, API keys and one-time tokens."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, CreatedMixin, IdMixin, OrgOwned, enum_column


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    RECRUITER = "recruiter"
    VIEWER = "viewer"


class Organization(IdMixin, CreatedMixin, Base):
    """A hiring team. An organization's test data (what its `ak_test_` keys create) lives in an organization
    of its own that points back at it (`live_organization_id`), so every tenancy rule keeps the two apart."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # The IANA zone every time is shown in, to the team and to its candidates (app/core/timezones.py).
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # A candidate whose code shares at least this share (percent) with another's is flagged for a person
    # to review (`result.flagged`); never a verdict.
    similarity_threshold: Mapped[int] = mapped_column(default=70)
    live_organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )

    memberships: Mapped[list[Membership]] = relationship(back_populates="organization")

    @property
    def is_test(self) -> bool:
        return self.live_organization_id is not None


class User(IdMixin, CreatedMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")


class Membership(OrgOwned, CreatedMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))

    organization: Mapped[Organization] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class UserSession(IdMixin, CreatedMixin, Base):
    """A server-side sign-in session; the cookie holds a random token whose SHA-256 is stored here."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    user: Mapped[User] = relationship()
    organization: Mapped[Organization] = relationship()


class UserTokenKind(enum.StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a kind of token, not a secret
    TEAM_INVITE = "team_invite"


class UserToken(IdMixin, CreatedMixin, Base):
    """Single-use, expiring links sent by email (password reset, teammate invitation)."""

    __tablename__ = "user_tokens"

    kind: Mapped[UserTokenKind] = mapped_column(enum_column(UserTokenKind))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    role: Mapped[Role | None] = mapped_column(enum_column(Role))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ApiKey(OrgOwned, CreatedMixin, Base):
    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    last_four: Mapped[str] = mapped_column(String(4))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # A test key (`ak_test_…`) acts on the organization's test data only.
    test: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship()

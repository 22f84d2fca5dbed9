"""Passwords (change, reset by link), teammates (invite, join, roles, removal) and who may do what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.accounts.principal import Principal
from app.core.config import Settings
from app.core.errors import Conflict, Forbidden, Gone, Unauthenticated, ValidationFailed
from app.models import Membership, Organization, Role, User, utcnow
from tests import factories

TTL = timedelta(hours=1)
TEAM = Settings(_env_file=None, team_invite_days=1, base_url="http://testserver")  # type: ignore[call-arg]


def _sign_in(session: Session, email: str, password: str = factories.PASSWORD) -> tuple[str, Principal]:
    token = accounts.authenticate(session, email=email, password=password, max_failures=5, ttl=TTL).token
    return token, accounts.resolve_session(session, token)


def test_changing_the_password_signs_out_every_other_session(session: Session) -> None:
    factories.owner(session)
    laptop, me = _sign_in(session, "owner@acme.test")
    phone, _ = _sign_in(session, "owner@acme.test")
    with pytest.raises(ValidationFailed, match="current password"):
        accounts.change_password(session, me, current="wrong wrong wrong", new="a new long password")
    with pytest.raises(ValidationFailed, match="at least 10"):
        accounts.change_password(session, me, current=factories.PASSWORD, new="short")
    assert accounts.change_password(session, me, current=factories.PASSWORD, new="a new long password") == 1
    accounts.resolve_session(session, laptop)  # this one stays
    with pytest.raises(Unauthenticated):
        accounts.resolve_session(session, phone)
    _sign_in(session, "owner@acme.test", "a new long password")


def test_a_reset_link_works_once_before_it_expires_and_ends_every_session(session: Session) -> None:
    factories.owner(session)
    before, _ = _sign_in(session, "owner@acme.test")
    assert accounts.start_password_reset(session, "nobody@acme.test", TTL) is None
    started = accounts.start_password_reset(session, "OWNER@acme.test", TTL)
    assert started is not None
    _, token = started
    accounts.finish_password_reset(session, token, "brand new password")
    with pytest.raises(Gone):
        accounts.finish_password_reset(session, token, "another new password")
    with pytest.raises(Unauthenticated):
        accounts.resolve_session(session, before)
    _sign_in(session, "owner@acme.test", "brand new password")

    _, late = accounts.start_password_reset(session, "owner@acme.test", TTL) or (None, "")
    row = accounts.valid_token(session, accounts.UserTokenKind.PASSWORD_RESET, late)
    row.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(Gone):
        accounts.finish_password_reset(session, late, "too late password")
    with pytest.raises(Gone):  # a reset token is not a team invitation
        accounts.accept_team_invite(session, late, password="whatever long")


def _org_with(session: Session, role: Role) -> tuple[Organization, Principal]:
    _, org = factories.owner(session)
    factories.member(session, org, "me@acme.test", role)
    return org, _sign_in(session, "me@acme.test")[1]


def test_a_new_teammate_joins_with_the_invited_role(session: Session) -> None:
    org, admin = _org_with(session, Role.ADMIN)
    token = accounts.invite_teammate(
        session, admin, email="New@Example.com", role=Role.RECRUITER, settings=TEAM
    )
    with pytest.raises(ValidationFailed, match="at least 10"):
        accounts.accept_team_invite(session, token, password="short")
    user, membership = accounts.accept_team_invite(
        session, token, password="a long password", display_name="N"
    )
    assert (user.email, membership.role, membership.organization_id) == (
        "new@example.com",
        Role.RECRUITER,
        org.id,
    )
    with pytest.raises(Gone):
        accounts.accept_team_invite(session, token, password="a long password")
    with pytest.raises(Conflict, match="already a member"):
        accounts.invite_teammate(session, admin, email="new@example.com", role=Role.VIEWER, settings=TEAM)


def test_an_existing_account_proves_it_is_theirs_to_join_a_second_organization(session: Session) -> None:
    factories.owner(session, email="both@example.org", org="Globex")
    _, acme_admin = _org_with(session, Role.ADMIN)
    token = accounts.invite_teammate(
        session, acme_admin, email="both@example.org", role=Role.VIEWER, settings=TEAM
    )
    with pytest.raises(ValidationFailed, match="not the password"):
        accounts.accept_team_invite(session, token, password="guessing the password")
    user, _ = accounts.accept_team_invite(session, token, password=factories.PASSWORD)
    assert {m.organization.name for m in accounts.memberships_of(session, user)} == {"Globex", "Acme"}
    globex_token, globex = _sign_in(session, "both@example.org")
    switched = accounts.switch_organization(session, globex, acme_admin.organization.id, ttl=TTL)
    assert accounts.resolve_session(session, switched.token).role == Role.VIEWER
    with pytest.raises(Unauthenticated):  # switching ends the session it came from
        accounts.resolve_session(session, globex_token)


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.VIEWER])
def test_only_owners_and_admins_manage_the_team(session: Session, role: Role) -> None:
    _, me = _org_with(session, role)
    with pytest.raises(Forbidden):
        accounts.invite_teammate(session, me, email="x@example.com", role=Role.VIEWER, settings=TEAM)


def test_admins_cannot_make_or_touch_owners_and_the_last_owner_stays(session: Session) -> None:
    owner, org = factories.owner(session)
    factories.member(session, org, "admin@acme.test", Role.ADMIN)
    _, admin = _sign_in(session, "admin@acme.test")
    _, boss = _sign_in(session, "owner@acme.test")
    owner_membership = _membership(session, org, owner)
    with pytest.raises(Forbidden, match="Only an owner"):
        accounts.invite_teammate(session, admin, email="x@example.com", role=Role.OWNER, settings=TEAM)
    with pytest.raises(Forbidden):
        accounts.change_role(session, admin, owner_membership, Role.VIEWER)
    with pytest.raises(Forbidden):
        accounts.remove_member(session, admin, owner_membership)
    with pytest.raises(Conflict, match="at least one owner"):
        accounts.change_role(session, boss, owner_membership, Role.ADMIN)
    admin_membership = _membership(session, org, admin.user)
    assert accounts.change_role(session, boss, admin_membership, Role.OWNER) == Role.ADMIN
    accounts.change_role(session, boss, owner_membership, Role.ADMIN)  # another owner exists now


def test_a_removed_member_is_signed_out_at_once(session: Session) -> None:
    _, org = factories.owner(session)
    user = factories.member(session, org, "leaver@acme.test", Role.RECRUITER)
    token, _ = _sign_in(session, "leaver@acme.test")
    _, boss = _sign_in(session, "owner@acme.test")
    accounts.remove_member(session, boss, _membership(session, org, user))
    with pytest.raises(Unauthenticated):
        accounts.resolve_session(session, token)


def _membership(session: Session, org: Organization, user: User) -> Membership:
    return next(m for m in accounts.list_members(session, org) if m.user_id == user.id)

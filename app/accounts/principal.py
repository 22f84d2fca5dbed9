"""Who is acting, in which organization, with which role. Every recruiter-side query scopes by it."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import Forbidden
from app.models import ApiKey, Organization, Role, User

# Higher can do everything lower can.
RANK = {Role.VIEWER: 0, Role.RECRUITER: 1, Role.ADMIN: 2, Role.OWNER: 3}


@dataclass(frozen=True)
class Principal:
    user: User
    organization: Organization
    role: Role
    session_id: int
    ip: str = ""

    def at_least(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]

    @property
    def can_edit(self) -> bool:
        """Build assessments, invite candidates, score answers."""
        return self.at_least(Role.RECRUITER)

    @property
    def can_manage_team(self) -> bool:
        return self.at_least(Role.ADMIN)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    def require_editor(self) -> None:
        if not self.can_edit:
            raise Forbidden("Your role (viewer) can read but not change anything. Ask an owner for access.")

    def require_team_manager(self) -> None:
        if not self.can_manage_team:
            raise Forbidden(f"Only owners and admins manage the team; your role is {self.role.value}.")

    def require_owner(self) -> None:
        if not self.is_owner:
            raise Forbidden(f"Only owners can see this; your role is {self.role.value}.")


@dataclass(frozen=True)
class ApiPrincipal:
    """An integration calling with an API key: it acts for the key's organization within the key's scopes."""

    api_key: ApiKey
    organization: Organization
    scopes: frozenset[str]
    ip: str = ""

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"This API key lacks the {scope!r} scope. Create a key that has it.")


@dataclass(frozen=True)
class Operator:
    """The host's operator, acting through the `assay` command or the first-run set-up: no user or key."""

    organization: Organization
    ip: str = ""


# Whoever performs a change: a signed-in person, an API key, or the host's operator.
Actor = Principal | ApiPrincipal | Operator


def acting_user(actor: Actor) -> User | None:
    """The person behind a change, when a person made it."""
    return actor.user if isinstance(actor, Principal) else None

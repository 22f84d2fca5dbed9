"""The audit log: who did what, when, from where. Written in the same transaction as the change, so an
entry exists exactly when the change does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.principal import Actor, ApiPrincipal, Operator, Principal
from app.models import ApiKey, AuditEntry, Organization, User, utcnow


def record(
    session: Session,
    actor: Actor,
    action: str,
    target: Any = None,
    **detail: Any,
) -> AuditEntry:
    """`target` is any row with an `id`; its table name says what kind of thing it is."""
    if isinstance(actor, Operator):
        detail = {**detail, "via": "command line"}
    return _add(
        session,
        actor.organization,
        action,
        target,
        detail,
        user_id=actor.user.id if isinstance(actor, Principal) else None,
        api_key_id=actor.api_key.id if isinstance(actor, ApiPrincipal) else None,
        ip=actor.ip,
    )


def _add(
    session: Session,
    organization: Organization,
    action: str,
    target: Any,
    detail: dict[str, Any],
    *,
    user_id: int | None = None,
    api_key_id: int | None = None,
    ip: str = "",
) -> AuditEntry:
    entry = AuditEntry(
        organization_id=organization.id,
        at=utcnow(),
        actor_user_id=user_id,
        actor_api_key_id=api_key_id,
        action=action,
        target_type=getattr(target, "__tablename__", "") if target is not None else "",
        target_id=str(target.id) if target is not None else "",
        detail=detail,
        ip=ip[:64],
    )
    session.add(entry)
    return entry


def audit_log(
    session: Session, org: Organization, *, before_id: int | None = None, limit: int = 100
) -> list[tuple[AuditEntry, User | None, ApiKey | None]]:
    """Newest first, with who acted (a user or an API key); `before_id` pages back through older entries."""
    stmt = (
        select(AuditEntry, User, ApiKey)
        .outerjoin(User, User.id == AuditEntry.actor_user_id)
        .outerjoin(ApiKey, ApiKey.id == AuditEntry.actor_api_key_id)
        .where(AuditEntry.organization_id == org.id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return [(entry, user, key) for entry, user, key in session.execute(stmt)]

"""The one way to fetch an organization's object by id: another organization's id is simply not found,
so its existence is never revealed."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import ExecutableOption

from app.core.errors import NotFound
from app.models import Organization
from app.models.base import OrgOwned

T = TypeVar("T", bound=OrgOwned)


def get_owned(
    session: Session, model: type[T], org: Organization, object_id: int, *options: ExecutableOption
) -> T:
    found = session.scalar(
        select(model).where(model.id == object_id, model.organization_id == org.id).options(*options)
    )
    if found is None:
        raise NotFound(f"{model.__name__.lower()} not found")
    return found

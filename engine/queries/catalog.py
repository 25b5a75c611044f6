"""What the modeler's pickers offer: groups, users, deployed processes and decisions.

Read-only. Users come with their names only (never a password hash or a token), and a
designer with a tenant sees only that tenant's users, as everywhere else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import DecisionDefinition, ProcessDefinition, User, UserGroup
from engine.principal import Principal


def groups_in_use(session: Session) -> list[str]:
    """Every group some user belongs to, sorted."""
    return list(session.scalars(select(UserGroup.group).distinct().order_by(UserGroup.group)))


def users(session: Session, actor: Principal) -> list[dict[str, Any]]:
    """Enabled users the actor may see: user name, display name and groups."""
    stmt = select(User).where(User.disabled.is_(False)).order_by(User.username)
    if actor.tenant is not None:
        stmt = stmt.where(User.tenant == actor.tenant)
    return [{"username": u.username, "display_name": u.display_name or "", "groups": u.group_ids}
            for u in session.scalars(stmt)]


def latest_definitions(session: Session, model) -> list[dict[str, Any]]:
    """The latest version of each deployed process (or decision): key, name, version."""
    latest = (select(model.key, func.max(model.version).label("version")).group_by(model.key).subquery())
    rows = session.execute(
        select(model.key, model.name, model.version)
        .join(latest, (model.key == latest.c.key) & (model.version == latest.c.version))
        .order_by(model.key))
    return [{"key": key, "name": name or "", "version": version} for key, name, version in rows]


def designer_catalog(session: Session, actor: Principal) -> dict[str, Any]:
    return {
        "groups": groups_in_use(session),
        "users": users(session, actor),
        "processes": latest_definitions(session, ProcessDefinition),
        "decisions": latest_definitions(session, DecisionDefinition),
    }

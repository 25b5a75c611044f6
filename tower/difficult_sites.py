"""The difficult-site library as supervisors see it (GET /api/v1/difficult-sites)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import Forbidden
from engine.principal import Principal
from tower.models import DifficultSite

VIEWER_GROUPS = frozenset({"supervisor", "admin"})


def check_may_list(actor: Principal) -> None:
    if not actor.groups & VIEWER_GROUPS:
        raise Forbidden("only supervisors and administrators may list the difficult-site library")


def list_sites(session: Session, actor: Principal, status: str | None = None, demand_no: str | None = None,
               offset: int = 0, limit: int = 50) -> tuple[list[DifficultSite], int]:
    """Rows the actor may see (its tenant only, when it has one), newest entry first."""
    check_may_list(actor)
    stmt = select(DifficultSite)
    if actor.tenant is not None:
        stmt = stmt.where(DifficultSite.tenant == actor.tenant)
    if status:
        stmt = stmt.where(DifficultSite.status == status)
    if demand_no:
        stmt = stmt.where(DifficultSite.demand_no == demand_no)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(DifficultSite.entered_at.desc(), DifficultSite.id.desc())
                           .offset(offset).limit(limit)).all()
    return list(rows), int(total or 0)


def _iso(value) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def site_view(row: DifficultSite) -> dict[str, Any]:
    return {
        "id": row.id, "demand_no": row.demand_no, "site_name": row.site_name, "reason": row.reason,
        "description": row.description, "status": row.status, "tenant": row.tenant,
        "process_instance_id": row.instance_id, "business_key": row.business_key,
        "applied_by": row.applied_by, "approved_by": row.approved_by,
        "entered_at": _iso(row.entered_at), "paused_at": _iso(row.paused_at),
        "released_at": _iso(row.released_at), "paused_days": row.paused_days,
        "release_reason": row.release_reason,
    }

"""The difficult-site library (疑难站址库), as people read it: the pages and
GET /api/v1/difficult-sites. Staff who work on difficult sites see every entry; an operator
user sees only the entries of its own company's demands (its tenant), and another company's
entry is not found."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.errors import Forbidden, NotFound
from engine.principal import Principal
from tower.models import DifficultSite

# operator: its own tenant's entries; the others: every entry (admins too)
VIEWER_GROUPS = frozenset({"operator", "regional_manager", "city_director", "supervisor", "admin"})


def may_list(actor: Principal) -> bool:
    return actor.is_admin or bool(actor.groups & VIEWER_GROUPS)


def check_may_list(actor: Principal) -> None:
    if not may_list(actor):
        raise Forbidden("only operator staff, regional managers, city directors, supervisors and administrators "
                        "may read the difficult-site library")


def _visible(actor: Principal):
    stmt = select(DifficultSite)
    if actor.tenant is not None:
        stmt = stmt.where(DifficultSite.tenant == actor.tenant)
    return stmt


def list_sites(session: Session, actor: Principal, status: str | None = None, demand_no: str | None = None,
               offset: int = 0, limit: int = 50, *, reason: str | None = None, tenant: str | None = None,
               q: str | None = None) -> tuple[list[DifficultSite], int]:
    """Rows the actor may see (its tenant only, when it has one), newest entry first, filtered by
    status, demand number, reason, tenant (staff) and text in the site name or demand number."""
    check_may_list(actor)
    stmt = _visible(actor)
    if status:
        stmt = stmt.where(DifficultSite.status == status)
    if demand_no:
        stmt = stmt.where(DifficultSite.demand_no == demand_no)
    if reason:
        stmt = stmt.where(DifficultSite.reason == reason)
    if tenant:
        stmt = stmt.where(DifficultSite.tenant == tenant)
    if q and q.strip():
        pattern = f"%{q.strip()}%"
        stmt = stmt.where(or_(DifficultSite.site_name.ilike(pattern), DifficultSite.demand_no.ilike(pattern)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(DifficultSite.entered_at.desc(), DifficultSite.id.desc())
                           .offset(offset).limit(limit)).all()
    return list(rows), int(total or 0)


def get_site(session: Session, actor: Principal, site_id: int) -> DifficultSite:
    """One entry; another tenant's (or a missing) entry is NotFound."""
    check_may_list(actor)
    row = session.scalar(_visible(actor).where(DifficultSite.id == site_id))
    if row is None:
        raise NotFound("difficult site %(id)s does not exist", id=site_id)
    return row


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

"""The difficult-site library (疑难站址库): handlers the 疑难站址入库 flow calls.

- ``difficult_sites.enter`` (demand_no, site_name, reason, description): the site enters the
  library; its negotiation deadline is paused from now. Returns the row as a dict.
- ``difficult_sites.release`` (reason, paused_days?): the instance's site in the library leaves
  it; ``paused_days`` (whole days, from the flow) is stored, else computed from the clock.
  Returns ``{"released": bool, ...}``; releasing when nothing is in the library is a no-op
  (the cancel path of 选址谈判 calls it unconditionally).

Where rows are written: a handler runs inside the job runner's transaction, which holds the
instance lock (on SQLite, the database's only write lock: a second connection would wait and
time out). So the row is written in *that* transaction (``call.session``) and commits or rolls
back with the task itself; the service call's idempotency key keeps a retried entry from
making a second row. Called outside a job, a short transaction of ``call.platform`` (or of the
platform given to :func:`configure`) is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import HumanTask, ProcessInstance
from engine.services import ServiceCall, service
from tower.difficult_sites import site_view
from tower.models import DifficultSite

if TYPE_CHECKING:
    from engine.platform import Platform

APPLICATION_FORMS = ("difficult_site_proposal", "difficult_site_application")
DECISION_FORM = "difficult_site_decision"

_platform: Platform | None = None


def configure(platform: Platform | None) -> None:
    """Give the handlers the platform (its write engine and clock)."""
    global _platform
    _platform = platform


@service("difficult_sites.enter")
def enter(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    with call.db(_platform) as session:
        row = session.scalar(select(DifficultSite).where(DifficultSite.entry_key == call.idempotency_key))
        if row is None:
            now = call.clock_now(_platform)
            row = DifficultSite(
                entry_key=call.idempotency_key, demand_no=_text(params.get("demand_no")),
                site_name=_text(params.get("site_name")), reason=_text(params.get("reason")),
                description=_text(params.get("description")), status="in_library", tenant=call.tenant,
                instance_id=call.instance_id, business_key=call.business_key,
                applied_by=_applied_by(session, call.instance_id),
                approved_by=_last_completer(session, call.instance_id, (DECISION_FORM,)),
                entered_at=now, paused_at=now)
            session.add(row)
            session.flush()
        return site_view(row)


@service("difficult_sites.release")
def release(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    with call.db(_platform) as session:
        row = session.scalar(select(DifficultSite).where(
            DifficultSite.instance_id == call.instance_id, DifficultSite.status == "in_library")
            .order_by(DifficultSite.id.desc()).limit(1))
        if row is None:
            return {"released": False}
        now = call.clock_now(_platform)
        days = params.get("paused_days")
        if days is None:
            seconds = (now - row.paused_at).total_seconds()
            days = int(-(-seconds // 86400))
        row.status = "released"
        row.released_at = now
        row.paused_days = int(days)
        row.release_reason = _text(params.get("reason")) or None
        session.flush()
        return {"released": True, **site_view(row)}


# --- who applied and who approved ---------------------------------------------------------------

def _applied_by(session: Session, instance_id: int) -> str | None:
    return (_last_completer(session, instance_id, APPLICATION_FORMS)
            or session.scalar(select(ProcessInstance.started_by).where(ProcessInstance.id == instance_id)))


def _last_completer(session: Session, instance_id: int, form_keys: tuple[str, ...]) -> str | None:
    return session.scalar(
        select(HumanTask.completed_by)
        .where(HumanTask.instance_id == instance_id, HumanTask.state == "completed",
               HumanTask.form_key.in_(form_keys))
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()).limit(1))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --- the job runner's session -------------------------------------------------------------------

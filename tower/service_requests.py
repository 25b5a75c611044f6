"""Customer service requests (Flow 5, ``service_request``) as the customer follows them.

An enterprise customer files requests as an operator user of its company (the tenant; the
demo's cmcc / unicom / telecom do), so "my service requests" are the ``service_request``
instances of the reader's tenant. Staff without a tenant who work on requests see every one.
The flow keeps the state in ``request_status`` and the steps in ``progress`` (see
docs/flows/service_request.md); only the customer-facing variables leave this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import Forbidden, NotFound
from engine.models import HumanTask, ProcessInstance
from engine.principal import Principal

PROCESS_KEY = "service_request"
READER_GROUPS = frozenset({"operator", "customer_manager", "monitoring_center", "city_director", "supervisor"})
# The variables a customer may read (everything else in the instance stays internal).
SHOWN = ("request_kind", "customer_name", "contact_name", "description", "product", "expected_date",
         "request_status", "reject_reason", "handling_result", "reopen_count")


def check_may_read(actor: Principal) -> None:
    if not (actor.is_admin or actor.groups & READER_GROUPS):
        raise Forbidden("you may not read service requests")


def _visible(actor: Principal):
    check_may_read(actor)
    stmt = select(ProcessInstance).where(ProcessInstance.process_key == PROCESS_KEY)
    if actor.tenant is not None:
        stmt = stmt.where(ProcessInstance.tenant == actor.tenant)
    return stmt


def list_requests(session: Session, actor: Principal, *, offset: int = 0,
                  limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """The requests the actor may read, newest first, as :func:`request_view` gives them."""
    stmt = _visible(actor)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
                           .offset(offset).limit(limit))
    return [request_view(session, row, with_steps=False) for row in rows], int(total)


def get_request(session: Session, actor: Principal, instance_id: int) -> dict[str, Any]:
    """One request with its steps; another tenant's (or another process's) id is NotFound."""
    row = session.scalar(_visible(actor).where(ProcessInstance.id == instance_id))
    if row is None:
        raise NotFound("service request %(id)s does not exist", id=instance_id)
    return request_view(session, row, with_steps=True)


def request_view(session: Session, row: ProcessInstance, with_steps: bool = True) -> dict[str, Any]:
    """``{"id", "business_key", "tenant", "flow_state", "status", "started_at", "ended_at",
    "open_steps": [{"task_id", "title", "candidate_groups", "due_at"}], "steps": [{"step", "at",
    "by"}], ...SHOWN}``; times are naive UTC datetimes."""
    variables = row.variables or {}
    view: dict[str, Any] = {name: variables.get(name) for name in SHOWN}
    view.update(id=row.id, business_key=row.business_key, tenant=row.tenant, flow_state=row.state,
                status=variables.get("request_status") or "submitted", started_at=row.started_at,
                ended_at=row.ended_at)
    open_tasks = session.execute(select(HumanTask.id, HumanTask.title, HumanTask.candidate_groups, HumanTask.due_at)
                                 .where(HumanTask.instance_id == row.id, HumanTask.state == "open")
                                 .order_by(HumanTask.created_at, HumanTask.id)).all()
    view["open_steps"] = [{"task_id": t.id, "title": t.title, "candidate_groups": t.candidate_groups or [],
                           "due_at": t.due_at} for t in open_tasks]
    view["steps"] = [_step(item) for item in (variables.get("progress") or []) if isinstance(item, dict)] \
        if with_steps else []
    return view


def _step(item: dict[str, Any]) -> dict[str, Any]:
    at = item.get("at")
    try:
        when = datetime.fromisoformat(str(at)) if at else None
    except ValueError:
        when = None
    return {"step": str(item.get("step") or ""), "at": when, "by": str(item.get("by") or "")}


def count_waiting_for_customer(session: Session, actor: Principal) -> int:
    """Open 客户确认 tasks of the actor's tenant: requests waiting for the customer's answer."""
    stmt = (select(func.count(HumanTask.id)).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(ProcessInstance.process_key == PROCESS_KEY, HumanTask.state == "open",
                   HumanTask.element_id == "confirm"))
    if actor.tenant is not None:
        stmt = stmt.where(ProcessInstance.tenant == actor.tenant)
    return int(session.scalar(stmt) or 0)

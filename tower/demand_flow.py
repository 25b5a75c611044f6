"""Demands in Flow 1 (铁塔需求立项, processes/tower_order.bpmn): single entry, submission (one
instance per demand), the operator's change and cancel, batch steps, and the progress query.

The flow itself keeps the demand row current (engine/demand_mirror.py); this module is what
people do to demands from outside the flow's own tasks. See docs/flows/tower_order.md.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from engine.models import HumanTask
from engine.principal import Principal
from engine.runtime import files, instances, messages, tasks
from engine.runtime.forms_check import validate_form
from tower import demands
from tower.models import Demand

if TYPE_CHECKING:
    from engine.platform import Platform

PROCESS_KEY = "tower_order"
SUBMIT_GROUPS = frozenset({"customer_manager"})
# What the operator may change (需求变更); the flow goes back to 需求承接 with the new values.
CHANGEABLE = ("site_name", "longitude", "latitude", "tower_type", "antenna_height", "expected_delivery", "remarks")
# Steps that can be done for many demands at once (批量验收): element id -> who does it.
BATCH_STEPS = {"delivery": "customer_manager", "confirm_acceptance": "operator"}


def enter_demand(platform: Platform, actor: Principal, record: dict[str, Any]) -> str:
    """单个录入: one demand, checked exactly like a spreadsheet row (row number 1 in errors)."""
    if not isinstance(record, dict):
        raise BadRequest("the demand must be an object")
    record = dict(record)
    nested = sorted(name for name, value in record.items() if isinstance(value, dict | list))
    if nested:
        raise ValidationFailed("the demand has errors; nothing was stored",
                               {"fields": {name: ["Must be a single value."] for name in nested}})
    operator = record.get("operator")
    if operator in demands.OPERATOR_NAMES:  # a tenant id instead of the Chinese name
        record["operator"] = demands.OPERATOR_NAMES[operator]
    if actor.tenant is not None and record.get("operator") in (None, ""):
        record["operator"] = demands.OPERATOR_NAMES.get(actor.tenant, "")
    unknown = sorted(set(record) - set(demands.BY_KEY))
    if unknown:
        raise ValidationFailed("unknown fields", {"fields": {name: ["Unknown field."] for name in unknown}})
    with platform.transaction() as session:
        demands.check_may_import(actor)
        checked = demands.check_rows(session, [(1, record)], actor)
        if checked.errors:
            raise ValidationFailed("the demand has errors; nothing was stored", {"fields": _by_field(checked.errors)})
        row = demands.new_demand(checked.rows[0], actor, platform.clock.now())
        session.add(row)
        session.flush()
        return row.demand_no


def _by_field(errors: list[demands.RowError]) -> dict[str, list[str]]:
    """Row errors (named by column header) as form errors named by field."""
    fields: dict[str, list[str]] = {}
    for error in errors:
        key = next((c.key for c in demands.COLUMNS if c.header == error.column), error.column)
        fields.setdefault(key, []).append(error.message)
    return fields


def submit(platform: Platform, actor: Principal, demand_nos: list[str],
           customer_manager_phone: str = "") -> list[dict[str, Any]]:
    """Start Flow 1 for each demand (all must be collected, else nothing starts); returns
    ``[{"demand_no", "instance_id"}]`` in the order given."""
    if not (actor.is_admin or actor.groups & SUBMIT_GROUPS):
        raise Forbidden("only customer managers and admins submit demands")
    with platform.transaction() as session:
        rows = demands.get_demands(session, actor, demand_nos)
        not_ready = [d.demand_no for d in rows if d.status != "collected"]
        if not_ready:
            raise Conflict(f"already submitted: {', '.join(not_ready)}", {"demand_nos": not_ready})
        starts = [(d.demand_no, d.tenant, _start_variables(d, actor, customer_manager_phone)) for d in rows]
        for d in rows:
            d.instance_id = None  # a demand sent back earlier starts a new instance
    started = []
    for demand_no, tenant, variables in starts:
        instance_id = instances.start(platform, actor, PROCESS_KEY, business_key=demand_no, variables=variables,
                                      tenant=tenant)
        started.append({"demand_no": demand_no, "instance_id": instance_id})
    return started


def _start_variables(d: Demand, actor: Principal, phone: str) -> dict[str, Any]:
    return {
        "demand_no": d.demand_no, "operator": d.tenant, "province": d.province, "city": d.city,
        "county": d.county, "site_name": d.site_name, "longitude": d.longitude, "latitude": d.latitude,
        "tower_type": d.tower_type, "antenna_height": d.antenna_height, "demand_type": d.demand_type,
        "expected_delivery": d.expected_delivery.isoformat(), "remarks": d.remarks or "",
        "customer_manager": actor.username, "customer_manager_phone": phone or "",
    }


def cancel(platform: Platform, actor: Principal, demand_no: str, reason: str = "",
           message_id: str | None = None) -> dict[str, Any]:
    """需求取消: stops every open task of the demand; only before the order is confirmed."""
    _check_operator_step(platform, actor, demand_no)
    if len(reason or "") > 2000:
        raise ValidationFailed("the reason is too long", {"fields": {"reason": ["At most 2000 characters."]}})
    return _send(platform, actor, "demand_cancel", demand_no, {"cancel_reason": reason or ""}, message_id)


def change(platform: Platform, actor: Principal, demand_no: str, changes: dict[str, Any], reason: str = "",
           message_id: str | None = None) -> dict[str, Any]:
    """需求变更: checked like an import row, then the flow goes back to 需求承接 with the values."""
    if not isinstance(changes, dict) or not changes:
        raise BadRequest("give the changed fields in 'changes'")
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise ValidationFailed("these fields cannot be changed",
                               {"fields": {k: ["Cannot be changed."] for k in unknown}})
    demand = _check_operator_step(platform, actor, demand_no)
    record = {c.key: getattr(demand, c.key, None) for c in demands.COLUMNS if c.key != "operator"}
    record.update(changes)
    record["operator"] = demands.OPERATOR_NAMES.get(demand.tenant, demand.tenant)
    clean, errors = demands.check_record(1, record, actor)
    if errors:
        raise ValidationFailed("the change has errors; nothing was changed", {"fields": _by_field(errors)})
    payload = {key: clean[key] for key in changes}
    if "expected_delivery" in payload:
        payload["expected_delivery"] = payload["expected_delivery"].isoformat()
    payload["change_reason"] = reason or ""
    return _send(platform, actor, "demand_change", demand_no, payload, message_id)


def _check_operator_step(platform: Platform, actor: Principal, demand_no: str) -> Demand:
    if not (actor.is_admin or actor.groups & {"operator", "customer_manager"}):
        raise Forbidden("only the operator (or its customer manager) changes or cancels a demand")
    with platform.Session() as session:
        demand = demands.get_demands(session, actor, [demand_no])[0]
        if demand.instance_id is None:
            raise Conflict(f"demand {demand_no} has not been submitted", {"status": demand.status})
        session.expunge(demand)
        return demand


def _send(platform: Platform, actor: Principal, name: str, demand_no: str, payload: dict[str, Any],
          message_id: str | None) -> dict[str, Any]:
    try:
        return messages.deliver(platform, actor, name, message_id or f"{name}-{uuid.uuid4()}",
                                business_key=demand_no, payload=payload)
    except NotFound:
        raise Conflict(f"demand {demand_no} can no longer be changed or cancelled: its order is confirmed "
                       "or its flow has ended", {"demand_no": demand_no}) from None


def complete_step(platform: Platform, actor: Principal, step: str, demand_nos: list[str],
                  data: dict[str, Any]) -> list[dict[str, Any]]:
    """批量验收: complete the open ``step`` task of every demand with the same form data. Every
    demand is checked first (task open, the actor may do it, the form valid); when one fails
    nothing is done. Files of the form (uploaded for the first demand's task) are copied to
    every other demand's instance."""
    if step not in BATCH_STEPS:
        raise BadRequest(f"step must be one of {', '.join(BATCH_STEPS)}")
    data = data or {}
    with platform.Session() as session:
        rows = demands.get_demands(session, actor, demand_nos)
        found = [(d.demand_no, _open_step(session, actor, d, step)) for d in rows]
        form_key = found[0][1].form_key
        schema = platform.forms.get(form_key) if form_key else None
        if form_key:
            cleaned = validate_form(platform.forms, form_key, data)
            files.check_form_files(session, actor, schema, cleaned, found[0][1].instance_id)
    done = []
    for index, (demand_no, task) in enumerate(found):
        own = data if index == 0 else files.copy_form_files(platform, schema, data, task.instance_id)
        tasks.complete(platform, actor, task.id, own)
        done.append({"demand_no": demand_no, "task_id": task.id, "instance_id": task.instance_id})
    return done


def _open_step(session: Session, actor: Principal, demand: Demand, step: str) -> HumanTask:
    task = None
    if demand.instance_id is not None:
        task = session.scalar(select(HumanTask).where(HumanTask.instance_id == demand.instance_id,
                                                      HumanTask.element_id == step, HumanTask.state == "open"))
    if task is None:
        raise Conflict(f"demand {demand.demand_no} is not waiting for {step}",
                       {"demand_no": demand.demand_no, "status": demand.status})
    if task.assignee not in (None, actor.username):
        raise Conflict(f"the {step} task of demand {demand.demand_no} is claimed by {task.assignee}",
                       {"demand_no": demand.demand_no, "assignee": task.assignee})
    if task.assignee is None and not tasks.is_candidate(task, actor):
        raise Forbidden(f"you may not do the {step} task of demand {demand.demand_no}")
    return task


def progress(session: Session, actor: Principal, demand_no: str) -> dict[str, Any]:
    """进度查询: the demand, its open steps (who has them, until when) and the steps done
    (times as datetimes, naive UTC)."""
    demand = demands.get_demands(session, actor, [demand_no])[0]
    open_steps, done_steps = [], []
    if demand.instance_id is not None:
        for row in session.scalars(select(HumanTask).where(HumanTask.instance_id == demand.instance_id)
                                   .order_by(HumanTask.created_at, HumanTask.id)):
            step = {"task_id": row.id, "element_id": row.element_id, "title": row.title,
                    "candidate_groups": row.candidate_groups or [], "assignee": row.assignee,
                    "created_at": row.created_at, "due_at": row.due_at,
                    "completed_at": row.completed_at, "completed_by": row.completed_by}
            if row.state == "open":
                open_steps.append(step)
            elif row.state == "completed":
                done_steps.append(step)
    return {"demand": demands.demand_view(demand), "open_steps": open_steps, "done_steps": done_steps}

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

from engine.errors import BadRequest, Conflict, EngineError, Forbidden, NotFound, ValidationFailed
from engine.models import HumanTask, ProcessInstance, ReceivedMessage
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
EACH_STEPS = ("confirm_acceptance",)  # batch steps without file fields, done one demand at a time
CHANGE_GROUPS = frozenset({"operator", "customer_manager"})  # and admins
# The statuses inside 订单确认前, where the flow waits for 需求变更 / 需求取消.
BEFORE_ORDER_CONFIRMED = frozenset({"submitted", "confirmed", "accepted", "screening", "negotiating",
                                    "order_compiling", "order_sent"})
# Why a change or cancel is refused (change_refusal); the pages say each in words.
REFUSALS = ("not_submitted", "order_confirmed", "cancelled", "unplannable", "suspended", "flow_ended")
CHANGE_REFUSED = ("demand %(demand_no)s can no longer be changed or cancelled: its order is confirmed "
                  "or its flow has ended")
# Why one demand of a batch step was not done (complete_each); the pages say each in words.
BATCH_FAILURES = ("not_found", "not_waiting", "claimed", "forbidden", "refused")


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
            raise Conflict("already submitted: %(numbers)s", {"demand_nos": not_ready}, numbers=", ".join(not_ready))
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


def may_change(actor: Principal) -> bool:
    """Whether ``actor`` may change or cancel demands at all (its own tenant's, for an operator)."""
    return actor.is_admin or bool(actor.groups & CHANGE_GROUPS)


def change_refusal(demand: Demand, flow_state: str | None) -> str | None:
    """Why changing or cancelling ``demand`` would be refused now, as one of ``REFUSALS``; None
    when the flow still waits for it (inside 订单确认前, and the instance neither suspended nor ended)."""
    if demand.instance_id is None or demand.status == "collected":  # never submitted, or sent back
        return "cancelled" if demand.status == "cancelled" else "not_submitted"
    if demand.status in ("cancelled", "unplannable"):
        return demand.status
    if demand.status not in BEFORE_ORDER_CONFIRMED:
        return "order_confirmed"
    if flow_state == "suspended":
        return "suspended"
    if flow_state in ("completed", "terminated", "cancelled"):
        return "flow_ended"
    return None


def _check_operator_step(platform: Platform, actor: Principal, demand_no: str) -> Demand:
    if not may_change(actor):
        raise Forbidden("only the operator (or its customer manager) changes or cancels a demand")
    with platform.Session() as session:
        demand = demands.get_demands(session, actor, [demand_no])[0]
        if demand.instance_id is None:
            refusal = change_refusal(demand, None)
            raise Conflict("demand %(demand_no)s has not been submitted" if refusal == "not_submitted"
                           else CHANGE_REFUSED, {"demand_no": demand_no, "status": demand.status, "reason": refusal},
                           demand_no=demand_no)
        session.expunge(demand)
        return demand


def _send(platform: Platform, actor: Principal, name: str, demand_no: str, payload: dict[str, Any],
          message_id: str | None) -> dict[str, Any]:
    try:
        return messages.deliver(platform, actor, name, message_id or f"{name}-{uuid.uuid4()}",
                                business_key=demand_no, payload=payload)
    except NotFound:
        with platform.Session() as session:
            demand = demands.get_demands(session, actor, [demand_no])[0]
            refusal = change_refusal(demand, _flow_state(session, demand.instance_id)) or "flow_ended"
        raise Conflict(CHANGE_REFUSED, {"demand_no": demand_no, "status": demand.status, "reason": refusal},
                       demand_no=demand_no) from None


def _flow_state(session: Session, instance_id: int | None) -> str | None:
    if instance_id is None:
        return None
    return session.scalar(select(ProcessInstance.state).where(ProcessInstance.id == instance_id))


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


def complete_each(platform: Platform, actor: Principal, step: str, demand_nos: list[str],
                  data: dict[str, Any]) -> list[dict[str, Any]]:
    """批量验收, one demand at a time: the form data is checked first (ValidationFailed, and nothing
    is done); then each demand's open ``step`` task is completed on its own, so one that is not
    ready does not stop the rest. Each result is ``{"demand_no", "ok": True, "task_id",
    "instance_id"}`` or ``{"demand_no", "ok": False, "failure", "status"}`` (failure: one of
    ``BATCH_FAILURES``). Only steps without file fields (``EACH_STEPS``); the delivery form's
    scans go through :func:`complete_step`, which copies them."""
    if step not in EACH_STEPS:
        raise BadRequest(f"step must be one of {', '.join(EACH_STEPS)}")
    wanted = list(dict.fromkeys(n.strip() for n in demand_nos if n and n.strip()))
    if not wanted:
        raise BadRequest("give at least one demand_no")
    found: list[tuple[str, HumanTask | EngineError]] = []
    with platform.Session() as session:
        rows = {d.demand_no: d for d in session.scalars(demands.visible(actor).where(Demand.demand_no.in_(wanted)))}
        for demand_no in wanted:
            try:
                if demand_no not in rows:
                    raise NotFound(f"no such demand: {demand_no}")
                task = _open_step(session, actor, rows[demand_no], step)
                session.expunge(task)
                found.append((demand_no, task))
            except (NotFound, Conflict, Forbidden) as exc:
                found.append((demand_no, exc))
    form_key = next((t.form_key for _, t in found if isinstance(t, HumanTask) and t.form_key), None)
    cleaned = validate_form(platform.forms, form_key, data or {}) if form_key else dict(data or {})
    results = []
    for demand_no, task in found:
        if isinstance(task, HumanTask):
            try:
                tasks.complete(platform, actor, task.id, cleaned)
            except EngineError as exc:
                task = exc
            else:
                results.append({"demand_no": demand_no, "ok": True, "task_id": task.id,
                                "instance_id": task.instance_id})
                continue
        details = task.details if isinstance(task.details, dict) else {}
        results.append({"demand_no": demand_no, "ok": False, "failure": _batch_failure(task),
                        "status": details.get("status")})
    return results


def _batch_failure(exc: EngineError) -> str:
    if isinstance(exc, NotFound):
        return "not_found"
    if isinstance(exc, Forbidden):
        return "forbidden"
    details = exc.details if isinstance(exc.details, dict) else {}
    if isinstance(exc, Conflict) and "assignee" in details:
        return "claimed"
    if isinstance(exc, Conflict) and "status" in details:
        return "not_waiting"
    return "refused"


def waiting_for(session: Session, actor: Principal, step: str) -> list[Demand]:
    """The demands the actor sees whose ``step`` task is open (e.g. 验收确认 waiting for the operator)."""
    open_instances = select(HumanTask.instance_id).where(HumanTask.element_id == step, HumanTask.state == "open")
    return list(session.scalars(demands.visible(actor).where(Demand.instance_id.in_(open_instances))
                                .order_by(Demand.created_at, Demand.demand_no)))


def progress(session: Session, actor: Principal, demand_no: str) -> dict[str, Any]:
    """进度查询: the demand, its open steps (who has them, until when), the steps done (times as
    datetimes, naive UTC), the flow's state, how the demand ended (``outcome``, or None while it
    runs), the operator's changes, and why a change or cancel would be refused now (or None)."""
    demand = demands.get_demands(session, actor, [demand_no])[0]
    open_steps, done_steps = [], []
    instance = session.get(ProcessInstance, demand.instance_id) if demand.instance_id is not None else None
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
    flow_state = instance.state if instance is not None else None
    return {"demand": demands.demand_view(demand), "open_steps": open_steps, "done_steps": done_steps,
            "flow_state": flow_state, "outcome": outcome(session, demand, instance),
            "changes": changes(session, demand), "change_refusal": change_refusal(demand, flow_state)}


def outcome(session: Session, demand: Demand, instance: ProcessInstance | None) -> dict[str, Any] | None:
    """How the demand's flow ended, for people: ``{"kind", "reason", "code", "by", "at"}``.

    kind: ``cancelled`` (需求取消; reason = the operator's words), ``order_cancelled`` (订单取消; the
    customer manager's note), ``unplannable`` (无法规划; planning's reason), ``negotiation_failed``
    (选址谈判失败; ``code`` is Flow 2's ``failure_reason``: negotiation_failed, cost_rejected,
    overdue_limit_reached, overdue_rejected, cancelled), ``returned`` (sent back; the operator's
    comment), ``terminated`` (stopped by a supervisor; the reason given), ``incident`` (waiting for
    a retry after a failed call). None while the demand is on its way or done normally."""
    variables = (instance.variables or {}) if instance is not None else {}
    result: dict[str, Any] | None = None
    if demand.status == "cancelled":
        if variables.get("order_action") == "cancel":
            result = {"kind": "order_cancelled", "reason": variables.get("order_note") or ""}
        else:
            result = {"kind": "cancelled", "reason": _payload_text(variables.get("cancel_reason"))}
            message = _last_message(session, demand, "demand_cancel")
            if message is not None:
                result.update(by=message.received_by, at=message.received_at,
                              reason=_payload_text(message.payload.get("cancel_reason")) or result["reason"])
    elif demand.status == "unplannable":
        if variables.get("failure_reason") and variables.get("integration_result") != "unplannable":
            result = {"kind": "negotiation_failed", "code": str(variables["failure_reason"])}
        else:
            result = {"kind": "unplannable", "reason": variables.get("unplannable_reason") or ""}
    elif instance is not None and instance.state == "terminated":
        result = {"kind": "terminated", "reason": instance.end_reason or ""}
    elif instance is not None and instance.state == "error":
        result = {"kind": "incident"}
    elif (demand.status == "collected" and instance is not None and instance.state == "completed"
          and variables.get("confirmed") is False):
        result = {"kind": "returned", "reason": variables.get("confirm_comment") or ""}
    if result is not None:
        result.setdefault("reason", "")
        result.setdefault("code", None)
        result.setdefault("by", None)
        result.setdefault("at", instance.ended_at if instance is not None else None)
    return result


def changes(session: Session, demand: Demand) -> list[dict[str, Any]]:
    """The 需求变更 delivered to the demand's current flow, oldest first: ``{"at", "by", "reason",
    "fields": {name: new value}}``."""
    if demand.instance_id is None:
        return []
    found = []
    for message in _messages(session, demand, "demand_change"):
        payload = dict(message.payload or {})
        reason = _payload_text(payload.pop("change_reason", ""))
        found.append({"at": message.received_at, "by": message.received_by, "reason": reason,
                      "fields": {k: v for k, v in payload.items() if k in CHANGEABLE}})
    return found


def _messages(session: Session, demand: Demand, name: str) -> list[ReceivedMessage]:
    rows = session.scalars(select(ReceivedMessage).where(
        ReceivedMessage.name == name, ReceivedMessage.business_key == demand.demand_no,
        ReceivedMessage.tenant.is_(None) | (ReceivedMessage.tenant == demand.tenant))
        .order_by(ReceivedMessage.received_at, ReceivedMessage.id))
    return [m for m in rows if demand.instance_id in ((m.result or {}).get("delivered_to") or [])]


def _last_message(session: Session, demand: Demand, name: str) -> ReceivedMessage | None:
    found = _messages(session, demand, name)
    return found[-1] if found else None


def _payload_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""

"""Process instances: start, look up, list, suspend, resume, terminate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, case, cast, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased, defer
from sqlalchemy.types import Float

from engine.errors import BadRequest, Conflict, Forbidden, NotFound
from engine.lifecycle import InstanceEvent
from engine.models import (
    HumanTask,
    Incident,
    InstanceToken,
    InstanceValue,
    Job,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
)
from engine.principal import Principal
from engine.runtime import advance, audit
from engine.runtime.forms_check import validate_form
from engine.runtime.instance_run import FINAL_STATES, InstanceRun, derive_state

if TYPE_CHECKING:
    from engine.platform import Platform

STATES = ("running", "waiting", "suspended", "completed", "cancelled", "terminated", "error")


def latest_definition(session: Session, process_key: str) -> ProcessDefinition:
    """The newest version (its spec text left unread: the platform keeps the parsed specs)."""
    definition = session.scalar(
        select(ProcessDefinition).options(defer(ProcessDefinition.spec_json))
        .where(ProcessDefinition.key == process_key).order_by(ProcessDefinition.version.desc()).limit(1)
    )
    if definition is None:
        raise NotFound("no process is deployed with key '%(process_key)s'", process_key=process_key)
    return definition


def check_may_start(definition: ProcessDefinition, actor: Principal) -> None:
    groups = set(definition.starter_groups or [])
    if groups and not actor.is_admin and not (groups & actor.groups):
        raise Forbidden(
            "only members of %(groups)s may start '%(process_key)s'",
            {"starter_groups": sorted(groups)}, groups=", ".join(sorted(groups)), process_key=definition.key,
        )


def instance_tenant(actor: Principal, requested: str | None) -> str | None:
    """Operators always start in their own tenant; staff may name one."""
    if actor.tenant is None:
        return requested
    if requested not in (None, actor.tenant):
        raise Forbidden("you may start processes only in your own tenant")
    return actor.tenant


def start(platform: Platform, actor: Principal, process_key: str, business_key: str | None = None,
          variables: dict[str, Any] | None = None, tenant: str | None = None) -> int:
    return start_step(platform, actor, process_key, business_key, variables, tenant).instance_id


def start_step(platform: Platform, actor: Principal, process_key: str, business_key: str | None = None,
               variables: dict[str, Any] | None = None, tenant: str | None = None,
               then: Callable[[InstanceRun], object] | None = None) -> advance.Step:
    """``start``, telling the caller whether the first steps queued work for ``jobs.drain``;
    ``then`` as in ``advance.apply_step``. The version is chosen and the start form checked in
    the step's own transaction (one read of the definition)."""
    variables = dict(variables or {})
    if not isinstance(variables, dict):
        raise BadRequest("variables must be an object")
    checked: dict[str, Any] = {}

    def open_run(session: Session) -> InstanceRun:
        definition = latest_definition(session, process_key)
        if not checked:  # once, also when the change is tried again alone (advance.py)
            check_may_start(definition, actor)
            checked["variables"] = (validate_form(platform.forms, definition.start_form_key, variables)
                                    if definition.start_form_key else variables)
            checked["tenant"] = instance_tenant(actor, tenant)
        return InstanceRun.create(platform, session, definition, business_key, checked["tenant"], actor.username)

    def change(run: InstanceRun) -> None:
        values = checked["variables"]
        for task in run.workflow.get_tasks(state=TaskState.READY):
            task.set_data(**values)
        run.workflow.task_tree.set_data(**values)
        audit.record(run.session, run.row.id, actor.username, "instance.started",
                     data={"business_key": business_key, "variables": values, "tenant": checked["tenant"]},
                     at=platform.clock.now())

    return advance.apply_step(platform, open_run, change, then)


def visible_instance(session: Session, actor: Principal, instance_id: int) -> ProcessInstance:
    row = session.get(ProcessInstance, instance_id)
    if row is None or not actor.sees_tenant(row.tenant):
        raise NotFound("process instance %(id)s does not exist", id=instance_id)
    return row


VARIABLE_OPS = ("eq", "contains", "gt", "lt")


@dataclass
class InstanceFilter:
    process_key: str | None = None
    state: str | None = None
    business_key: str | None = None
    tenant: str | None = None
    version: int | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    has_incident: bool | None = None
    overdue: bool = False  # has an open task past its due time
    # (variable name, op, value): op in VARIABLE_OPS; eq and contains match the searchable text
    # (engine.runtime.values), gt and lt compare numbers. All conditions must hold.
    variables: list[tuple[str, str, str]] = field(default_factory=list)
    element: str | None = None  # now at this element (it holds a token, or a token inside it)
    parent_key: str | None = None  # called by an instance of this process
    top_level: bool = False  # only instances nobody called

    def check(self) -> None:
        """Refuse a malformed variable condition instead of silently matching nothing."""
        for condition in self.variables:
            if len(condition) != 3:
                raise BadRequest("a variable condition is name:op:value")
            name, op, value = condition
            if not name:
                raise BadRequest("a variable condition needs a variable name")
            if op not in VARIABLE_OPS:
                raise BadRequest("unknown comparison '%(op)s' (use eq, contains, gt or lt)", op=op)
            if op in ("gt", "lt"):
                try:
                    float(value)
                except (TypeError, ValueError):
                    raise BadRequest("'%(value)s' is not a number to compare %(name)s with",
                                     value=value, name=name) from None


def parse_condition(text: str) -> tuple[str, str, str]:
    """``name:op:value`` (the value may hold colons) as a variable condition."""
    parts = (text or "").split(":", 2)
    if len(parts) != 3:
        raise BadRequest("'%(condition)s' is not a variable condition (name:op:value)", condition=text)
    return parts[0].strip(), parts[1].strip(), parts[2]


def _numeric(session: Session, column):
    """The value as a number where it is one, else NULL (a text never breaks the cast)."""
    if session.get_bind().dialect.name == "postgresql":
        is_number = column.op("~")(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
    else:  # SQLite: digits, one optional leading minus, a dot
        is_number = and_(column != "", column.op("NOT GLOB")("*[^0-9.eE+-]*"), column.op("GLOB")("*[0-9]*"))
    return case((is_number, cast(column, Float)), else_=None)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def variable_condition(session: Session, name: str, op: str, value: str):
    """The instance has a searchable value row that meets the condition (an IN over the value
    rows: both databases plan it as a semi-join, and SQLite builds it once instead of probing
    the value rows for every instance)."""
    column = InstanceValue.value
    if op == "eq":
        test = column == value
    elif op == "contains":
        pattern = f"%{_escape_like(value.lower())}%"
        # a term without upper and lower case (Chinese, digits) matches the same either way: the
        # plain column is five times cheaper than lower() on every row, and has statistics
        uncased = value.lower() == value.upper()
        test = (column if uncased else func.lower(column)).like(pattern, escape="\\")
    else:
        number = _numeric(session, column)
        test = number > float(value) if op == "gt" else number < float(value)
    return ProcessInstance.id.in_(select(InstanceValue.instance_id).where(InstanceValue.name == name, test))


def filtered(session: Session, actor: Principal, flt: InstanceFilter, now: datetime | None = None):
    """The SELECT of the instances the actor may see that match the filter (no order, no page)."""
    flt.check()
    stmt = select(ProcessInstance)
    if actor.tenant is not None:
        stmt = stmt.where(ProcessInstance.tenant == actor.tenant)
    for column, value in (
        (ProcessInstance.process_key, flt.process_key), (ProcessInstance.state, flt.state),
        (ProcessInstance.business_key, flt.business_key), (ProcessInstance.tenant, flt.tenant),
        (ProcessInstance.version, flt.version),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.started_after is not None:
        stmt = stmt.where(ProcessInstance.started_at >= flt.started_after)
    if flt.started_before is not None:
        stmt = stmt.where(ProcessInstance.started_at < flt.started_before)
    if flt.has_incident is not None:
        open_incident = exists().where(Incident.instance_id == ProcessInstance.id, Incident.state == "open")
        stmt = stmt.where(open_incident if flt.has_incident else ~open_incident)
    if flt.overdue and now is not None:
        stmt = stmt.where(exists().where(HumanTask.instance_id == ProcessInstance.id, HumanTask.state == "open",
                                         HumanTask.due_at < now))
    for name, op, value in flt.variables:
        stmt = stmt.where(variable_condition(session, name, op, str(value)))
    if flt.element:
        stmt = stmt.where(ProcessInstance.id.in_(select(InstanceToken.instance_id).where(
            InstanceToken.element_id == flt.element, InstanceToken.kind.in_(("active", "scope")))))
    if flt.parent_key:
        parent = aliased(ProcessInstance)
        stmt = stmt.where(exists().where(parent.id == ProcessInstance.parent_id, parent.process_key == flt.parent_key))
    if flt.top_level:
        stmt = stmt.where(ProcessInstance.parent_id.is_(None))
    return stmt


def list_instances(session: Session, actor: Principal, flt: InstanceFilter, offset: int = 0,
                   limit: int = 50, now: datetime | None = None) -> tuple[list[ProcessInstance], int]:
    """Instances the actor may see, newest first; ``now`` is needed for the overdue filter.
    Called processes are rows of their own (``parent_id`` set) and are listed like any other."""
    stmt = filtered(session, actor, flt, now)
    if flt.variables or flt.element:
        return _one_pass(session, stmt, offset, limit)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(ProcessInstance.id.desc()).offset(offset).limit(limit)).all()
    return list(rows), int(total or 0)


def _one_pass(session: Session, stmt, offset: int, limit: int) -> tuple[list[ProcessInstance], int]:
    """The page's ids and the total in one statement, then the page's rows by id: a value or
    element filter is costly to evaluate, so it is evaluated once (and planned as the count is,
    not as a walk down the newest ids that the value estimates can mislead)."""
    found = session.execute(stmt.with_only_columns(ProcessInstance.id, func.count().over().label("total"))
                            .order_by(ProcessInstance.id.desc()).offset(offset).limit(limit)).all()
    if not found:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) if offset else 0
        return [], int(total or 0)
    ids = [row.id for row in found]
    rows = session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(ids))
                           .order_by(ProcessInstance.id.desc())).all()
    return list(rows), int(found[0].total)


def _require_supervisor(actor: Principal) -> None:
    if not (actor.is_admin or "supervisor" in actor.groups):
        raise Forbidden("only supervisors and administrators may do this")


def suspend(platform: Platform, actor: Principal, instance_id: int, reason: str | None = None) -> None:
    _require_supervisor(actor)
    with platform.transaction() as session:
        visible_instance(session, actor, instance_id)
        run = InstanceRun.open(platform, session, instance_id)
        if run.row.state in FINAL_STATES or run.row.state == "suspended":
            raise Conflict("instance %(id)s is %(state)s and cannot be suspended", id=instance_id, state=run.row.state)
        run.row.state_before_suspend = run.row.state
        run.row.state = "suspended"
        run.sync_called_states()
        audit.record(session, instance_id, actor.username, "instance.suspended", at=platform.clock.now(),
                     data={"reason": reason} if reason else None)


def resume(platform: Platform, actor: Principal, instance_id: int, reason: str | None = None) -> None:
    _require_supervisor(actor)
    with platform.transaction() as session:
        visible_instance(session, actor, instance_id)
        run = InstanceRun.open(platform, session, instance_id)
        if run.row.state != "suspended":
            raise Conflict("instance %(id)s is %(state)s, not suspended", id=instance_id, state=run.row.state)
        run.row.state = derive_state(session, instance_id)
        run.row.state_before_suspend = None
        run.sync_called_states()
        audit.record(session, instance_id, actor.username, "instance.resumed", at=platform.clock.now(),
                     data={"reason": reason} if reason else None)


def terminate(platform: Platform, actor: Principal, instance_id: int, reason: str) -> None:
    _require_supervisor(actor)
    if not (reason or "").strip():
        raise BadRequest("a reason is required to terminate an instance")
    with platform.transaction() as session:
        visible_instance(session, actor, instance_id)
        run = InstanceRun.open(platform, session, instance_id)
        if run.row.state in FINAL_STATES:
            raise Conflict("instance %(id)s is already %(state)s", id=instance_id, state=run.row.state)
        now = platform.clock.now()
        run.workflow.cancel()
        run.row.state = "terminated"
        run.row.end_reason = reason.strip()
        run.row.ended_at = now
        run.save()
        session.execute(update(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
                        .values(state="cancelled", completed_at=now))
        # candidate rows serve open tasks only (see tasks.complete); the save above drops most
        session.execute(delete(TaskCandidate).where(TaskCandidate.task_id.in_(
            select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.state == "cancelled"))))
        session.execute(update(Job).where(Job.instance_id == instance_id, Job.state == "pending")
                        .values(state="cancelled", finished_at=now))
        session.query(MessageSubscription).filter(MessageSubscription.instance_id == instance_id).delete()
        audit.record(session, instance_id, actor.username, "instance.terminated",
                     data={"reason": reason.strip()}, at=now)
        if platform.lifecycle.listens("instance_cancelled"):
            platform.lifecycle.emit("instance_cancelled", InstanceEvent(
                session, run.row, now, actor=actor.username, reason=reason.strip()))


def startable_definitions(session: Session, actor: Principal) -> list:
    """The latest version of every process the actor may start (its starterGroups, or anyone)."""
    latest = select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v")) \
        .group_by(ProcessDefinition.key).subquery()
    rows = session.scalars(select(ProcessDefinition).options(defer(ProcessDefinition.spec_json)).join(
        latest, and_(ProcessDefinition.key == latest.c.key, ProcessDefinition.version == latest.c.v))).all()
    rows = sorted(rows, key=lambda row: (row.name or row.key, row.key))  # the same order on every database
    allowed = []
    for row in rows:
        try:
            check_may_start(row, actor)
        except Forbidden:
            continue
        allowed.append(row)
    return allowed

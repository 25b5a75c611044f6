"""Called processes as rows of their own, kept from the root instance's workflow.

A call activity runs the called process inside its caller's SpiffWorkflow workflow (one lock,
one save, all-or-nothing). People still ask for "the negotiation" as a process of its own,
the way Camunda shows a called instance: so every save gives each call activity's run a
``ProcessInstance`` row (``parent_id``, ``root_id``, ``call_task_id``) with its own key,
version, state and variables. The row is a projection: it never holds a workflow, and every
change goes through its root (see docs/engine.md, "Called processes").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from engine.definitions.serialization import SERIALIZER_VERSION
from engine.models import ProcessDefinition, ProcessInstance
from engine.runtime.values import sync_values

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn import BpmnWorkflow

    from engine.runtime.instance_run import InstanceRun

LIVE = (TaskState.READY, TaskState.WAITING, TaskState.STARTED)
FINAL = ("completed", "cancelled", "terminated")


@dataclass
class CalledRun:
    """One call activity's run inside a root workflow."""

    call_task_id: str  # the call activity's SpiffWorkflow task (the subworkflow's id)
    key: str  # the called process
    parent_call_task_id: str | None  # the call activity it runs inside, None at the top
    workflow: Any  # the BpmnSubWorkflow
    state: str


def called_runs(workflow: BpmnWorkflow) -> list[CalledRun]:
    """Every call activity's run in the workflow, callers before the processes they call."""
    runs = []
    for sp_id, sub in workflow.subprocesses.items():
        call = task_by_id(workflow, sp_id)
        if call is None or not isinstance(call.task_spec, CallActivity):
            continue
        runs.append(CalledRun(str(sp_id), sub.spec.name, owning_call(workflow, call), sub, _run_state(call, sub)))
    return sorted(runs, key=lambda run: run.workflow.depth)


def owning_call(workflow: BpmnWorkflow, task: Task) -> str | None:
    """The call activity whose run holds ``task`` (through embedded sub-processes), or None."""
    sub = task.workflow
    while sub is not workflow:
        parent = task_by_id(workflow, sub.parent_task_id)
        if parent is None:
            return None
        if isinstance(parent.task_spec, CallActivity):
            return str(sub.parent_task_id)
        sub = parent.workflow
    return None


def task_by_id(workflow: BpmnWorkflow, task_id: Any) -> Task | None:
    """The task, or None where SpiffWorkflow raises (a subworkflow left by a cancelled branch)."""
    try:
        return workflow.get_task_from_id(task_id if isinstance(task_id, UUID) else UUID(str(task_id)))
    except (TaskNotFoundException, ValueError):
        return None


def _run_state(call: Task, sub: Any) -> str:
    if call.state == TaskState.CANCELLED:
        return "cancelled"
    if sub.completed or call.state == TaskState.COMPLETED:
        return "completed"
    queued = any(t.state == TaskState.READY and not t.task_spec.manual for t in sub.tasks.values())
    return "running" if queued else "waiting"


def subworkflow_data(workflow: BpmnWorkflow, called: CalledRun) -> dict[str, Any]:
    """The called process's variables: its live tasks' data, and the data of its running
    embedded sub-processes (as ``current_data`` does for a root); its last task's once ended."""
    sub = called.workflow
    tasks = [t for t in sub.tasks.values() if t.state in LIVE]
    if not tasks:
        finished = [t for t in sub.tasks.values() if t.state == TaskState.COMPLETED]
        tasks = [max(finished, key=lambda t: t.last_state_change)] if finished else []
    data: dict[str, Any] = {}
    for task in tasks:
        data.update(task.data)
    for inner in sorted(workflow.subprocesses.values(), key=lambda w: w.depth):
        if inner is sub or inner.depth <= sub.depth or inner.completed:
            continue
        parent = task_by_id(workflow, inner.parent_task_id)
        if parent is None or isinstance(parent.task_spec, CallActivity):
            continue
        if owning_call(workflow, parent) == called.call_task_id:
            for task in inner.tasks.values():
                if task.state in LIVE:
                    data.update(task.data)
    return json.loads(json.dumps(data, default=str))


def called_definition_id(session: Session, root: ProcessInstance, key: str) -> int | None:
    """The version of ``key`` the root runs: a migration's choice, else the one bound at deploy
    (the newest deployed no later than the root's own version)."""
    chosen = (root.spec_overrides or {}).get(key)
    if chosen is not None:
        return int(chosen)
    root_definition = session.get(ProcessDefinition, root.definition_id)
    return session.scalar(
        select(ProcessDefinition.id).where(
            ProcessDefinition.key == key, ProcessDefinition.deployment_id <= root_definition.deployment_id)
        .order_by(ProcessDefinition.version.desc()).limit(1))


def sync_called(run: InstanceRun, now: datetime) -> dict[str, ProcessInstance]:
    """Bring the called-process rows in line with the workflow; call task id -> row."""
    root = run.row
    runs = called_runs(run.workflow)
    if not runs and not run.had_called:
        return {}
    rows = {r.call_task_id: r for r in run.session.scalars(
        select(ProcessInstance).where(ProcessInstance.root_id == root.id))}
    run.had_called = bool(rows) or bool(runs)
    seen = set()
    new_rows = []
    for called in runs:
        seen.add(called.call_task_id)
        row = rows.get(called.call_task_id)
        if row is None:
            row = _new_row(run, called, rows, now)
            if row is None:
                continue
            rows[called.call_task_id] = row
            new_rows.append(row)
        _update_row(row, called, subworkflow_data(run.workflow, called), now)
        run.called_states[called.call_task_id] = called.state
    for call_task_id, row in rows.items():
        if call_task_id not in seen and row.state not in FINAL:
            _set_state(row, "completed", now)  # its run was pruned from the workflow after it ended
    if new_rows:
        run.session.flush()  # their ids, for their tasks, tokens and values
        for row in new_rows:
            sync_values(run.session, row.id, set(row.variables), row.variables)
    return rows


def _new_row(run: InstanceRun, called: CalledRun, rows: dict[str, ProcessInstance],
             now: datetime) -> ProcessInstance | None:
    root = run.row
    definition_id = called_definition_id(run.session, root, called.key)
    if definition_id is None:
        return None
    definition = run.session.get(ProcessDefinition, definition_id)
    parent = rows.get(called.parent_call_task_id) if called.parent_call_task_id else root
    row = ProcessInstance(
        definition_id=definition.id, process_key=definition.key, version=definition.version,
        business_key=root.business_key, tenant=root.tenant, state=called.state, started_by=root.started_by,
        started_at=now, updated_at=now, variables={}, workflow_json="", serializer_version=SERIALIZER_VERSION,
        parent=parent, root_id=root.id, call_task_id=called.call_task_id,
    )
    run.session.add(row)
    return row


def _update_row(row: ProcessInstance, called: CalledRun, variables: dict[str, Any], now: datetime) -> None:
    _set_state(row, called.state, now)
    if variables != row.variables:
        before = row.variables or {}
        changed = {k for k in variables if before.get(k, object()) != variables[k]} | (set(before) - set(variables))
        row.variables = variables
        row.updated_at = now
        if row.id is not None:
            sync_values(object_session(row), row.id, changed, variables)


def _set_state(row: ProcessInstance, state: str, now: datetime) -> None:
    if row.state != state:
        row.state = state
        row.updated_at = now
        row.ended_at = now if state in FINAL else None


def follow_root(run: InstanceRun, rows: dict[str, ProcessInstance], now: datetime) -> None:
    """A called process still under way shares its root's suspension, end or incident."""
    root_state = run.row.state
    for call_task_id, row in rows.items():
        own = run.called_states.get(call_task_id)
        if own is None or own in FINAL:
            continue
        if root_state in ("suspended", "error") or root_state in FINAL:
            _set_state(row, "terminated" if root_state in FINAL else root_state, now)
        else:
            _set_state(row, own, now)

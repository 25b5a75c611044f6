"""Read-only questions the supervisor pages ask: where an instance has been and is now,
what happened to it when, and how a process version's instances spread over its diagram.

Nothing here changes the database. Positions come from the stored workflow JSON, walked
over the flat ``tasks`` dictionaries of the workflow and its subprocesses (never the
depth-limited tree iterator, which stops inside long loops; see docs/engine.md).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.definitions.deployments import definition_file
from engine.definitions.serialization import workflow_from_json
from engine.models import AuditEvent, HumanTask, Incident, ProcessDefinition, ProcessInstance
from engine.principal import Principal
from engine.queries import family
from engine.queries.element_counts import element_counts

if TYPE_CHECKING:
    from engine.platform import Platform

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
PREDICTED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE


# --- where a workflow has been ------------------------------------------------------------


@dataclass
class Positions:
    """Per-element counts for one workflow (or summed over many)."""

    completed: Counter = field(default_factory=Counter)  # element id -> tasks completed
    active: Counter = field(default_factory=Counter)  # element id -> live tokens
    edges: set[tuple[str, str]] = field(default_factory=set)  # (source, target) element ids passed


def _all_tasks(workflow: BpmnWorkflow) -> Iterator[Task]:
    """Every task of the workflow and its subprocesses, flat (no depth limit)."""
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def _element(task: Task | None) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None) if task is not None else None


def _bpmn_parent(task: Task) -> Task | None:
    """The nearest ancestor that is a BPMN element (skips SpiffWorkflow's hidden tasks)."""
    parent = task.parent
    while parent is not None and _element(parent) is None:
        parent = parent.parent
    return parent


def positions(workflow: BpmnWorkflow) -> Positions:
    """Completed and live elements, and the element-to-element steps taken.

    A step source -> target was taken when the source task completed and the target task
    was reached (live, completed, or cancelled afterwards, like the spare branch tasks of a
    parallel join or the open tasks of a terminated instance).
    """
    return positions_of(_all_tasks(workflow))


def positions_of(tasks: Iterable[Task]) -> Positions:
    """``positions`` over some of a workflow's tasks (one diagram's, see queries/family.py)."""
    found = Positions()
    for task in tasks:
        element = _element(task)
        if element is None or task.state & PREDICTED:
            continue
        if task.state == TaskState.COMPLETED:
            found.completed[element] += 1
        elif task.state & LIVE:
            found.active[element] += 1
        parent = _bpmn_parent(task)
        if parent is not None and parent.state == TaskState.COMPLETED:
            found.edges.add((_element(parent), element))
    return found


def sequence_flows(bpmn_xml: str) -> dict[tuple[str, str], list[str]]:
    """(sourceRef, targetRef) -> sequence flow ids, read from the deployed BPMN file."""
    flows: dict[tuple[str, str], list[str]] = {}
    root = ET.fromstring(bpmn_xml.encode("utf-8"))
    for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        ends = (flow.get("sourceRef"), flow.get("targetRef"))
        flows.setdefault(ends, []).append(flow.get("id"))
    return flows


def element_names(bpmn_xml: str) -> dict[str, str]:
    """Element id -> its name in the diagram (the id when it has none), for tables and labels."""
    names = {}
    for node in ET.fromstring(bpmn_xml.encode("utf-8")).iter():
        if node.tag.startswith(f"{{{BPMN_NS}}}") and node.get("id"):
            names[node.get("id")] = (node.get("name") or "").strip() or node.get("id")
    return names


def taken_flows(edges: Iterable[tuple[str, str]], flows: dict[tuple[str, str], list[str]]) -> list[str]:
    return sorted(flow_id for edge in edges for flow_id in flows.get(edge, ()))


@dataclass
class InstancePath:
    """What the instance page marks on the diagram."""

    completed: dict[str, int]
    active: dict[str, int]
    flows: list[str]
    incidents: list[str]
    calls: dict[str, int] = field(default_factory=dict)  # call activity element -> called instance id

    def as_dict(self) -> dict[str, Any]:
        return {"completed": self.completed, "active": self.active, "flows": self.flows,
                "incidents": self.incidents, "calls": self.calls}


def load_workflow(platform: Platform, session: Session, row: ProcessInstance) -> BpmnWorkflow | None:
    """The instance's workflow (a called row's root's), or None for a row that never stored one."""
    if row.is_called:
        root = session.get(ProcessInstance, row.root_id)
        return load_workflow(platform, session, root) if root is not None else None
    if not row.workflow_json or row.workflow_json == "{}":
        return None
    return workflow_from_json(row.workflow_json, platform.specs_for(session, row))


def instance_path(platform: Platform, session: Session, row: ProcessInstance) -> InstancePath:
    workflow = load_workflow(platform, session, row)
    found = positions_of(family.own_tasks(workflow, row)) if workflow is not None else Positions()
    definition = session.get(ProcessDefinition, row.definition_id)
    flows = sequence_flows(definition_file(session, definition).content)
    incidents = [i.element_id for i in family.incidents(session, row) if i.element_id is not None]
    children = family.family(session, row).children
    calls = family.calls(workflow, row, children) if workflow is not None and children else {}
    return InstancePath(dict(found.completed), dict(found.active), taken_flows(found.edges, flows),
                        sorted(set(incidents)), calls)


# --- what happened when ------------------------------------------------------------------


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # task | event
    title: str
    element_id: str | None = None
    who: str | None = None
    state: str | None = None
    claimed_at: datetime | None = None
    ended_at: datetime | None = None
    due_at: datetime | None = None

    @property
    def duration_seconds(self) -> float | None:
        return (self.ended_at - self.at).total_seconds() if self.ended_at else None

    @property
    def wait_seconds(self) -> float | None:
        """How long the task lay unclaimed."""
        return (self.claimed_at - self.at).total_seconds() if self.claimed_at else None


TIMELINE_EVENTS = ("instance.started", "service.completed", "timer.fired", "message.received",
                   "incident.raised", "incident.retried", "instance.suspended", "instance.resumed",
                   "instance.terminated", "instance.completed", "instance.cancelled", "variable.edited")


def timeline(session: Session, instance_id: int) -> list[TimelineEntry]:
    """Human tasks (created, claimed, done, by whom) and the engine's own steps, in order."""
    entries = [_task_entry(t) for t in session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id))]
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.instance_id == instance_id, AuditEvent.action.in_(TIMELINE_EVENTS)).order_by(AuditEvent.id))
    entries += [TimelineEntry(at=e.at, kind="event", title=e.action, element_id=e.element_id, who=e.actor)
                for e in events]
    return sorted(entries, key=lambda e: (e.at, e.kind != "event"))


def called_timeline(session: Session, row: ProcessInstance, elements: set[str]) -> list[TimelineEntry]:
    """A called process's timeline: its own tasks, and its root's engine steps at its elements
    while it ran (the audit rows are written on the root, which holds its workflow)."""
    entries = [_task_entry(t) for t in session.scalars(
        select(HumanTask).where(HumanTask.called_instance_id == row.id).order_by(HumanTask.id))]
    entries += [TimelineEntry(at=e.at, kind="event", title=e.action, element_id=e.element_id, who=e.actor)
                for e in called_events(session, row, elements) if e.action in TIMELINE_EVENTS]
    return sorted(entries, key=lambda e: (e.at, e.kind != "event"))


def called_events(session: Session, row: ProcessInstance, elements: set[str]) -> list[AuditEvent]:
    """The root's audit rows about a called process's elements, while it ran."""
    stmt = select(AuditEvent).where(AuditEvent.instance_id == row.root_id, AuditEvent.at >= row.started_at,
                                    AuditEvent.element_id.in_(elements or {""}))
    if row.ended_at is not None:
        stmt = stmt.where(AuditEvent.at <= row.ended_at)
    return list(session.scalars(stmt.order_by(AuditEvent.id)))


def _task_entry(task: HumanTask) -> TimelineEntry:
    return TimelineEntry(at=task.created_at, kind="task", title=task.title, element_id=task.element_id,
                         who=task.completed_by or task.assignee, state=task.state, claimed_at=task.claimed_at,
                         ended_at=task.completed_at, due_at=task.due_at)


# --- list badges ---------------------------------------------------------------------------


def instance_flags(session: Session, instance_ids: list[int], now: datetime) -> dict[int, dict[str, int]]:
    """Open incidents and overdue tasks per instance, for the badges of one list page."""
    flags = {i: {"incidents": 0, "overdue": 0} for i in instance_ids}
    if not instance_ids:
        return flags
    for instance_id, count in session.execute(
            select(Incident.instance_id, func.count()).where(Incident.instance_id.in_(instance_ids),
                                                             Incident.state == "open")
            .group_by(Incident.instance_id)):
        flags[instance_id]["incidents"] = count
    for instance_id, count in session.execute(
            select(HumanTask.instance_id, func.count()).where(HumanTask.instance_id.in_(instance_ids),
                                                              HumanTask.state == "open", HumanTask.due_at < now)
            .group_by(HumanTask.instance_id)):
        flags[instance_id]["overdue"] = count
    return flags


# --- process versions --------------------------------------------------------------------


def _scoped(stmt, actor: Principal):
    return stmt.where(ProcessInstance.tenant == actor.tenant) if actor.tenant is not None else stmt


def version_counts(session: Session, actor: Principal, key: str | None = None) -> dict[int, dict[str, int]]:
    """definition id -> {state: instances}, counting only instances the actor may see."""
    stmt = select(ProcessInstance.definition_id, ProcessInstance.state, func.count()).group_by(
        ProcessInstance.definition_id, ProcessInstance.state)
    if key is not None:
        stmt = stmt.where(ProcessInstance.process_key == key)
    counts: dict[int, dict[str, int]] = {}
    for definition_id, state, count in session.execute(_scoped(stmt, actor)):
        counts.setdefault(definition_id, {})[state] = count
    return counts


@dataclass
class Heatmap:
    """How many instances are at each element now, and how often each element was passed."""

    now: dict[str, int]
    passed: dict[str, int]
    instances: int
    flows: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"now": self.now, "passed": self.passed, "instances": self.instances, "flows": self.flows}


def heatmap(platform: Platform, session: Session, actor: Principal, definition: ProcessDefinition) -> Heatmap:
    """Counts over every instance of one version that the actor may see.

    It reads (and deserializes) every such instance's workflow JSON: about 1 ms per instance
    (300 instances: 0.26 s on SQLite), fine for the volumes we have now. A counter table kept
    by ``InstanceRun.save`` would replace it if versions ever carry tens of thousands.
    """
    rows = session.scalars(_scoped(select(ProcessInstance).where(
        ProcessInstance.definition_id == definition.id).order_by(ProcessInstance.id), actor))
    now: Counter = Counter()
    passed: Counter = Counter()
    edges: Counter = Counter()
    total = 0
    for row in rows:
        total += 1
        workflow = load_workflow(platform, session, row)
        if workflow is None:
            continue
        found = positions_of(family.own_tasks(workflow, row))  # a called row's own run only
        passed.update(found.completed)
        edges.update(found.edges)
    # "now" from the token rows: waiting boundary events and event sub-processes are listeners, not "at"
    now.update(element_counts(session, actor, definition.id).running)
    flows = sequence_flows(definition_file(session, definition).content)
    flow_counts = {flow_id: count for edge, count in edges.items() for flow_id in flows.get(edge, ())}
    return Heatmap(dict(now), dict(passed), total, flow_counts)

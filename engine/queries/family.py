"""Callers and called processes: what a called instance's page and API need from its root.

A called process (``ProcessInstance.parent_id`` set) holds no workflow of its own; its tasks,
incidents and positions live in its root's workflow and rows. These questions find them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import HumanTask, Incident, InstanceToken, ProcessInstance
from engine.runtime.called import called_runs, owning_call, task_by_id
from engine.runtime.workflow import all_tasks

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.task import Task


@dataclass
class Family:
    """An instance's callers (root first) and the processes it called (oldest first)."""

    ancestors: list[ProcessInstance] = field(default_factory=list)
    children: list[ProcessInstance] = field(default_factory=list)

    @property
    def parent(self) -> ProcessInstance | None:
        return self.ancestors[-1] if self.ancestors else None


def family(session: Session, row: ProcessInstance) -> Family:
    ancestors = []
    parent_id = row.parent_id
    while parent_id is not None and len(ancestors) < 20:
        parent = session.get(ProcessInstance, parent_id)
        if parent is None:
            break
        ancestors.insert(0, parent)
        parent_id = parent.parent_id
    children = session.scalars(select(ProcessInstance).where(ProcessInstance.parent_id == row.id)
                               .order_by(ProcessInstance.id)).all()
    return Family(ancestors, list(children))


def open_tasks(session: Session, row: ProcessInstance) -> list[HumanTask]:
    """A root's open tasks (its called processes' included); a called row's own."""
    column = HumanTask.called_instance_id if row.is_called else HumanTask.instance_id
    return list(session.scalars(select(HumanTask).where(column == row.id, HumanTask.state == "open")
                                .order_by(HumanTask.id)))


def incidents(session: Session, row: ProcessInstance, state: str | None = "open") -> list[Incident]:
    """A root's incidents; a called row's are its root's at elements where it stands now."""
    stmt = select(Incident)
    if row.is_called:
        stmt = stmt.where(Incident.instance_id == row.root_id, Incident.element_id.in_(
            select(InstanceToken.element_id).where(InstanceToken.instance_id == row.id)))
    else:
        stmt = stmt.where(Incident.instance_id == row.id)
    if state:
        stmt = stmt.where(Incident.state == state)
    return list(session.scalars(stmt.order_by(Incident.state.desc(), Incident.id.desc())))


def own_tasks(workflow: BpmnWorkflow, row: ProcessInstance) -> list[Task]:
    """The SpiffWorkflow tasks of the row's own diagram: a called row's run, or the root
    without the runs it called (an element id means something only in its own diagram)."""
    wanted = row.call_task_id if row.is_called else None
    return [task for task in all_tasks(workflow) if owning_call(workflow, task) == wanted]


def calls(workflow: BpmnWorkflow, row: ProcessInstance, children: list[ProcessInstance]) -> dict[str, int]:
    """Call activity element id -> the called instance it ran (the newest run per element)."""
    by_task = {child.call_task_id: child.id for child in children}
    found: dict[str, int] = {}
    for run in called_runs(workflow):
        if run.call_task_id not in by_task or run.parent_call_task_id != (row.call_task_id if row.is_called else None):
            continue
        task = task_by_id(workflow, run.call_task_id)
        element = getattr(task.task_spec, "bpmn_id", None) if task is not None else None
        if element is not None:
            found[element] = by_task[run.call_task_id]
    return found


def api_links(family_of: Family) -> dict[str, Any]:
    """The family as the API shows it beside an instance."""
    parent = family_of.parent
    return {
        "parent": None if parent is None else {"id": parent.id, "process_key": parent.process_key,
                                               "business_key": parent.business_key},
        "root_id": family_of.ancestors[0].id if family_of.ancestors else None,
        "called": [{"id": c.id, "process_key": c.process_key, "version": c.version, "state": c.state}
                   for c in family_of.children],
    }

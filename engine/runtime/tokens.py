"""Where an instance stands, as rows kept by every save (``instance_tokens``).

They answer "how many instances are at 站址筛查 now" and "which ones" without opening a
single workflow. Only the rows that differ are written, so a step that moves nothing writes
nothing here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import EventSubprocess, SubWorkflowTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select

from engine.models import InstanceToken, ProcessInstance
from engine.runtime.called import owning_call
from engine.runtime.workflow import all_tasks

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn import BpmnWorkflow

    from engine.runtime.instance_run import InstanceRun

LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


def token_kind(task: Task) -> str:
    """listener: waits beside the flow (a boundary event, an event sub-process); scope: holds
    a token inside it (a sub-process, a call activity); active: holds the token itself."""
    spec = task.task_spec
    if isinstance(spec, BoundaryEvent) or isinstance(spec, EventSubprocess):
        return "listener"
    if isinstance(spec, SubWorkflowTask):
        return "scope"
    return "active"


def live_elements(workflow: BpmnWorkflow) -> Iterator[tuple[str | None, str, str, str]]:
    """(owning call task id, element id, task id, kind) for every live BPMN element."""
    for task in all_tasks(workflow):
        element = getattr(task.task_spec, "bpmn_id", None)
        if element is None or not task.state & LIVE:
            continue
        if task.state == TaskState.READY and isinstance(task.task_spec, BoundaryEvent):
            continue
        yield owning_call(workflow, task), element, str(task.id), token_kind(task)


def sync_tokens(run: InstanceRun, called_rows: dict[str, ProcessInstance], finished: bool, now: datetime) -> None:
    """Rewrite the instance's token rows where they differ from the workflow."""
    root = run.row
    wanted: dict[tuple[int, str, str], tuple[ProcessInstance, str]] = {}
    if not finished:
        for call_task_id, element, task_id, kind in live_elements(run.workflow):
            owner = called_rows.get(call_task_id, root) if call_task_id else root
            if owner.id is None:
                continue
            wanted[(owner.id, element, task_id)] = (owner, kind)
    existing = run.session.scalars(select(InstanceToken).where(InstanceToken.root_id == root.id)).all() \
        if run.had_tokens else []
    stale = []
    for token in existing:
        key = (token.instance_id, token.element_id, token.spiff_task_id)
        if key in wanted and wanted[key][1] == token.kind:
            del wanted[key]
        else:
            stale.append(token.id)
    if stale:
        run.session.execute(delete(InstanceToken).where(InstanceToken.id.in_(stale)))
    for (owner_id, element, task_id), (owner, kind) in wanted.items():
        run.session.add(InstanceToken(
            instance_id=owner_id, root_id=root.id, definition_id=owner.definition_id, process_key=owner.process_key,
            element_id=element, spiff_task_id=task_id, kind=kind, since=now))
    run.had_tokens = bool(wanted) or len(stale) < len(existing)

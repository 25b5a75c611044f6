"""Where an instance stands, as rows kept by every save (``instance_tokens``).

They answer "how many instances are at 站址筛查 now" and "which ones" without opening a
single workflow. Only the rows that differ are written, so a step that moves nothing writes
nothing here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import EventSubprocess, SubWorkflowTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, insert, select, update

from engine.models import InstanceToken, ProcessInstance
from engine.runtime.batched_writes import HeldWrites, flush_held, held
from engine.runtime.called import owning_call
from engine.runtime.workflow import all_tasks

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from sqlalchemy.orm import Session

    from engine.runtime.instance_run import InstanceRun

# (owning call task id, element id, SpiffWorkflow task id), as runtime/mirror.py keeps them
TokenKey = tuple[str | None, str, str]

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


TOKENS = InstanceToken.__table__
# Built once: the statements of a step's usual token change (one token moves on).
_MOVE = (update(TOKENS).where(TOKENS.c.root_id == bindparam("b_root"), TOKENS.c.spiff_task_id == bindparam("b_task"),
                              TOKENS.c.element_id == bindparam("b_element"))
         .values({column: bindparam(f"v_{column}") for column in (
             "instance_id", "definition_id", "process_key", "element_id", "spiff_task_id", "kind", "since")}))
_DROP = delete(TOKENS).where(TOKENS.c.root_id == bindparam("b_root"),
                             TOKENS.c.spiff_task_id.in_(bindparam("b_tasks", expanding=True)))
_DROP_ALL = delete(TOKENS).where(TOKENS.c.root_id == bindparam("b_root"))
_ADD = insert(TOKENS)


def sync_tokens(run: InstanceRun, called_rows: dict[str, ProcessInstance], finished: bool, now: datetime,
                before: Mapping[TokenKey, str] | None = None) -> None:
    """Rewrite the instance's token rows where they differ from the workflow. ``before``: the
    tokens the last save wrote (runtime/mirror.py), so only the difference is written, unread."""
    root = run.row
    if before is not None and _write_difference(run, called_rows, finished, now, before):
        return
    flush_held(run.session)  # (a batch's held writes: the rows are read below)
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


def _write_difference(run: InstanceRun, called_rows: dict[str, ProcessInstance], finished: bool, now: datetime,
                      before: Mapping[TokenKey, str]) -> bool:
    """Move, drop and add token rows without reading them; False when the rows were not where
    the mirror said (an instance saved before tokens were kept), so the caller reads them."""
    session, root = run.session, run.row
    writes = held(session)  # in a batch of timers: sent with the batch (runtime/batched_writes.py)
    if finished:
        if before:
            _write(session, writes, root.id, _DROP_ALL, {"b_root": root.id})
        return True
    after = {key: kind for key, kind in live_tokens(run.workflow).items()
             if (called_rows.get(key[0], root) if key[0] else root).id is not None}
    gone = [key for key, kind in before.items() if after.get(key) != kind]
    new = [key for key, kind in after.items() if before.get(key) != kind]
    for old, key in zip(gone, new, strict=False):
        fields = _token_fields(root, called_rows, key, after[key], now)
        params = {"b_root": root.id, "b_task": old[2], "b_element": old[1],
                  **{f"v_{k}": v for k, v in fields.items() if k != "root_id"}}
        if writes is not None:
            writes.add(root.id, _MOVE, params, rows=1)
        elif session.execute(_MOVE, params).rowcount != 1:
            return False
    dropped = [key[2] for key in gone[len(new):]]
    if dropped:
        flush_held(session)
        if session.execute(_DROP, {"b_root": root.id, "b_tasks": dropped}).rowcount != len(dropped):
            return False
    added = [_token_fields(root, called_rows, key, after[key], now) for key in new[len(gone):]]
    if added and writes is not None:
        for one in added:
            writes.add(root.id, _ADD, one)
    elif added:
        session.execute(_ADD, added)
    return True


def _write(session: Session, writes: HeldWrites | None, instance_id: int, statement, params: dict) -> None:
    if writes is not None:
        writes.add(instance_id, statement, params)
    else:
        session.execute(statement, params)


def _token_fields(root: ProcessInstance, called_rows: dict[str, ProcessInstance], key: TokenKey, kind: str,
                  now: datetime) -> dict:
    call_task_id, element, task_id = key
    owner = called_rows.get(call_task_id, root) if call_task_id else root
    return {"instance_id": owner.id, "root_id": root.id, "definition_id": owner.definition_id,
            "process_key": owner.process_key, "element_id": element, "spiff_task_id": task_id, "kind": kind,
            "since": now}


def live_tokens(workflow: BpmnWorkflow) -> dict[TokenKey, str]:
    """(owning call task id, element id, task id) -> kind, for every live element."""
    return {(call, element, task_id): kind for call, element, task_id, kind in live_elements(workflow)}

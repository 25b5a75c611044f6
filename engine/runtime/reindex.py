"""Write the rows that saves keep from a workflow (called processes, tokens, values) for
instances saved before those rows existed: after upgrading to schema 0007, or to repair them.

It changes no workflow and no state of its own: each instance is locked, read, and its derived
rows brought in line, one instance per transaction, so it may run while the platform serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from engine.models import HumanTask, ProcessInstance
from engine.runtime.called import follow_root, owning_call, sync_called, task_by_id
from engine.runtime.instance_run import FINAL_STATES, InstanceRun
from engine.runtime.tokens import sync_tokens
from engine.runtime.values import sync_values

if TYPE_CHECKING:
    from engine.platform import Platform


def reindex(platform: Platform, batch: int = 200) -> int:
    """Bring every top-level instance's derived rows in line; returns how many were read."""
    done = 0
    last_id = 0
    while True:
        with platform.Session() as session:
            ids = session.scalars(select(ProcessInstance.id).where(
                ProcessInstance.parent_id.is_(None), ProcessInstance.id > last_id,
                ProcessInstance.workflow_json.not_in(("", "{}"))).order_by(ProcessInstance.id).limit(batch)).all()
        if not ids:
            return done
        for instance_id in ids:
            reindex_one(platform, instance_id)
            done += 1
        last_id = ids[-1]


def reindex_one(platform: Platform, instance_id: int) -> None:
    with platform.transaction() as session:
        run = InstanceRun.open(platform, session, instance_id)
        now = platform.clock.now()
        run.had_called = run.had_tokens = True  # read what exists, whatever the workflow says
        with session.no_autoflush:
            rows = sync_called(run, now)
            follow_root(run, rows, now)
            sync_tokens(run, rows, run.row.state in FINAL_STATES, now)
            variables = run.row.variables or {}
            sync_values(session, run.row.id, set(variables), variables)
            _open_tasks_follow(run, rows)


def _open_tasks_follow(run: InstanceRun, rows: dict[str, ProcessInstance]) -> None:
    """Open tasks of a called process name it (tasks created before 0007 named the root)."""
    for task_row in run.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == run.row.id, HumanTask.state == "open")):
        task = task_by_id(run.workflow, task_row.spiff_task_id)
        call_task_id = owning_call(run.workflow, task) if task is not None else None
        owner = rows.get(call_task_id) if call_task_id else None
        task_row.called_instance_id = owner.id if owner is not None else None
        task_row.process_key = (owner or run.row).process_key

"""Drafts: what someone typed into a task form, saved to finish later.

One draft per task and user, kept exactly as typed (not validated: a half-filled form is the
point). Completing the task through ``complete`` removes every draft of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from engine.errors import Conflict
from engine.models import HumanTask, TaskDraft
from engine.principal import Principal
from engine.runtime import tasks

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.platform import Platform


def save(platform: Platform, actor: Principal, task_id: int, data: dict[str, Any]) -> None:
    """Keep (or replace) the actor's draft of an open task they can see."""
    with platform.transaction() as session:
        task = tasks.visible_task(session, actor, task_id)
        if task.state != "open":
            raise Conflict("task %(id)s is already %(state)s", id=task_id, state=task.state)
        draft = session.get(TaskDraft, (task_id, actor.username))
        if draft is None:
            draft = TaskDraft(task_id=task_id, username=actor.username)
            session.add(draft)
        draft.data = dict(data)
        draft.saved_at = platform.clock.now()


def load(session: Session, actor: Principal, task_id: int) -> TaskDraft | None:
    """The actor's draft of a task still open, if any."""
    return session.scalar(select(TaskDraft).join(HumanTask, HumanTask.id == TaskDraft.task_id).where(
        TaskDraft.task_id == task_id, TaskDraft.username == actor.username, HumanTask.state == "open"))


def discard(platform: Platform, actor: Principal, task_id: int) -> None:
    with platform.transaction() as session:
        session.execute(delete(TaskDraft).where(TaskDraft.task_id == task_id,
                                                TaskDraft.username == actor.username))


def clear(platform: Platform, task_id: int) -> None:
    """Forget every draft of a task (it is done)."""
    with platform.transaction() as session:
        session.execute(delete(TaskDraft).where(TaskDraft.task_id == task_id))


def complete(platform: Platform, actor: Principal, task_id: int, data: dict[str, Any]) -> int:
    """Complete the task and drop its drafts; returns the instance id."""
    instance_id = tasks.complete(platform, actor, task_id, data)
    clear(platform, task_id)
    return instance_id

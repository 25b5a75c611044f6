"""Task comments: notes on a task, shown in the task's timeline.

Staff who can see a task may read and write its comments. An operator (tenant) user reads and
writes only on tasks it takes part in (assignee, candidate, the one who completed it), so a
company never reads another party's notes on work it has no hand in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound, ValidationFailed
from engine.models import HumanTask, TaskComment
from engine.principal import Principal
from engine.runtime import tasks

if TYPE_CHECKING:
    from engine.platform import Platform

MAX_LENGTH = 2000


def takes_part(task: HumanTask, actor: Principal) -> bool:
    return (actor.username in (task.assignee, task.completed_by)) or tasks.is_candidate(task, actor)


def may_read(task: HumanTask, actor: Principal) -> bool:
    """Staff: any task they can see; operator users: tasks they take part in."""
    return actor.sees_tenant(task.tenant) and (actor.tenant is None or takes_part(task, actor))


def _readable_task(session: Session, actor: Principal, task_id: int) -> HumanTask:
    task = tasks.visible_task(session, actor, task_id)
    if not may_read(task, actor):
        raise NotFound("task %(id)s does not exist", id=task_id)
    return task


def of_task(session: Session, actor: Principal, task_id: int) -> list[TaskComment]:
    _readable_task(session, actor, task_id)
    return list(session.scalars(select(TaskComment).where(TaskComment.task_id == task_id)
                                .order_by(TaskComment.created_at, TaskComment.id)))


def of_instance(session: Session, actor: Principal, instance_id: int) -> list[TaskComment]:
    """The comments of the instance's tasks that the actor may read, oldest first."""
    rows = session.execute(select(TaskComment, HumanTask).join(HumanTask, HumanTask.id == TaskComment.task_id)
                           .where(TaskComment.instance_id == instance_id)
                           .order_by(TaskComment.created_at, TaskComment.id)).all()
    return [comment for comment, task in rows if may_read(task, actor)]


def add(platform: Platform, actor: Principal, task_id: int, body: str) -> int:
    """Store a comment; an empty or over-long one is refused and nothing is stored."""
    text = (body or "").strip()
    with platform.Session() as session:  # a task the actor cannot read answers 404 before any check
        _readable_task(session, actor, task_id)
    if not text:
        raise ValidationFailed("the comment is empty", {"fields": {"body": ["empty"]}})
    if len(text) > MAX_LENGTH:
        raise ValidationFailed("the comment is longer than %(n)s characters",
                               {"fields": {"body": ["too_long"]}, "max_length": MAX_LENGTH}, n=MAX_LENGTH)
    with platform.transaction() as session:
        task = _readable_task(session, actor, task_id)
        comment = TaskComment(task_id=task.id, instance_id=task.instance_id, author=actor.username, body=text,
                              created_at=platform.clock.now())
        session.add(comment)
        session.flush()
        return comment.id

"""Human tasks: the inbox query, claim, unclaim, assign and complete.

Claims are single conditional UPDATEs (``... WHERE assignee IS NULL``), so of two people
claiming at once exactly one wins and the other gets a Conflict, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from engine import identity
from engine.definitions.serialization import workflow_from_json
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.lifecycle import TaskEvent
from engine.models import HumanTask, ProcessInstance, TaskCandidate
from engine.principal import Principal
from engine.runtime import advance, audit, files, open_work
from engine.runtime.forms_check import validate_form
from engine.runtime.instance_run import InstanceRun
from engine.runtime.workflow import find_task

if TYPE_CHECKING:
    from engine.platform import Platform


class TaskSuspended(Conflict):
    """The task's process is suspended: nobody may claim, hand on or complete it until resumed."""

    code = "instance_suspended"


def is_candidate(task: HumanTask, actor: Principal) -> bool:
    return actor.username in (task.candidate_users or []) or bool(set(task.candidate_groups or []) & actor.groups)


def visible_task(session: Session, actor: Principal, task_id: int) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None or not actor.sees_tenant(task.tenant):
        raise NotFound("task %(id)s does not exist", id=task_id)
    return task


def open_task(session: Session, actor: Principal, task_id: int) -> HumanTask:
    task = visible_task(session, actor, task_id)
    if task.state != "open":
        raise Conflict("task %(id)s is already %(state)s", id=task_id, state=task.state)
    return task


@dataclass
class TaskFilter:
    assignee_me: bool = False
    candidate_me: bool = False
    my_work: bool = False  # mine, or offered to me and not yet claimed: "all my work"
    process_key: str | None = None
    business_key: str | None = None
    overdue: bool | None = None
    text: str | None = None


TASK_SORTS = {  # each takes the columns (HumanTask, or a subquery's .c) and whether to sort descending
    "due": lambda t, desc: (t.due_at.is_(None), t.due_at.desc() if desc else t.due_at, t.priority.desc()),
    "priority": lambda t, desc: (t.priority.desc() if desc else t.priority, t.due_at.is_(None), t.due_at),
    "created": lambda t, desc: (t.created_at.desc() if desc else t.created_at,),
}

TASK_COUNT_CAP = 1000
"""The inbox counts matching tasks up to here; past it a list or tab says "1,000+" (issue 16)."""

OPEN_ORDER_INDEX = "ix_tasks_open_order"
"""Open tasks in the default order (due time, none last, then priority): a large inbox's page is
read walking it, stopping after the page (migration 0008)."""


@dataclass(frozen=True)
class TaskList:
    """One page of the inbox and how many tasks match it: exactly, or more than ``total``
    when ``capped`` (then ``total`` is the cap, or the page's end when that is further)."""

    rows: list[HumanTask]
    total: int
    capped: bool = False


def task_query(actor: Principal, flt: TaskFilter, now, walk: bool = False):
    """Open tasks the actor may see and act on, filtered; unordered, so callers sort and count.

    ``walk``: the caller reads them in the sort's index and stops after a page, so each task's
    candidates are probed one task at a time rather than listed first, and the database is kept
    from finding the matches by another index only to sort them all (``_Unindexed``)."""
    col = _Unindexed if walk else (lambda column: column)
    tenant, assignee = col(HumanTask.tenant), col(HumanTask.assignee)
    stmt = select(HumanTask).where(HumanTask.state == "open")
    if actor.tenant is not None:
        stmt = stmt.where(tenant == actor.tenant)
    # A business key picks a handful of rows: probe their candidates (EXISTS) instead of first
    # collecting every task offered to the actor's groups (IN), which is the better way otherwise.
    candidate = _candidate_of(actor, correlated=bool(flt.business_key), probe=walk)
    if flt.assignee_me:
        stmt = stmt.where(assignee == actor.username)
    if flt.candidate_me:
        stmt = stmt.where(assignee.is_(None), candidate)
    if flt.my_work:
        stmt = stmt.where(or_(assignee == actor.username, and_(assignee.is_(None), candidate)))
    narrowed = flt.assignee_me or flt.candidate_me or flt.my_work
    if not narrowed and not (actor.is_admin or "supervisor" in actor.groups):
        stmt = stmt.where(or_(assignee == actor.username, candidate))
    for column, value in ((col(HumanTask.process_key), flt.process_key), (HumanTask.business_key, flt.business_key)):
        if value:
            stmt = stmt.where(column == value)
    if flt.text:
        like = f"%{flt.text}%"
        stmt = stmt.where(or_(HumanTask.title.like(like), HumanTask.business_key.like(like)))
    due = col(HumanTask.due_at)
    if flt.overdue is True:
        stmt = stmt.where(due.is_not(None), due < now)
    elif flt.overdue is False:
        stmt = stmt.where(or_(due.is_(None), due >= now))
    return stmt


class _Unindexed(ColumnElement):
    """A column the database may filter on but not look up by an index: ``+column`` (SQLite's
    own way of saying so), ``coalesce(column)`` elsewhere. Otherwise PostgreSQL takes the overdue
    range from ``ix_tasks_open_due`` and sorts all of it, and SQLite the assignee's tasks from
    ``ix_tasks_inbox``, where the walk needs only the page's worth of ``ix_tasks_open_order``."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column) -> None:
        self.column = column
        self.type = column.type


@compiles(_Unindexed)
def _column(element, compiler, **kw):
    return f"coalesce({compiler.process(element.column, **kw)})"


@compiles(_Unindexed, "sqlite")
def _plus_column(element, compiler, **kw):
    return "+" + compiler.process(element.column, **kw)


def list_tasks(session: Session, actor: Principal, flt: TaskFilter, now, offset: int = 0, limit: int = 50,
               sort: str = "due", desc: bool = False) -> tuple[list[HumanTask], int]:
    """Open tasks the actor may see, with the exact total; by default by due time (none last), then
    priority (highest first); ``sort`` may also be "priority" or "created", either way. The inbox
    and the API call ``find_tasks``, which stops counting at a cap."""
    stmt = task_query(actor, flt, now)
    order = (*TASK_SORTS.get(sort, TASK_SORTS["due"])(HumanTask, desc), HumanTask.id)
    # First the page's ids and the total in one pass (a window count) that the inbox index
    # answers without reading the rows, then only the page's rows.
    found = session.execute(stmt.with_only_columns(HumanTask.id, func.count().over())
                            .order_by(*order).offset(offset).limit(limit)).all()
    if not found:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) if offset else 0
        return [], int(total or 0)
    return _rows(session, [row[0] for row in found]), int(found[0][1])


def find_tasks(session: Session, actor: Principal, flt: TaskFilter, now, offset: int = 0, limit: int = 50,
               sort: str = "due", desc: bool = False, cap: int | None = None) -> TaskList:
    """``list_tasks`` for the inbox and the API: the total is exact up to ``cap`` (or up to the
    page's end, when deeper) and reported as capped past it; ``cap`` defaults to ``TASK_COUNT_CAP``.

    Why: counting to the end costs as much as the tasks a user sees (a staff user sees 11,000-16,000,
    a supervisor all of them), and so does sorting them all for the page. Here at most cap + 1
    matching tasks are read, in whatever order the database finds them fastest; when that is all
    there is, they are sorted and paged among themselves. Otherwise the page comes from walking
    the open tasks in the sort's order, which stops after the page: with more than ``cap``
    matches, one in every (open tasks / cap) rows walked is a match at worst."""
    sort = sort if sort in TASK_SORTS else "due"
    sorts = TASK_SORTS[sort]
    bound = max(TASK_COUNT_CAP if cap is None else cap, offset + limit)
    candidates_only = open_work.answers(session, actor, flt) and sort in open_work.SORTS
    if candidates_only:  # the task rows' copies on task_candidates, one index (migration 0009)
        found = open_work.some(session, actor, flt, now, bound + 1)
        if len(found) <= bound:
            page = open_work.sort_rows(found, sort, desc)[offset:offset + limit]
            return TaskList(_rows(session, [row.id for row in page]), len(found))
        if sort == "due" and not desc:
            return TaskList(_rows(session, open_work.page_ids(session, actor, flt, now, offset, limit)), bound,
                            capped=True)
        return TaskList(_walk(session, actor, flt, now, sorts, desc, offset, limit), bound, capped=True)
    some = (task_query(actor, flt, now)
            .with_only_columns(HumanTask.id, HumanTask.due_at, HumanTask.priority, HumanTask.created_at)
            .limit(bound + 1).subquery())
    found = session.execute(select(some.c.id, func.count().over()).order_by(*sorts(some.c, desc), some.c.id)
                            .offset(offset).limit(limit)).all()
    total = int(found[0][1]) if found else (count_tasks(session, actor, flt, now, cap=bound) if offset else 0)
    if total <= bound:
        return TaskList(_rows(session, [row[0] for row in found]), total)
    return TaskList(_walk(session, actor, flt, now, sorts, desc, offset, limit), bound, capped=True)


def _walk(session: Session, actor: Principal, flt: TaskFilter, now, sorts, desc: bool, offset: int,
          limit: int) -> list[HumanTask]:
    """The page of a view with more matches than the cap, walking the open tasks in the sort's order."""
    walk = (task_query(actor, flt, now, walk=True).with_only_columns(HumanTask.id)
            .order_by(*sorts(HumanTask, desc), HumanTask.id))
    return _rows(session, list(session.scalars(walk.offset(offset).limit(limit))))


def _rows(session: Session, ids: list[int]) -> list[HumanTask]:
    """The task rows of ``ids``, in that order."""
    if not ids:
        return []
    rows = {row.id: row for row in session.scalars(select(HumanTask).where(HumanTask.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def _candidate_of(actor: Principal, correlated: bool = False, probe: bool = False):
    """Tasks offered to one of the actor's groups or to the actor by name: ``IN`` the list of
    them, or ``correlated`` (EXISTS); ``probe``: a scalar subquery per task, which PostgreSQL
    neither hashes nor turns into a join (for a walk that stops after a page, both read every
    candidate of the actor's groups first)."""
    offered = or_(
        and_(TaskCandidate.kind == "user", TaskCandidate.name == actor.username),
        and_(TaskCandidate.kind == "group", TaskCandidate.name.in_(sorted(actor.groups) or [""])),
    )
    if probe:
        return (select(TaskCandidate.task_id).where(TaskCandidate.task_id == HumanTask.id, offered).limit(1)
                .scalar_subquery().is_not(None))
    if correlated:
        return exists().where(TaskCandidate.task_id == HumanTask.id, offered)
    return HumanTask.id.in_(select(TaskCandidate.task_id).where(offered))


def claim(platform: Platform, actor: Principal, task_id: int) -> None:
    with platform.transaction() as session:
        task = open_task(session, actor, task_id)
        if not is_candidate(task, actor):
            raise Forbidden("you are not a candidate for this task")
        check_not_suspended(session, task)
        _set_assignee(session, task, actor.username, platform.clock.now())
        audit.record(session, task.instance_id, actor.username, "task.claimed", task_id=task.id,
                     element_id=task.element_id, at=platform.clock.now())


def unclaim(platform: Platform, actor: Principal, task_id: int) -> None:
    with platform.transaction() as session:
        task = open_task(session, actor, task_id)
        if task.assignee != actor.username and not actor.is_admin:
            raise Forbidden("only the assignee or an administrator may release this task")
        session.execute(update(HumanTask).where(HumanTask.id == task.id).values(assignee=None, claimed_at=None))
        open_work.copy_assignee(session, task.id, None)
        audit.record(session, task.instance_id, actor.username, "task.unclaimed", task_id=task.id,
                     element_id=task.element_id, data={"previous_assignee": task.assignee},
                     at=platform.clock.now())


def assign(platform: Platform, actor: Principal, task_id: int, username: str | None) -> None:
    """Admins may give a task to anyone; the assignee may hand it to another candidate."""
    with platform.transaction() as session:
        task = open_task(session, actor, task_id)
        if not actor.is_admin and task.assignee != actor.username:
            raise Forbidden("only an administrator or the current assignee may assign this task")
        if username:
            _check_may_receive(session, task, actor, username)
        previous = task.assignee
        session.execute(update(HumanTask).where(HumanTask.id == task.id)
                        .values(assignee=username or None, claimed_at=platform.clock.now()))
        open_work.copy_assignee(session, task.id, username or None)
        audit.record(session, task.instance_id, actor.username, "task.assigned", task_id=task.id,
                     element_id=task.element_id, data={"assignee": username, "previous_assignee": previous},
                     at=platform.clock.now())


def check_not_suspended(session: Session, task: HumanTask) -> None:
    """409 ``instance_suspended`` while the task's process is suspended."""
    state = session.scalar(select(ProcessInstance.state).where(ProcessInstance.id == task.instance_id))
    if state == "suspended":
        raise TaskSuspended("instance %(id)s is suspended", {"instance_id": task.instance_id}, id=task.instance_id)


def suspended_instances(session: Session, instance_ids) -> set[int]:
    """Which of these instances are suspended (the inbox marks their tasks)."""
    ids = sorted(set(instance_ids))
    if not ids:
        return set()
    return set(session.scalars(select(ProcessInstance.id).where(ProcessInstance.id.in_(ids),
                                                                ProcessInstance.state == "suspended")))


def may_delegate(task: HumanTask, actor: Principal) -> bool:
    """The assignee, a supervisor or an administrator may hand an open task to someone else."""
    return task.state == "open" and (actor.is_admin or "supervisor" in actor.groups
                                     or (task.assignee is not None and task.assignee == actor.username))


def delegate(platform: Platform, actor: Principal, task_id: int, username: str, reason: str = "") -> None:
    """Hand the task to another candidate, recording who, from whom, to whom and why.

    Unlike ``assign`` (which lets an administrator give a task to anyone), the new assignee
    must be a candidate, so the work never lands with someone who may not do it.
    """
    username = (username or "").strip()
    reason = (reason or "").strip()
    with platform.transaction() as session:
        task = open_task(session, actor, task_id)
        if not may_delegate(task, actor):
            raise Forbidden("only the assignee, a supervisor or an administrator may delegate this task")
        check_not_suspended(session, task)
        if not username:
            raise ValidationFailed("choose the user to hand the task to", {"fields": {"user": ["required"]}})
        if len(reason) > 1000:
            raise ValidationFailed("the reason is longer than 1000 characters", {"fields": {"reason": ["too long"]}})
        if username == task.assignee:
            raise ValidationFailed("%(username)s already holds this task",
                                   {"user": username, "why": "already_assignee"}, username=username)
        try:
            user = identity.get_user(session, username)
        except NotFound:
            raise ValidationFailed("no user named '%(username)s'", {"user": username, "why": "unknown"},
                                   username=username) from None
        receiver = identity.principal_for(user)
        if user.disabled:
            raise ValidationFailed("%(username)s is disabled", {"user": username, "why": "disabled"}, username=username)
        if not receiver.sees_tenant(task.tenant):
            raise ValidationFailed("%(username)s belongs to another tenant and cannot see this task",
                                   {"user": username, "why": "other_tenant"}, username=username)
        if not is_candidate(task, receiver):
            raise ValidationFailed("%(username)s is not a candidate for this task",
                                   {"user": username, "why": "not_candidate",
                                    "candidate_groups": list(task.candidate_groups or [])}, username=username)
        previous, now = task.assignee, platform.clock.now()
        session.execute(update(HumanTask).where(HumanTask.id == task.id).values(assignee=username, claimed_at=now))
        open_work.copy_assignee(session, task.id, username)
        audit.record(session, task.instance_id, actor.username, "task.delegated", task_id=task.id,
                     element_id=task.element_id,
                     data={"from": previous, "to": username, "by": actor.username, "reason": reason}, at=now)


def delegation_targets(session: Session, task: HumanTask) -> list[tuple[str, str]]:
    """(username, display name) of the enabled users the task may be handed to."""
    from engine.models import User, UserGroup

    groups = list(task.candidate_groups or []) or [""]
    users = list(task.candidate_users or []) or [""]
    stmt = (select(User).where(User.disabled.is_(False))
            .where(or_(User.username.in_(users), User.id.in_(select(UserGroup.user_id)
                                                              .where(UserGroup.group.in_(groups)))))
            .order_by(User.username))
    return [(u.username, u.display_name or u.username) for u in session.scalars(stmt)
            if identity.principal_for(u).sees_tenant(task.tenant) and u.username != task.assignee]


def _check_may_receive(session: Session, task: HumanTask, actor: Principal, username: str) -> None:
    """The new assignee must exist; an assignee (not an admin) may hand on only to a candidate."""
    try:
        user = identity.get_user(session, username)
    except NotFound:
        raise ValidationFailed("no user named '%(username)s'", {"user": username}, username=username) from None
    if not identity.principal_for(user).sees_tenant(task.tenant):
        raise ValidationFailed("%(username)s belongs to another tenant and cannot see this task",
                               {"user": username}, username=username)
    if not actor.is_admin and not is_candidate(task, identity.principal_for(user)):
        raise Forbidden("%(username)s is not a candidate for this task; only an administrator may assign it",
                        username=username)


def _set_assignee(session: Session, task: HumanTask, username: str, now) -> None:
    """Claim only if nobody holds the task: the UPDATE's row count says who won."""
    stmt = update(HumanTask).where(HumanTask.id == task.id, HumanTask.state == "open",
                                   HumanTask.assignee.is_(None))
    result = session.execute(stmt.values(assignee=username, claimed_at=now))
    if result.rowcount != 1:
        current = session.scalar(select(HumanTask.assignee).where(HumanTask.id == task.id))
        raise Conflict("task %(id)s is already claimed by %(assignee)s", {"assignee": current},
                       id=task.id, assignee=current)
    open_work.copy_assignee(session, task.id, username)


def complete(platform: Platform, actor: Principal, task_id: int, data: dict[str, Any] | None) -> int:
    """Validate the form, complete the task and run the engine on; returns the instance id."""
    return complete_step(platform, actor, task_id, data).instance_id


def complete_step(platform: Platform, actor: Principal, task_id: int, data: dict[str, Any] | None,
                  then: Callable[[InstanceRun], object] | None = None) -> advance.Step:
    """``complete``, telling the caller whether the step queued work for ``jobs.drain``;
    ``then`` as in ``advance.apply_step``.

    One transaction: the task row, the instance's lock, the form check, then a conditional
    UPDATE that closes the task only if it is still open and still the actor's to complete
    (a claim or completion that won the race meanwhile makes it a 409)."""
    cleaned: dict[str, Any] = {}
    found: dict[str, Any] = {}

    def open_run(session: Session) -> InstanceRun:
        task, row = _lock_task(platform, session, actor, task_id)
        check_may_complete(task, actor)
        run = InstanceRun.load(platform, session, row, mirror=True)
        if run.row.state == "suspended":
            raise TaskSuspended("instance %(id)s is suspended", {"instance_id": task.instance_id}, id=task.instance_id)
        if not found:  # checked once, also when the change is tried again alone (advance.py)
            values = validate_form(platform.forms, task.form_key, data or {}) if task.form_key else dict(data or {})
            if task.form_key:
                files.check_form_files(session, actor, platform.forms.get(task.form_key), values, task.instance_id)
            cleaned.update(values)
        found.update(spiff_task_id=task.spiff_task_id, task=task)
        return run

    def change(run: InstanceRun) -> None:
        spiff_task = find_task(run.workflow, found["spiff_task_id"])
        if spiff_task is None or spiff_task.state != TaskState.READY:
            raise Conflict("task %(id)s is no longer waiting for input", id=task_id)
        now = platform.clock.now()
        _close_task(run.session, found["task"], actor, now)
        run.closed_tasks.add(found["spiff_task_id"])
        spiff_task.set_data(**cleaned)
        spiff_task.run()
        # Candidate rows serve only the open-task queries; a closed task's would make every
        # inbox query wade through the history (the row keeps candidate_groups/users).
        run.session.execute(_DROP_CANDIDATES, {"b_task": task_id})
        audit.record(run.session, run.row.id, actor.username, "task.completed", task_id=task_id,
                     element_id=spiff_task.task_spec.bpmn_id, data={"data": cleaned}, at=now)
        if platform.lifecycle.listens("task_completed"):
            platform.lifecycle.emit("task_completed", TaskEvent(
                run.session, run.row, found["task"], now, actor.username, cleaned))

    return advance.apply_step(platform, open_run, change, then)


def _lock_task(platform: Platform, session: Session, actor: Principal,
               task_id: int) -> tuple[HumanTask, ProcessInstance]:
    """The open task the actor may see and its instance, locked, in one read (``open_task``'s
    answers: 404 for a task the actor may not see, 409 for one no longer open)."""
    stmt = (select(HumanTask, ProcessInstance).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(HumanTask.id == task_id).execution_options(populate_existing=True))
    if platform.is_postgres:
        stmt = stmt.with_for_update(of=ProcessInstance)
    found = session.execute(stmt).one_or_none()
    if found is None or not actor.sees_tenant(found[0].tenant):
        raise NotFound("task %(id)s does not exist", id=task_id)
    task, row = found
    if task.state != "open":
        raise Conflict("task %(id)s is already %(state)s", id=task_id, state=task.state)
    return task, row


_DROP_CANDIDATES = delete(TaskCandidate.__table__).where(TaskCandidate.__table__.c.task_id == bindparam("b_task"))
_TASKS = HumanTask.__table__
_CLOSE = (update(_TASKS)
          .where(_TASKS.c.id == bindparam("b_id"), _TASKS.c.state == "open",
                 or_(_TASKS.c.assignee.is_(None), _TASKS.c.assignee == bindparam("b_user")))
          .values(state="completed", completed_at=bindparam("b_now"), completed_by=bindparam("b_user"),
                  assignee=bindparam("b_user")))


def _close_task(session: Session, task: HumanTask, actor: Principal, now) -> None:
    """Completed by the actor, if it is still open and still the actor's or nobody's: the
    task row was read before the instance's lock, so the row count decides (409 otherwise)."""
    closed = session.execute(_CLOSE, {"b_id": task.id, "b_user": actor.username, "b_now": now})
    if closed.rowcount != 1:
        session.refresh(task)
        if task.state != "open":
            raise Conflict("task %(id)s is already %(state)s", id=task.id, state=task.state)
        check_may_complete(task, actor)
        raise Conflict("task %(id)s is no longer waiting for input", id=task.id)
    for name, value in (("state", "completed"), ("completed_at", now), ("completed_by", actor.username),
                        ("assignee", actor.username)):
        set_committed_value(task, name, value)  # as the row now is, without another UPDATE at the flush


def check_may_complete(task: HumanTask, actor: Principal) -> None:
    """The assignee, or a candidate of an unassigned task (403 / 409 otherwise)."""
    if task.assignee is None:
        if not is_candidate(task, actor):
            raise Forbidden("you are not a candidate for this task")
    elif task.assignee != actor.username:
        raise Conflict("task %(id)s is claimed by %(assignee)s", {"assignee": task.assignee},
                       id=task.id, assignee=task.assignee)


def instance_of(session: Session, task: HumanTask) -> ProcessInstance:
    return session.get(ProcessInstance, task.instance_id)


# --- for the inbox pages (added with issue 3) ------------------------------------------

def count_tasks(session: Session, actor: Principal, flt: TaskFilter, now, cap: int | None = None) -> int:
    """How many open tasks match; with ``cap`` at most cap + 1 are counted (more than ``cap``)."""
    if open_work.answers(session, actor, flt):  # from the candidate rows' copies alone (migration 0009)
        return open_work.count(session, actor, flt, now, cap)
    stmt = task_query(actor, flt, now)
    if cap is not None:
        stmt = stmt.with_only_columns(HumanTask.id).limit(cap + 1)
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def claim_many(platform: Platform, actor: Principal, task_ids: list[int]) -> tuple[list[int], dict[int, str]]:
    """Claim each task on its own: the ones won, and why each other one was not."""
    claimed, refused = [], {}
    for task_id in dict.fromkeys(task_ids):
        try:
            claim(platform, actor, task_id)
        except (Conflict, Forbidden, NotFound) as exc:
            refused[task_id] = exc.message
        else:
            claimed.append(task_id)
    return claimed, refused


def process_keys(session: Session, actor: Principal, cap: int | None = None) -> list[str]:
    """Processes the actor has open tasks in (the inbox's process filter).

    Exact when the actor sees at most ``cap`` tasks. Beyond that the processes with open tasks in
    the actor's tenant (all tenants for staff), read by a skip scan of their index: a process may
    then be offered that has no task for this actor (its filter shows an empty list)."""
    cap = TASK_COUNT_CAP if cap is None else cap
    some = task_query(actor, TaskFilter(), None).with_only_columns(HumanTask.process_key).limit(cap + 1).subquery()
    counted = session.execute(select(some.c.process_key, func.count()).group_by(some.c.process_key)).all()
    if sum(n for _, n in counted) <= cap:
        return sorted(key for key, _ in counted)
    return _open_process_keys(session, actor.tenant)


def _open_process_keys(session: Session, tenant: str | None) -> list[str]:
    """Distinct process keys of open tasks, one index probe per key (a recursive CTE)."""

    def smallest(after=None):
        stmt = select(func.min(HumanTask.process_key)).where(HumanTask.state == "open")
        if tenant is not None:
            stmt = stmt.where(HumanTask.tenant == tenant)
        return stmt if after is None else stmt.where(HumanTask.process_key > after)

    keys = select(smallest().scalar_subquery().label("key")).cte("open_keys", recursive=True)
    keys = keys.union_all(select(smallest(keys.c.key).scalar_subquery()).where(keys.c.key.is_not(None)))
    return list(session.scalars(select(keys.c.key).where(keys.c.key.is_not(None)).order_by(keys.c.key)))


def first_task_for(session: Session, actor: Principal, instance_id: int) -> HumanTask | None:
    """The instance's first open task the actor may work on (after starting it)."""
    rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
                           .order_by(HumanTask.id)).all()
    for row in rows:
        if actor.sees_tenant(row.tenant) and (row.assignee == actor.username
                                              or (row.assignee is None and is_candidate(row, actor))):
            return row
    return None


def done_tasks(session: Session, instance_id: int) -> list[HumanTask]:
    """The instance's completed human tasks, oldest first (the steps done so far)."""
    return list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                        HumanTask.state == "completed")
                                .order_by(HumanTask.completed_at, HumanTask.id)))


def task_data(platform: Platform, session: Session, task: HumanTask) -> dict[str, Any]:
    """The data the task itself sees: in a multi-instance or parallel branch that is its own
    item (e.g. one contract of many), not the instance's merged variables."""
    instance = session.get(ProcessInstance, task.instance_id)
    workflow = workflow_from_json(instance.workflow_json, platform.specs_for(session, instance))
    spiff_task = find_task(workflow, task.spiff_task_id)
    if spiff_task is None:
        return dict(instance.variables or {})
    return json.loads(json.dumps(spiff_task.data, default=str))

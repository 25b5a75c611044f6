"""The inbox's views answered from ``task_candidates`` alone (issue 16, migration 0009).

A candidate row exists only while its task is open and carries copies of the task's tenant,
due time, priority and assignee. So "offered to me", "all my work" and a user's default view
need no probe of the task rows: the count reads the user's groups' ranges of
``ix_task_candidates_open_order`` (index only), and a page past the count cap merges one
ordered range per group, each stopped after the page (LIMIT), plus the user's own tasks.

The copies are written with the task (``InstanceRun._add_human_tasks``,
``Platform.human_task_for``) and by ``copy_assignee`` wherever the assignee changes; the rows
go when the task closes. The views that filter on what is not copied (process, business key,
text) and the supervisor's "all tasks" stay with ``tasks.task_query``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, func, or_, select, union, update
from sqlalchemy.orm import Session

from engine.models import HumanTask, TaskCandidate
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.runtime.tasks import TaskFilter

_CANDIDATES = TaskCandidate.__table__
_SET_ASSIGNEE = (update(_CANDIDATES).where(_CANDIDATES.c.task_id == bindparam("b_task"))
                 .values(assignee=bindparam("b_assignee")))
SORTS = ("due", "priority")
"""The sorts whose columns the candidate rows carry (``created`` stays with the task rows)."""


def copy_assignee(session: Session, task_id: int, assignee: str | None) -> None:
    """The task's candidate rows say its new assignee (same transaction as the task's UPDATE)."""
    session.execute(_SET_ASSIGNEE, {"b_task": task_id, "b_assignee": assignee})


def answers(session: Session, actor: Principal, flt: TaskFilter) -> bool:
    """Whether the inbox reads this view here (a seam: the tests compare it with the old way)."""
    return fits(actor, flt)


def fits(actor: Principal, flt: TaskFilter) -> bool:
    """Whether the candidate rows hold all this view filters on, so the answer is exactly
    ``tasks.task_query``'s."""
    if flt.process_key or flt.business_key or flt.text or flt.assignee_me:
        return False
    if flt.candidate_me and flt.my_work:
        return False
    return flt.candidate_me or flt.my_work or not (actor.is_admin or "supervisor" in actor.groups)


def parts(actor: Principal, flt: TaskFilter, now, n: int | None = None, ranges: bool = False) -> list:
    """The view's open tasks as (id, due_at, priority) in one or two disjoint, unordered SELECTs:
    the offers to the actor (a task offered to two of the actor's groups has a row for each,
    so DISTINCT) and, unless the view is "offered to me", the actor's own tasks, which the offers
    then leave out. Kept apart, not a UNION: a LIMIT then stops each early, where a UNION reads
    all of both into a temporary table first.

    ``ranges`` (PostgreSQL): the offers as one index range per group, each in the index's order
    and stopped after ``n`` rows, deduplicated by a UNION; otherwise its planner hashes all of a
    staff user's 11,000 candidate rows, or walks the primary key probing the table (15-45 ms
    for 6). With at least ``n`` distinct tasks in all, the ranges still give ``n`` of them."""
    c = TaskCandidate
    own = None if flt.candidate_me or flt.my_work else or_(c.assignee.is_(None), c.assignee != actor.username)
    if ranges:
        arms = []
        for kind, name in (("user", actor.username), *(("group", g) for g in sorted(actor.groups))):
            arm = _filtered(select(c.task_id.label("id"), c.due_at, c.priority).where(c.kind == kind, c.name == name),
                            c, actor, flt, now).order_by(*_order(c, c.task_id))
            arms.append(select((arm if own is None else arm.where(own)).limit(n).subquery()))
        offers = union(*arms)
    else:
        offered = or_(and_(c.kind == "user", c.name == actor.username),
                      and_(c.kind == "group", c.name.in_(sorted(actor.groups) or [""])))
        offers = _filtered(select(c.task_id.label("id"), c.due_at, c.priority).where(offered), c, actor, flt, now)
        offers = (offers if own is None else offers.where(own)).distinct()
    return [offers] if flt.candidate_me else [offers, _mine(actor, flt, now, ranges)]


def count(session: Session, actor: Principal, flt: TaskFilter, now, cap: int | None = None) -> int:
    """How many tasks the view has; with ``cap``, at most cap + 1 (one statement)."""
    n = None if cap is None else cap + 1
    counts = [select(func.count()).select_from(part.limit(n).subquery()).scalar_subquery()
              for part in parts(actor, flt, now, n, _by_ranges(session))]
    found = int(session.scalar(select(sum(counts[1:], counts[0]))) or 0)
    return found if cap is None else min(found, cap + 1)


def some(session: Session, actor: Principal, flt: TaskFilter, now, n: int) -> list:
    """Up to ``n`` of the view's tasks from each part, as (id, due_at, priority) rows (all of
    them when there are fewer)."""
    return [row for part in parts(actor, flt, now, n, _by_ranges(session)) for row in session.execute(part.limit(n))]


def _by_ranges(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def sort_rows(rows: list, sort: str, desc: bool) -> list:
    """``rows`` in the inbox's order, as ``tasks.TASK_SORTS`` orders them in SQL: by due time
    (none last) then priority (highest first), or by priority then due time; then by id."""
    rows = sorted(rows, key=lambda r: r.id)
    if sort == "priority":
        rows.sort(key=lambda r: r.due_at or _EARLIEST)
        rows.sort(key=lambda r: r.due_at is None)
        rows.sort(key=lambda r: r.priority, reverse=desc)
        return rows
    rows.sort(key=lambda r: r.priority, reverse=True)
    rows.sort(key=lambda r: r.due_at or _EARLIEST, reverse=desc)
    rows.sort(key=lambda r: r.due_at is None)
    return rows


_EARLIEST = datetime.min


def page_ids(session: Session, actor: Principal, flt: TaskFilter, now, offset: int, limit: int) -> list[int]:
    """The page in the default order (due time, none last, priority highest first, id): each of
    the actor's groups (and the actor's name) read in that order from the index and stopped after
    offset + limit rows, plus the actor's own tasks, merged and deduplicated."""
    c, n = TaskCandidate, offset + limit
    ranges = [("user", actor.username), *(("group", g) for g in sorted(actor.groups))]
    parts = [_filtered(select(c.task_id.label("id"), c.due_at, c.priority).where(c.kind == kind, c.name == name),
                       c, actor, flt, now).order_by(*_order(c, c.task_id)).limit(n)
             for kind, name in ranges]
    if not flt.candidate_me:
        parts.append(_mine(actor, flt, now, _by_ranges(session)).order_by(*_order(HumanTask, HumanTask.id)).limit(n))
    merged = union(*(select(part.subquery()) for part in parts)).subquery()
    page = select(merged.c.id).order_by(*_order(merged.c, merged.c.id)).offset(offset).limit(limit)
    return list(session.scalars(page))


def _order(t, key):
    return (t.due_at.is_(None), t.due_at, t.priority.desc(), key)


def _filtered(stmt, t, actor: Principal, flt: TaskFilter, now, unclaimed: bool | None = None):
    """The view's tenant, claim and due-time conditions on ``t`` (candidate or task columns)."""
    if actor.tenant is not None:
        stmt = stmt.where(t.tenant == actor.tenant)
    if (flt.candidate_me or flt.my_work) if unclaimed is None else unclaimed:
        stmt = stmt.where(t.assignee.is_(None))
    if flt.overdue is True:
        stmt = stmt.where(t.due_at.is_not(None), t.due_at < now)
    elif flt.overdue is False:
        stmt = stmt.where(or_(t.due_at.is_(None), t.due_at >= now))
    return stmt


def _mine(actor: Principal, flt: TaskFilter, now, unindexed_state: bool = False):
    """The actor's own open tasks (a candidate or not: an administrator may have assigned them).
    ``unindexed_state`` (PostgreSQL): ``coalesce(state)``, or it ANDs the assignee's index with
    the bitmap of all 100,000 open tasks from a partial index (10 ms for 100 rows)."""
    state = func.coalesce(HumanTask.state) if unindexed_state else HumanTask.state
    stmt = select(HumanTask.id, HumanTask.due_at, HumanTask.priority).where(
        state == "open", HumanTask.assignee == actor.username)
    return _filtered(stmt, HumanTask, actor, flt, now, unclaimed=False)

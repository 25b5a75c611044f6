"""The supervisors' dashboard numbers, as plain data (lists of dicts), scoped to what the actor sees.

Counts are SQL aggregates; percentiles are computed here over the durations of the window,
because SQLite has no percentile function and PostgreSQL's ``percentile_cont`` would make the
two databases answer differently.

Definitions (the same words the dashboard shows):

- open instance: state ``running``, ``waiting``, ``suspended`` or ``error``;
- ended instance: one that ended in the window, counted by how: ``completed`` (its diagram reached
  a normal end), ``cancelled`` (a cancel end event: called off, e.g. 需求取消) or ``terminated``
  (stopped by a supervisor); its duration (``ended_at - started_at``) is counted for completed
  instances only, so a cancelled demand never passes for a quick delivery;
- overdue task: an open task whose due time has passed;
- SLA: a completed task is on time when ``completed_at <= due_at``; tasks without a due time
  are not counted; the window is the last ``days`` days by completion time;
- cycle time of a step: ``completed_at - created_at`` of its completed tasks in the same window;
  the median and the 90th percentile use linear interpolation between the closest ranks (as
  numpy's default and Excel's PERCENTILE.INC do).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from engine.models import HumanTask, ProcessDefinition, ProcessInstance, TaskCandidate
from engine.principal import Principal

OPEN_INSTANCE_STATES = ("running", "waiting", "suspended", "error")
ENDED_INSTANCE_STATES = ("completed", "cancelled", "terminated")
WINDOW_DAYS = 30
OVERDUE_LIST_SIZE = 10


def dashboard(session: Session, actor: Principal, now: datetime, days: int = WINDOW_DAYS) -> dict[str, Any]:
    """Every number the dashboard shows, in one call, as of ``now`` (the platform clock)."""
    since = now - timedelta(days=days)
    sla_steps = sla_by_step(session, actor, since, now)
    overdue_count, overdue_list = overdue_tasks(session, actor, now)
    return {
        "now": now,
        "since": since,
        "days": days,
        "process_names": process_names(session),
        "open_instances": open_instances(session, actor),
        "ended_instances": ended_instances(session, actor, since, now),
        "open_tasks": open_tasks_by_group(session, actor),
        "overdue_count": overdue_count,
        "overdue": overdue_list,
        "sla_processes": sla_by_process(sla_steps),
        "sla_steps": sla_steps,
        "cycle_times": cycle_times(session, actor, since, now),
    }


def process_names(session: Session) -> dict[str, str]:
    """Each process key's name as its latest version calls it (empty names are left out)."""
    rows = session.execute(select(ProcessDefinition.key, ProcessDefinition.name)
                           .order_by(ProcessDefinition.key, ProcessDefinition.version))
    names: dict[str, str] = {}
    for key, name in rows:
        if name:
            names[key] = name
    return names


def open_instances(session: Session, actor: Principal) -> list[dict[str, Any]]:
    """Open instances counted by process and state."""
    stmt = (select(ProcessInstance.process_key, ProcessInstance.state, func.count())
            .where(ProcessInstance.state.in_(OPEN_INSTANCE_STATES))
            .group_by(ProcessInstance.process_key, ProcessInstance.state)
            .order_by(ProcessInstance.process_key, ProcessInstance.state))
    if actor.tenant is not None:
        stmt = stmt.where(ProcessInstance.tenant == actor.tenant)
    return [{"process_key": key, "state": state, "count": int(count)} for key, state, count in session.execute(stmt)]


def ended_instances(session: Session, actor: Principal, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per process, the instances that ended in the window by end state, and the median duration
    of the completed ones (started to ended)."""
    stmt = (select(ProcessInstance.process_key, ProcessInstance.state, ProcessInstance.started_at,
                   ProcessInstance.ended_at)
            .where(ProcessInstance.state.in_(ENDED_INSTANCE_STATES), ProcessInstance.ended_at.is_not(None),
                   ProcessInstance.ended_at >= since, ProcessInstance.ended_at <= until))
    if actor.tenant is not None:
        stmt = stmt.where(ProcessInstance.tenant == actor.tenant)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(ENDED_INSTANCE_STATES, 0))
    durations: dict[str, list[float]] = defaultdict(list)
    for key, state, started, ended in session.execute(stmt):
        counts[key][state] += 1
        if state == "completed":
            durations[key].append(max(0.0, (ended - started).total_seconds()))
    return [{"process_key": key, **counts[key], "total": sum(counts[key].values()),
             "median_completed_seconds": percentile(durations[key], 50)}
            for key in sorted(counts)]


def open_tasks_by_group(session: Session, actor: Principal) -> list[dict[str, Any]]:
    """Open tasks per candidate group, split into claimed and unclaimed (a task offered to two
    groups counts in both)."""
    unclaimed = func.sum(case((HumanTask.assignee.is_(None), 1), else_=0))
    stmt = (select(TaskCandidate.name, func.count(), unclaimed)
            .join(HumanTask, HumanTask.id == TaskCandidate.task_id)
            .where(TaskCandidate.kind == "group", HumanTask.state == "open")
            .group_by(TaskCandidate.name)
            .order_by(func.count().desc(), TaskCandidate.name))
    stmt = _task_scope(stmt, actor)
    return [{"group": name, "count": int(count), "unclaimed": int(free or 0), "claimed": int(count) - int(free or 0)}
            for name, count, free in session.execute(stmt)]


def overdue_tasks(session: Session, actor: Principal, now: datetime,
                  limit: int = OVERDUE_LIST_SIZE) -> tuple[int, list[dict[str, Any]]]:
    """How many open tasks are past their due time, and the most overdue of them."""
    condition = and_(HumanTask.state == "open", HumanTask.due_at.is_not(None), HumanTask.due_at < now)
    total = session.scalar(_task_scope(select(func.count()).select_from(HumanTask).where(condition), actor))
    stmt = _task_scope(select(HumanTask).where(condition), actor).order_by(HumanTask.due_at, HumanTask.id).limit(limit)
    rows = [{
        "id": task.id, "instance_id": task.instance_id, "title": task.title, "process_key": task.process_key,
        "element_id": task.element_id, "business_key": task.business_key, "tenant": task.tenant,
        "assignee": task.assignee, "candidate_groups": list(task.candidate_groups or []),
        "due_at": task.due_at, "overdue_seconds": (now - task.due_at).total_seconds(),
    } for task in session.scalars(stmt)]
    return int(total or 0), rows


def sla_by_step(session: Session, actor: Principal, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """On-time and late completions per process step in the window; tasks without a due time
    do not count."""
    on_time = func.sum(case((HumanTask.completed_at <= HumanTask.due_at, 1), else_=0))
    stmt = (select(HumanTask.process_key, HumanTask.element_id, func.max(HumanTask.title), func.count(), on_time)
            .where(_completed_between(since, until), HumanTask.due_at.is_not(None))
            .group_by(HumanTask.process_key, HumanTask.element_id)
            .order_by(HumanTask.process_key, HumanTask.element_id))
    stmt = _task_scope(stmt, actor)
    return [_sla_row({"process_key": key, "element_id": element, "title": title}, int(total), int(ok or 0))
            for key, element, title, total, ok in session.execute(stmt)]


def sla_by_process(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-step rows summed per process (one query serves both views)."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for step in steps:
        totals[step["process_key"]][0] += step["total"]
        totals[step["process_key"]][1] += step["on_time"]
    return [_sla_row({"process_key": key}, total, ok) for key, (total, ok) in sorted(totals.items())]


def cycle_times(session: Session, actor: Principal, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Median and 90th percentile of ``completed_at - created_at`` per step, in seconds."""
    stmt = (select(HumanTask.process_key, HumanTask.element_id, HumanTask.title,
                   HumanTask.created_at, HumanTask.completed_at)
            .where(_completed_between(since, until))
            .order_by(HumanTask.process_key, HumanTask.element_id))
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    titles: dict[tuple[str, str], str] = {}
    for key, element, title, created, completed in session.execute(_task_scope(stmt, actor)):
        durations[(key, element)].append(max(0.0, (completed - created).total_seconds()))
        titles[(key, element)] = max(titles.get((key, element), ""), title or "")
    return [{
        "process_key": key, "element_id": element, "title": titles[(key, element)], "count": len(values),
        "median_seconds": percentile(values, 50), "p90_seconds": percentile(values, 90),
    } for (key, element), values in sorted(durations.items())]


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _sla_row(row: dict[str, Any], total: int, on_time: int) -> dict[str, Any]:
    row.update(total=total, on_time=on_time, late=total - on_time,
               percent=round(100.0 * on_time / total, 1) if total else None)
    return row


def _completed_between(since: datetime, until: datetime):
    return and_(HumanTask.state == "completed", HumanTask.completed_at.is_not(None),
                HumanTask.completed_at >= since, HumanTask.completed_at <= until)


def _task_scope(stmt, actor: Principal):
    """A user with a tenant sees only that tenant's tasks."""
    return stmt.where(HumanTask.tenant == actor.tenant) if actor.tenant is not None else stmt

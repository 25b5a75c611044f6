"""What a list of instances shows beside each row: who called it, what it called, and the
values of the variables a filter used; and the rows of the list's Excel export.

Kept out of ``engine.runtime.instances`` because these are reads for pages, the API and the
export, asked once per page for all its rows (no query per row).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from engine.models import InstanceValue, ProcessInstance
from engine.principal import Principal
from engine.runtime.instances import InstanceFilter, filtered

EXPORT_CAP = 50_000  # rows in one Excel export; the file says so when the list has more


def parents(session: Session, rows: list[ProcessInstance]) -> dict[int, ProcessInstance]:
    """Parent row by parent id, for the called rows among ``rows``."""
    ids = {r.parent_id for r in rows if r.parent_id is not None}
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(ids)))}


def children(session: Session, ids: list[int]) -> dict[int, list[ProcessInstance]]:
    """The instances each of ``ids`` called, oldest first."""
    found: dict[int, list[ProcessInstance]] = defaultdict(list)
    if ids:
        for row in session.scalars(select(ProcessInstance).where(ProcessInstance.parent_id.in_(ids))
                                   .order_by(ProcessInstance.id)):
            found[row.parent_id].append(row)
    return found


def family_fields(row: ProcessInstance, parent: ProcessInstance | None,
                  called: list[ProcessInstance]) -> dict[str, Any]:
    """The API's family keys of one instance."""
    return {
        "parent_id": row.parent_id, "root_id": row.root_id if row.parent_id is not None else None,
        "parent_process_key": parent.process_key if parent else None,
        "parent_business_key": parent.business_key if parent else None,
        "called": [{"id": c.id, "process_key": c.process_key, "version": c.version, "state": c.state}
                   for c in called],
    }


def values(session: Session, ids: list[int], names: list[str]) -> dict[int, dict[str, str]]:
    """The searchable values of ``names`` for each instance of ``ids``."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    if ids and names:
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            for instance_id, name, value in session.execute(select(
                    InstanceValue.instance_id, InstanceValue.name, InstanceValue.value).where(
                    InstanceValue.instance_id.in_(chunk), InstanceValue.name.in_(names))):
                found[instance_id][name] = value
    return found


@dataclass
class ExportRow:
    id: int
    process_key: str
    version: int
    business_key: str | None
    tenant: str | None
    state: str
    started_at: datetime | None
    ended_at: datetime | None
    parent_process_key: str | None = None
    parent_business_key: str | None = None
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class Export:
    rows: list[ExportRow]
    total: int  # all that match; more than len(rows) when capped
    variables: list[str]  # the filter's variables, one column each

    @property
    def capped(self) -> bool:
        return self.total > len(self.rows)


def export(session: Session, actor: Principal, flt: InstanceFilter, now: datetime | None = None,
           cap: int | None = None) -> Export:
    """The filtered list, newest first, up to ``cap`` (EXPORT_CAP) rows, with the filter's variables."""
    cap = EXPORT_CAP if cap is None else cap
    stmt = filtered(session, actor, flt, now)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    columns = (ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.version, ProcessInstance.business_key,
               ProcessInstance.tenant, ProcessInstance.state, ProcessInstance.started_at, ProcessInstance.ended_at,
               ProcessInstance.parent_id)
    rows = list(session.scalars(stmt.options(load_only(*columns)).order_by(ProcessInstance.id.desc()).limit(cap)))
    names = list(dict.fromkeys(name for name, _op, _value in flt.variables))
    by_parent = parents(session, rows)
    shown = values(session, [r.id for r in rows], names)
    out = []
    for r in rows:
        parent = by_parent.get(r.parent_id) if r.parent_id else None
        out.append(ExportRow(r.id, r.process_key, r.version, r.business_key, r.tenant, r.state, r.started_at,
                             r.ended_at, parent.process_key if parent else None,
                             parent.business_key if parent else None, shown.get(r.id, {})))
    return Export(out, total, names)


def task_callers(session: Session, tasks: list[Any]) -> dict[int, ProcessInstance]:
    """Task id -> the instance that called the process the task belongs to (its tasks of called
    processes only), so a list can say "选址谈判, called by 铁塔需求立项 XQ-003"."""
    called_ids = {t.called_instance_id for t in tasks if getattr(t, "called_instance_id", None)}
    if not called_ids:
        return {}
    parent_of = dict(session.execute(select(ProcessInstance.id, ProcessInstance.parent_id)
                                     .where(ProcessInstance.id.in_(called_ids))).all())
    callers = {p.id: p for p in session.scalars(select(ProcessInstance).options(load_only(
        ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.business_key)).where(
        ProcessInstance.id.in_({pid for pid in parent_of.values() if pid is not None})))}
    return {t.id: callers[parent_of[t.called_instance_id]] for t in tasks
            if parent_of.get(getattr(t, "called_instance_id", None)) in callers}


def task_fields(task: Any, caller: ProcessInstance | None) -> dict[str, Any]:
    """The API's keys for a task of a called process: its called row and who called it."""
    return {"called_instance_id": getattr(task, "called_instance_id", None),
            "parent_process_key": caller.process_key if caller else None,
            "parent_business_key": caller.business_key if caller else None}

"""Searchable variable values (``instance_values``), kept by every save that changed one.

A list filters "site name is X" or "customer level is 集团级" on this table instead of the
instances' JSON, so the filter uses an index on both databases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert
from sqlalchemy.orm import Session

from engine.models import InstanceValue
from engine.runtime.batched_writes import held

VALUE_LIMIT = 200
_VALUES = InstanceValue.__table__
_INSERT = insert(_VALUES)
_DROP_ONE = delete(_VALUES).where(_VALUES.c.instance_id == bindparam("b_instance"),
                                  _VALUES.c.name == bindparam("b_name"))


def searchable(value: Any) -> str | None:
    """A variable's value as the text a filter matches, or None when it is not searchable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and len(value) <= VALUE_LIMIT:
        return value
    return None


def sync_values(session: Session, instance_id: int, changed: dict[str, Any], variables: dict[str, Any],
                fresh: bool = False) -> None:
    """Rewrite the value rows of the variables that changed (``changed`` from the save);
    ``fresh``: the instance is new and has no rows to replace."""
    names = [name for name in changed if len(name) <= 200]
    if not names:
        return
    rows = [{"instance_id": instance_id, "name": name, "value": text} for name in names
            if name in variables and (text := searchable(variables[name])) is not None]
    writes = held(session)
    if writes is not None:  # a batch of timers: sent with the batch (runtime/batched_writes.py)
        for name in [] if fresh else names:
            writes.add(instance_id, _DROP_ONE, {"b_instance": instance_id, "b_name": name})
        for row in rows:
            writes.add(instance_id, _INSERT, row)
        return
    if not fresh:
        session.execute(delete(InstanceValue).where(InstanceValue.instance_id == instance_id,
                                                    InstanceValue.name.in_(names)))
    if rows:
        session.execute(_INSERT, rows)

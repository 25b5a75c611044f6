"""The audit trail: every change to an instance is one row (who, what, when, task, data)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.models import AuditEvent
from engine.runtime.batched_writes import held

_INSERT = insert(AuditEvent.__table__)


def record(session: Session, instance_id: int, actor: str | None, action: str, *,
           task_id: int | None = None, element_id: str | None = None,
           data: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Write one event now, as a plain INSERT: an audit row is never read back or changed in
    the transaction that writes it, so it needs none of the ORM's unit of work (a step is
    cheaper by a third of its flush), and the rows keep the order of the calls."""
    row = {
        "instance_id": instance_id, "actor": actor, "action": action, "task_id": task_id,
        "element_id": element_id, "data": json.loads(json.dumps(data or {}, default=str)),
        "at": at or datetime.now(UTC).replace(tzinfo=None),
    }
    writes = held(session)  # in a batch of timers: sent with the batch, in this order
    if writes is not None:
        writes.add(instance_id, _INSERT, row)
    else:
        session.execute(_INSERT, row)


def history(session: Session, instance_id: int) -> list[AuditEvent]:
    return list(session.scalars(
        select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
    ))

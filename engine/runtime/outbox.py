"""The outbox of calls to external systems: record them once per idempotency key, list them.

The handlers in ``handlers/`` write through :func:`record` (see ``handlers/outbound.py``);
supervisors and administrators read everything, a user with a tenant (an operator) reads
only that tenant's calls, anyone else is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.clock import iso
from engine.errors import BadRequest, Forbidden
from engine.models import OUTBOX_STATUSES, OutboxMessage
from engine.principal import Principal


def record(session: Session, *, system: str, operation: str, idempotency_key: str, payload: dict[str, Any],
           status: str, now: datetime, url: str | None = None, instance_id: int | None = None,
           business_key: str | None = None, tenant: str | None = None, response: Any = None,
           error: str | None = None) -> OutboxMessage:
    """Insert the call's row, or update the one already there for the same system, operation
    and idempotency key (a retry never adds a second row). A row already ``sent`` stays sent.

    ``status``: ``recorded`` (no URL, nothing sent), ``sent`` (2xx answer in ``response``),
    ``failed`` (the attempt's ``error``). Sent and failed attempts are counted in ``attempts``.
    """
    if status not in OUTBOX_STATUSES:
        raise ValueError(f"unknown outbox status {status!r}")
    for _ in range(2):
        row = find(session, system, operation, idempotency_key)
        if row is None:
            row = OutboxMessage(system=system, operation=operation, idempotency_key=idempotency_key,
                                instance_id=instance_id, business_key=business_key, tenant=tenant,
                                created_at=now, attempts=0, payload={})
            try:
                with session.begin_nested():  # a savepoint: a concurrent insert leaves our transaction usable
                    _fill(row, url, payload, status, response, error, now)
                    session.add(row)
            except IntegrityError:
                continue  # another runner wrote it meanwhile: update that row instead
            return row
        if row.status == "sent" and status != "sent":
            return row  # already delivered; a late report of a failed attempt does not undo it
        _fill(row, url, payload, status, response, error, now)
        session.flush()
        return row
    raise RuntimeError(f"outbox: could not write {system}.{operation} {idempotency_key}")


def find(session: Session, system: str, operation: str, idempotency_key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(
        OutboxMessage.system == system, OutboxMessage.operation == operation,
        OutboxMessage.idempotency_key == idempotency_key))


def _fill(row: OutboxMessage, url: str | None, payload: dict[str, Any], status: str, response: Any,
          error: str | None, now: datetime) -> None:
    row.url = url
    row.payload = payload
    row.status = status
    row.error = error
    if status != "recorded":
        row.attempts = (row.attempts or 0) + 1
    if status == "sent":
        row.sent_at = now
        if isinstance(response, dict | list):
            row.response, row.response_text = response, None
        else:
            row.response, row.response_text = None, None if response is None else str(response)


def can_read(actor: Principal) -> bool:
    return actor.is_admin or "supervisor" in actor.groups or actor.tenant is not None


def list_messages(session: Session, actor: Principal, *, system: str | None = None, status: str | None = None,
                  business_key: str | None = None, instance_id: int | None = None, offset: int = 0,
                  limit: int = 50) -> tuple[list[OutboxMessage], int]:
    """The calls the actor may see, newest first, and how many there are in all."""
    if not can_read(actor):
        raise Forbidden("only supervisors, administrators and operators (their own tenant) may read the outbox")
    if status is not None and status not in OUTBOX_STATUSES:
        raise BadRequest("status must be one of %(choices)s", choices=", ".join(OUTBOX_STATUSES))
    stmt = select(OutboxMessage)
    if actor.tenant is not None:
        stmt = stmt.where(OutboxMessage.tenant == actor.tenant)
    if system:
        stmt = stmt.where(OutboxMessage.system == system)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    if business_key:
        stmt = stmt.where(OutboxMessage.business_key == business_key)
    if instance_id is not None:
        stmt = stmt.where(OutboxMessage.instance_id == instance_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(OutboxMessage.id.desc()).offset(offset).limit(limit)).all()
    return list(rows), total


def message_view(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id, "system": row.system, "operation": row.operation, "url": row.url, "payload": row.payload,
        "idempotency_key": row.idempotency_key, "process_instance_id": row.instance_id,
        "business_key": row.business_key, "tenant": row.tenant, "status": row.status,
        "response": row.response if row.response is not None else row.response_text, "error": row.error,
        "attempts": row.attempts, "created_at": iso(row.created_at), "sent_at": iso(row.sent_at),
    }

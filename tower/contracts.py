"""Customer contracts and their expiry warnings (Flow 7, 合同到期预警).

A contract is *due for a warning* on ``today`` when it is ``active``, has not been warned yet
(``warned_at`` is empty) and ``expires_on - warn_days_before <= today``. The daily run of
``processes/contract_expiry.bpmn`` asks :func:`due_for_warning`, tells each contract's customer
manager, and marks the contract warned so that the next run leaves it alone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.principal import Principal
from tower.models import CONTRACT_STATUSES, Contract

RENEWAL_OUTCOMES = {"renewing": "renewing", "renewed": "renewed", "not_renewed": "expired"}
# Who reads contracts (pages and GET /api/v1/contracts): staff of these groups see all; an
# operator user sees its own tenant's (and another tenant's contract is not found).
READER_GROUPS = frozenset({"customer_manager", "supervisor", "operator"})  # and admins
# The warning state of a contract on a given day (warning_state), soonest first in the pages.
WARNING_STATES = ("expired", "warned", "due", "renewing", "renewed", "ok")


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValidationFailed(f"not a date: {value!r}") from None


def add_contract(session: Session, *, contract_no: str, customer_name: str, customer_manager: str,
                 expires_on: date | str, warn_days_before: int = 30, manager_phone: str = "",
                 tenant: str | None = None, status: str = "active", now: datetime | None = None) -> Contract:
    """Store a new contract; a contract number already stored is a Conflict."""
    if not contract_no or not customer_name or not customer_manager:
        raise ValidationFailed("contract_no, customer_name and customer_manager are required")
    if status not in CONTRACT_STATUSES:
        raise ValidationFailed(f"unknown contract status {status!r}")
    if int(warn_days_before) < 0:
        raise ValidationFailed("warn_days_before must not be negative")
    if session.scalar(select(Contract.id).where(Contract.contract_no == contract_no)) is not None:
        raise Conflict(f"contract {contract_no} already exists")
    row = Contract(contract_no=contract_no, customer_name=customer_name, customer_manager=customer_manager,
                   manager_phone=manager_phone or "", expires_on=_as_date(expires_on),
                   warn_days_before=int(warn_days_before), tenant=tenant, status=status,
                   created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    return row


def get_contract(session: Session, contract_no: str) -> Contract:
    row = session.scalar(select(Contract).where(Contract.contract_no == contract_no))
    if row is None:
        raise NotFound(f"contract {contract_no} does not exist")
    return row


def list_contracts(session: Session, status: str | None = None, customer_manager: str | None = None,
                   tenant: str | None = None) -> list[Contract]:
    """Contracts, soonest expiry first, optionally filtered."""
    stmt = select(Contract)
    if status:
        stmt = stmt.where(Contract.status == status)
    if customer_manager:
        stmt = stmt.where(Contract.customer_manager == customer_manager)
    if tenant:
        stmt = stmt.where(Contract.tenant == tenant)
    return list(session.scalars(stmt.order_by(Contract.expires_on, Contract.contract_no)))


def warn_on(row: Contract) -> date:
    """The first day on which the contract is due for its warning."""
    return row.expires_on - timedelta(days=row.warn_days_before)


def due_for_warning(session: Session, today: date) -> list[Contract]:
    """Active, not yet warned contracts whose threshold is reached on ``today``, soonest expiry first.

    The date arithmetic is done here rather than in SQL so that SQLite and PostgreSQL agree."""
    rows = session.scalars(select(Contract).where(Contract.status == "active", Contract.warned_at.is_(None))
                           .order_by(Contract.expires_on, Contract.contract_no))
    return [row for row in rows if warn_on(row) <= today]


def warning_text(row: Contract, today: date) -> str:
    days = (row.expires_on - today).days
    when = f"将于 {row.expires_on.isoformat()} 到期（剩余 {days} 天）" if days >= 0 \
        else f"已于 {row.expires_on.isoformat()} 到期（已过 {-days} 天）"
    return f"合同到期预警：客户「{row.customer_name}」的合同 {row.contract_no} {when}，请尽快启动续签。"


def warning_item(row: Contract, today: date) -> dict[str, Any]:
    """What the flow needs for one warning (the multi-instance item)."""
    return {
        "contract_no": row.contract_no, "customer_name": row.customer_name, "tenant": row.tenant,
        "customer_manager": row.customer_manager, "manager_phone": row.manager_phone,
        "expires_on": row.expires_on.isoformat(), "days_left": (row.expires_on - today).days,
        "text": warning_text(row, today),
    }


def mark_warned(session: Session, contract_no: str, now: datetime, instance_id: int | None = None) -> bool:
    """Record the warning; False (and nothing changes) when the contract was already warned."""
    row = get_contract(session, contract_no)
    if row.warned_at is not None:
        return False
    row.warned_at = now
    row.warned_by_instance = instance_id
    row.updated_at = now
    session.flush()
    return True


def record_renewal(session: Session, contract_no: str, outcome: str, now: datetime,
                   new_expires_on: date | str | None = None, note: str = "") -> Contract:
    """The customer manager's answer to 合同续签.

    - ``renewing``: renewal under way; the contract is not warned again.
    - ``renewed`` with ``new_expires_on``: the contract runs on to the new date, back to
      ``active`` with its warning cleared, so it is warned again before the new expiry;
      without a new date it stays ``renewed``.
    - ``not_renewed``: the contract is ``expired``.
    """
    if outcome not in RENEWAL_OUTCOMES:
        raise ValidationFailed(f"unknown renewal outcome {outcome!r}")
    row = get_contract(session, contract_no)
    row.status = RENEWAL_OUTCOMES[outcome]
    if outcome == "renewed" and new_expires_on:
        row.expires_on = _as_date(new_expires_on)
        row.status = "active"
        row.warned_at = None
        row.warned_by_instance = None
    row.renewal_note = (note or "")[:2000]
    row.updated_at = now
    session.flush()
    return row


def contract_view(row: Contract) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat(timespec="seconds") + "Z"

    return {
        "id": row.id, "contract_no": row.contract_no, "customer_name": row.customer_name, "tenant": row.tenant,
        "customer_manager": row.customer_manager, "manager_phone": row.manager_phone,
        "expires_on": row.expires_on.isoformat(), "warn_days_before": row.warn_days_before,
        "warn_on": warn_on(row).isoformat(), "status": row.status, "warned_at": iso(row.warned_at),
        "warned_by_instance": row.warned_by_instance, "renewal_note": row.renewal_note,
    }


# --- reading contracts: the pages and the REST API ------------------------------------------------

def check_may_read(actor: Principal) -> None:
    if not (actor.is_admin or actor.groups & READER_GROUPS):
        raise Forbidden("only customer managers, supervisors, operator staff and administrators read contracts")


def _readable(actor: Principal):
    check_may_read(actor)
    stmt = select(Contract)
    if actor.tenant is not None:
        stmt = stmt.where(Contract.tenant == actor.tenant)
    return stmt


def visible_contracts(session: Session, actor: Principal, *, status: str | None = None,
                      tenant: str | None = None, q: str | None = None) -> list[Contract]:
    """The contracts ``actor`` may read (its tenant's only, when it has one), soonest expiry first."""
    stmt = _readable(actor)
    if status:
        stmt = stmt.where(Contract.status == status)
    if tenant:
        stmt = stmt.where(Contract.tenant == tenant)
    if q and q.strip():
        pattern = f"%{q.strip()}%"
        stmt = stmt.where(Contract.contract_no.ilike(pattern) | Contract.customer_name.ilike(pattern))
    return list(session.scalars(stmt.order_by(Contract.expires_on, Contract.contract_no)))


def visible_contract(session: Session, actor: Principal, contract_id: int) -> Contract:
    """One contract by id; missing, or another tenant's, is NotFound."""
    row = session.scalar(_readable(actor).where(Contract.id == contract_id))
    if row is None:
        raise NotFound("contract %(id)s does not exist", id=contract_id)
    return row


def warning_state(row: Contract, today: date) -> str:
    """Where the contract stands on ``today`` (one of ``WARNING_STATES``): ``expired`` (its date
    passed, or marked so), ``warned`` (the warning went out), ``due`` (the warning day is reached
    and no warning yet), ``renewing`` / ``renewed`` (the customer manager's answer), ``ok``."""
    if row.status == "expired" or (row.status == "active" and row.expires_on < today):
        return "expired"
    if row.status in ("renewing", "renewed"):
        return row.status
    if row.warned_at is not None:
        return "warned"
    return "due" if warn_on(row) <= today else "ok"


def read_view(row: Contract, today: date) -> dict[str, Any]:
    """``contract_view`` plus the days left and the warning state on ``today``."""
    return {**contract_view(row), "days_left": (row.expires_on - today).days,
            "warning_state": warning_state(row, today)}

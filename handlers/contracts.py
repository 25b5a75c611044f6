"""Contract expiry warnings (合同到期预警): handlers the daily run of contract_expiry.bpmn calls.

- ``contracts.find_due`` (no parameters, or ``today``: an ISO date overriding the platform
  clock's date): the contracts due for a warning today, as a list of
  ``{contract_no, customer_name, tenant, customer_manager, manager_phone, expires_on, days_left,
  text}``, soonest expiry first.
- ``contracts.mark_warned`` (contract_no): records the warning (``warned_at`` = now), so no later
  run warns the same contract again. Returns ``{"contract_no", "marked"}``; ``marked`` is False
  when it was already warned (a retry, or another run got there first).
- ``contracts.record_renewal`` (contract_no, outcome, new_expires_on?, note?): the customer
  manager's answer in 合同续签 (see ``engine.contracts.record_renewal``). Returns the contract.

Rows are read and written in the job's own transaction (``call.session``), so they commit or
roll back together with the service task; outside a job, a short transaction of
``call.platform`` (or of the platform given to :func:`configure`) is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine import contracts
from engine.services import ServiceCall, service

if TYPE_CHECKING:
    from engine.platform import Platform

_platform: Platform | None = None


def configure(platform: Platform | None) -> None:
    """Give the handlers a platform for calls made outside a job."""
    global _platform
    _platform = platform


@service("contracts.find_due")
def find_due(params: dict[str, Any], call: ServiceCall) -> list[dict[str, Any]]:
    platform = _platform_of(call)
    today = date.fromisoformat(str(params["today"])[:10]) if params.get("today") else platform.clock.now().date()
    with _session(call) as session:
        return [contracts.warning_item(row, today) for row in contracts.due_for_warning(session, today)]


@service("contracts.mark_warned")
def mark_warned(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    contract_no = str(params.get("contract_no") or "")
    with _session(call) as session:
        marked = contracts.mark_warned(session, contract_no, _platform_of(call).clock.now(), call.instance_id)
    return {"contract_no": contract_no, "marked": marked}


@service("contracts.record_renewal")
def record_renewal(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    with _session(call) as session:
        row = contracts.record_renewal(session, str(params.get("contract_no") or ""),
                                       str(params.get("outcome") or ""), _platform_of(call).clock.now(),
                                       new_expires_on=params.get("new_expires_on") or None,
                                       note=str(params.get("note") or ""))
        return contracts.contract_view(row)


def _platform_of(call: ServiceCall) -> Platform:
    platform = call.platform or _platform
    if platform is None:
        raise RuntimeError("contracts handlers need the platform: none was given with the call")
    return platform


@contextmanager
def _session(call: ServiceCall) -> Iterator[Session]:
    if call.session is not None:
        yield call.session
        return
    with _platform_of(call).transaction() as own:
        yield own

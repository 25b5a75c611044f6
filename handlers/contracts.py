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

from datetime import date
from typing import TYPE_CHECKING, Any

from engine.services import ServiceCall, service
from tower import contracts

if TYPE_CHECKING:
    from engine.platform import Platform

_platform: Platform | None = None


def configure(platform: Platform | None) -> None:
    """Give the handlers a platform for calls made outside a job."""
    global _platform
    _platform = platform


@service("contracts.find_due")
def find_due(params: dict[str, Any], call: ServiceCall) -> list[dict[str, Any]]:
    today = date.fromisoformat(str(params["today"])[:10]) if params.get("today") else call.clock_now(_platform).date()
    with call.db(_platform) as session:
        return [contracts.warning_item(row, today) for row in contracts.due_for_warning(session, today)]


@service("contracts.mark_warned")
def mark_warned(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    contract_no = str(params.get("contract_no") or "")
    with call.db(_platform) as session:
        marked = contracts.mark_warned(session, contract_no, call.clock_now(_platform), call.instance_id)
    return {"contract_no": contract_no, "marked": marked}


@service("contracts.record_renewal")
def record_renewal(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    with call.db(_platform) as session:
        row = contracts.record_renewal(session, str(params.get("contract_no") or ""),
                                       str(params.get("outcome") or ""), call.clock_now(_platform),
                                       new_expires_on=params.get("new_expires_on") or None,
                                       note=str(params.get("note") or ""))
        return contracts.contract_view(row)

"""A demand row follows its Flow 1 instance: when a save changes one of the variables below,
the demand of that instance (same demand number and tenant) gets the new value in the same
transaction, so lists, exports and progress queries never lag behind the flow.

It is a lifecycle listener (``DemandMirror``, registered by ``tower.plugin``): the engine calls
it inside the instance's transaction after every save. The flow says where a demand stands by
setting ``demand_status`` (one of ``tower.demands.STATUSES``); the order and delivery fields
are the forms' variable names.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.lifecycle import InstanceEvent, LifecycleListener
from engine.models import HumanTask, ProcessInstance
from tower.demands import STATUSES
from tower.models import Demand


def _text(limit: int):
    def convert(value: Any) -> str | None:
        return None if value is None else str(value)[:limit]
    return convert


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _date(value: Any) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    parsed = _datetime(value)
    return parsed.date() if parsed else None


# variable -> (column, converter); a value the converter refuses (None) is not written
FIELDS = {
    "order_no": ("order_no", _text(64)),
    "site_code": ("site_code", _text(64)),
    "build_mode": ("build_mode", _text(32)),
    "share_count": ("share_count", _integer),
    "annual_fee": ("annual_fee", _decimal),
    "order_sent_at": ("order_sent_at", _datetime),
    "delivered_on": ("delivered_on", _date),
    "site_name": ("site_name", _text(200)),
    "longitude": ("longitude", _number),
    "latitude": ("latitude", _number),
    "tower_type": ("tower_type", _text(50)),
    "antenna_height": ("antenna_height", _number),
    "expected_delivery": ("expected_delivery", _date),
    "remarks": ("remarks", _text(1000)),
}
# statuses that record who did the step: status -> (when column, who column, the operator's task)
SIGNED = {
    "order_confirmed": ("order_confirmed_at", "order_confirmed_by", "confirm_order"),
    "acceptance_confirmed": ("accepted_at", "accepted_by", "confirm_acceptance"),
}


class DemandMirror(LifecycleListener):
    """Copies a Flow 1 instance's demand variables onto its demand row on every save."""

    def instance_saved(self, event: InstanceEvent) -> None:
        sync(event.session, event.instance, dict(event.changed), event.at)


def sync(session: Session, row: ProcessInstance, changed: dict[str, Any], now: datetime) -> None:
    """Copy the changed demand variables of ``row`` onto its demand, if it has one."""
    if "demand_status" not in changed and not (FIELDS.keys() & changed.keys()):
        return
    variables = row.variables or {}
    if "demand_status" not in variables:
        return  # not a Flow 1 instance (Flow 2 alone also carries demand_no)
    demand = session.scalar(select(Demand).where(Demand.demand_no == str(variables.get("demand_no")),
                                                 Demand.tenant == row.tenant))
    if demand is None or demand.instance_id not in (None, row.id):
        return
    demand.instance_id = row.id
    for name, (column, convert) in FIELDS.items():
        if name in changed:
            value = convert(changed[name])
            if value is not None:
                setattr(demand, column, value)
    status = changed.get("demand_status")
    if status in STATUSES and status != demand.status:
        demand.status = status
        if status in SIGNED:
            when, who, element = SIGNED[status]
            setattr(demand, when, now)
            setattr(demand, who, _last_completer(session, row.id, element))


def _last_completer(session: Session, instance_id: int, element_id: str) -> str | None:
    return session.scalar(select(HumanTask.completed_by).where(
        HumanTask.instance_id == instance_id, HumanTask.element_id == element_id,
        HumanTask.state == "completed").order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()).limit(1))

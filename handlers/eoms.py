"""EOMS, the electronic operation and maintenance system: work orders for fault repair and
activation (``TOWERFLOW_EOMS_URL``)."""

from typing import Any

from engine.services import ServiceCall, service

from .outbound import call_system, pick
from .remote import sends_to


@service("eoms.create_work_order", remote=sends_to("eoms"))
def create_work_order(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """Open a work order of ``kind`` (e.g. ``fault``, ``activation``) for ``business_key``."""
    values = pick(params, "kind", "business_key", "data")
    if values["business_key"] is None:
        values["business_key"] = call.business_key
    return call_system("eoms", "create_work_order", values, call)

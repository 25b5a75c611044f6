"""BOSS, the business and operation support system: product activation and billing
(``TOWERFLOW_BOSS_URL``)."""

from typing import Any

from engine.services import ServiceCall, service

from .outbound import call_system, pick
from .remote import sends_to


@service("boss.activate", remote=sends_to("boss"))
def activate(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """Activate ``product`` for the order ``business_key`` (billing starts)."""
    values = pick(params, "product", "business_key", "data")
    if values["business_key"] is None:
        values["business_key"] = call.business_key
    return call_system("boss", "activate", values, call)

"""The operators' own platforms (China Mobile, China Unicom, China Telecom): progress
notices on demands, orders and service requests (``TOWERFLOW_OPERATOR_PLATFORM_URL``)."""

from typing import Any

from engine.services import ServiceCall, service

from .outbound import call_system, pick
from .remote import sends_to


@service("operator_platform.notify", remote=sends_to("operator_platform"))
def notify(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """Tell operator ``tenant`` about ``event`` on ``business_key``; defaults to the instance's
    tenant and business key when those parameters are missing."""
    values = pick(params, "tenant", "event", "business_key", "data")
    values["tenant"] = values["tenant"] if values["tenant"] is not None else call.tenant
    if values["business_key"] is None:
        values["business_key"] = call.business_key
    return call_system("operator_platform", "notify", values, call)

"""SMS gateway: text messages to staff and customers (``TOWERFLOW_SMS_URL``)."""

from typing import Any

from engine.services import ServiceCall, service

from .outbound import call_system, pick
from .remote import sends_to


@service("sms.send", remote=sends_to("sms"))
def send(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """Send ``text`` to the mobile number ``to``."""
    return call_system("sms", "send", pick(params, "to", "text"), call)

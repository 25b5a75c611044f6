"""PMS, the project management system: construction projects for confirmed orders
(``TOWERFLOW_PMS_URL``)."""

from typing import Any

from engine.services import ServiceCall, service

from .outbound import call_system, pick
from .remote import sends_to


@service("pms.create_project", remote=sends_to("pms"))
def create_project(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """Start the construction project of demand ``demand_no`` at ``site``."""
    return call_system("pms", "create_project", pick(params, "demand_no", "site", "data"), call)

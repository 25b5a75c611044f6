"""The resource management system: sites, their status and their contracts
(``TOWERFLOW_RESOURCE_URL``)."""

from typing import Any

from engine.services import ServiceCall, service

from .outbound import call_system, pick
from .remote import sends_to


@service("resource.sync_contract", remote=sends_to("resource"))
def sync_contract(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """Store the negotiated site ``contract`` (landlord, rent, term...) for ``site_code``."""
    return call_system("resource", "sync_contract", pick(params, "site_code", "contract"), call)


@service("resource.update_site", remote=sends_to("resource"))
def update_site(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """Set the ``status`` of site ``site_code`` (e.g. ``difficult``, ``released``) with ``data``."""
    return call_system("resource", "update_site", pick(params, "site_code", "status", "data"), call)

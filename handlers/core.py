"""Handlers that talk to no external system."""

from typing import Any

from engine.services import ServiceCall, service


@service("core.echo")
def echo(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """Return the parameters; useful to test service wiring end to end."""
    return {"params": params, "idempotency_key": call.idempotency_key}

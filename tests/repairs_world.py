"""A PMS that fails on purpose, and the three small processes the repairs tests run
(tests/data/repairs_*.bpmn): an order that calls a check and a sync task that calls the PMS."""

from __future__ import annotations

from helpers import deploy


class BrokenPms:
    """Fails while ``broken``: a refused token for site T-9, a 500 for any other; then answers."""

    def __init__(self):
        self.broken = True

    def __call__(self, params, call):
        if self.broken and params.get("site") == "T-9":
            raise PermissionError(f"token for site {params['site']} was refused")
        if self.broken:
            raise RuntimeError(f"order {call.instance_id} failed: PMS answered 500")
        return {"project": f"P-{params['site']}"}


def install_pms(platform, services) -> BrokenPms:
    """Register the broken PMS as ``test.repairs_pms`` and deploy the repairs processes."""
    handler = BrokenPms()
    services.add("test.repairs_pms", handler)
    deploy(platform, "repairs_sync.bpmn", "repairs_check.bpmn", "repairs_order.bpmn")
    return handler

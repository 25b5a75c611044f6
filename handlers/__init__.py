"""Service-task handlers, one module per external system or concern.

Each module registers its handlers with ``@service("system.operation")`` in
``engine.services.registry``; importing this package imports the modules named below (a
module that fails to import stops the start with its name), and ``registry`` is what the
composition root hands to the platform.
"""

from engine.plugins import import_modules
from engine.services import registry

MODULES = (
    "handlers.core", "handlers.boss", "handlers.contracts", "handlers.difficult_sites", "handlers.eoms",
    "handlers.operator_platform", "handlers.pms", "handlers.resource", "handlers.site_library", "handlers.sms",
)

import_modules(MODULES, "the service handlers")

__all__ = ["MODULES", "registry"]

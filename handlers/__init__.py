"""Service-task handlers, one module per external system or concern.

Importing this package imports every module in it, and each registers its handlers in
``engine.services.registry`` with ``@service("system.operation")``.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

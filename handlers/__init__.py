"""Service-task handlers, one module per external system or concern.

Importing this package registers every handler in ``engine.services.registry``.
"""

from . import core  # noqa: F401

"""The tower company's plug-in: its tables, the demand mirror, its settings.

The composition root (``web.app.build_platform``) hands ``PLUGIN`` to the platform, next to
the forms and the service handlers; the engine itself never imports this package.
"""

from __future__ import annotations

from engine.plugins import Plugin
from engine.settings import Settings
from tower.demand_mirror import DemandMirror
from tower.sites import configured_radii


def check_settings(settings: Settings) -> None:
    """Refuse to start on a site radius that is not a positive number of metres."""
    configured_radii(settings)


PLUGIN = Plugin("tower", tables=("tower.models",), listeners=(DemandMirror(),), check_settings=check_settings)

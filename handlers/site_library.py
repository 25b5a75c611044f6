"""The site library as a service task: is there a stored site close enough to share?

``site_library.find_nearby`` takes ``longitude``, ``latitude`` and ``area_type`` (urban |
suburban | rural; optional ``radius_m`` overrides the configured radius) and returns
``{"found": bool, "site": {...} | None, "distance_m": float | None, "radius_m": float}``.

The site table is read in the job's own transaction (``call.session``), or through a
platform (``call.platform``, or one given to ``configure`` for direct calls).
"""

from __future__ import annotations

from typing import Any

from engine.services import ServiceCall, service
from tower import sites

_platform = None


def configure(platform) -> None:
    """Read sites through ``platform`` (its read sessions); the last one configured wins."""
    global _platform
    _platform = platform


@service("site_library.find_nearby")
def find_nearby(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """The nearest stored site within the allowed offset radius of the point."""
    missing = [name for name in ("longitude", "latitude", "area_type") if params.get(name) in (None, "")]
    if missing:
        raise ValueError(f"site_library.find_nearby needs {', '.join(missing)}")
    radius = params.get("radius_m")

    platform = call.platform or _platform
    radii = sites.configured_radii(platform.settings) if platform is not None else None
    with call.db(_platform) as session:
        result = sites.search(session, params["longitude"], params["latitude"], params["area_type"],
                              radius_m=None if radius in (None, "") else radius, radii=radii)
        return sites.search_view(result)

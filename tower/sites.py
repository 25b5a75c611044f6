"""The site library: great-circle distances and the nearest stored site within the allowed
offset radius (允许偏移半径), which depends on the area type of the demand.

Radii (metres) come from, in order: the ``radii`` / ``radius_m`` arguments, then
``DEFAULT_RADII_M``. The handler passes ``configured_radii(settings)``: the settings
``TOWERFLOW_SITE_RADIUS_URBAN``, ``..._SUBURBAN`` and ``..._RURAL``, checked at start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import BadRequest
from engine.settings import Settings, SettingsError
from tower.models import Site

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
EARTH_RADIUS_M = EARTH_RADIUS_KM * 1000.0
AREA_TYPES = ("urban", "suburban", "rural")
AREA_LABELS = {"urban": "城区", "suburban": "郊区", "rural": "农村"}
DEFAULT_RADII_M: dict[str, float] = {"urban": 100.0, "suburban": 200.0, "rural": 500.0}
ENV_PREFIX = "TOWERFLOW_SITE_RADIUS_"
UNUSABLE_STATUSES = ("retired",)  # sites that can no longer be shared


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (haversine formula)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def check_area_type(area_type: object) -> str:
    value = str(area_type or "").strip().lower()
    if value not in AREA_TYPES:
        raise BadRequest("area_type must be one of %(allowed)s, not %(value)s", allowed=", ".join(AREA_TYPES),
                         value=repr(area_type))
    return value


def allowed_radius(area_type: str, radii: Mapping[str, float] | None = None) -> float:
    """The allowed offset radius in metres for ``area_type``."""
    area = check_area_type(area_type)
    if radii and area in radii:
        return _positive(radii[area], f"radius for {area}")
    return DEFAULT_RADII_M[area]


def configured_radii(settings: Settings) -> dict[str, float]:
    """The radii the settings set (``TOWERFLOW_SITE_RADIUS_<AREA>``); an unusable one is a
    SettingsError naming its variable, so the platform does not start on it."""
    radii = {}
    for area in AREA_TYPES:
        variable = f"{ENV_PREFIX}{area.upper()}"
        raw = (settings.options.get(variable) or "").strip()
        if raw:
            try:
                radii[area] = _positive(raw, variable)
            except BadRequest:
                raise SettingsError(f"{variable}: {raw!r} is not a positive number of metres") from None
    return radii


def _positive(value: object, what: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadRequest(f"{what} must be a number of metres, not {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise BadRequest(f"{what} must be a positive number of metres, not {value!r}")
    return number


def check_coordinates(longitude: object, latitude: object) -> tuple[float, float]:
    """Both as floats inside the valid ranges, or BadRequest."""
    try:
        lon, lat = float(longitude), float(latitude)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadRequest("longitude and latitude must be numbers") from None
    if not (math.isfinite(lon) and math.isfinite(lat)) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequest("longitude must be within -180..180 and latitude within -90..90")
    return lon, lat


@dataclass(frozen=True)
class SiteSearch:
    """What a search found: the nearest usable site within the radius (or None)."""

    site: Site | None
    distance_m: float | None
    radius_m: float

    @property
    def found(self) -> bool:
        return self.site is not None


def search(session: Session, longitude: float, latitude: float, area_type: str, *,
           radius_m: float | None = None, radii: Mapping[str, float] | None = None) -> SiteSearch:
    """The nearest stored site within the allowed radius of the point, with its distance."""
    lon, lat = check_coordinates(longitude, latitude)
    radius = _positive(radius_m, "radius_m") if radius_m is not None else allowed_radius(area_type, radii)
    if radius_m is not None:
        check_area_type(area_type)
    # A bounding box first (cheap, uses the index), then the exact distance.
    d_lat = math.degrees(radius / EARTH_RADIUS_M) * 1.01
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    d_lon = min(180.0, d_lat / cos_lat)
    rows = session.scalars(
        select(Site).where(
            Site.latitude.between(lat - d_lat, lat + d_lat),
            Site.longitude.between(lon - d_lon, lon + d_lon),
            Site.status.not_in(UNUSABLE_STATUSES),
        )
    ).all()
    best: tuple[float, str, Site] | None = None
    for site in rows:
        d = distance_m(lon, lat, site.longitude, site.latitude)
        if d <= radius and (best is None or (d, site.site_code) < best[:2]):
            best = (d, site.site_code, site)
    if best is None:
        return SiteSearch(None, None, radius)
    return SiteSearch(best[2], best[0], radius)


def find_nearby(session: Session, longitude: float, latitude: float, area_type: str, *,
                radius_m: float | None = None, radii: Mapping[str, float] | None = None) -> Site | None:
    """The nearest stored site within the allowed offset radius for ``area_type``, or None."""
    return search(session, longitude, latitude, area_type, radius_m=radius_m, radii=radii).site


def site_view(site: Site) -> dict:
    return {
        "site_code": site.site_code, "name": site.name, "city": site.city, "county": site.county,
        "area_type": site.area_type, "longitude": site.longitude, "latitude": site.latitude,
        "tower_type": site.tower_type, "operators": list(site.operators or []), "status": site.status,
    }


def search_view(result: SiteSearch) -> dict:
    """The answer shape shared by the handler and the API."""
    return {
        "found": result.found,
        "site": site_view(result.site) if result.site is not None else None,
        "distance_m": round(result.distance_m, 2) if result.distance_m is not None else None,
        "radius_m": result.radius_m,
    }


def add_site(session: Session, site_code: str, name: str, longitude: float, latitude: float,
             area_type: str, **fields) -> Site:
    """Store a site (demo data, tests, an import from the resource system)."""
    lon, lat = check_coordinates(longitude, latitude)
    site = Site(site_code=site_code, name=name, longitude=lon, latitude=lat,
                area_type=check_area_type(area_type), **fields)
    site.operators = list(fields.get("operators") or [])
    session.add(site)
    session.flush()
    return site

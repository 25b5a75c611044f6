"""The site library: great-circle distance, allowed radius by area type, nearest site, handler, API."""

from __future__ import annotations

import math

import pytest

from engine.errors import BadRequest
from engine.services import ServiceCall
from engine.settings import Settings, SettingsError
from handlers import site_library
from tower import sites

TIANANMEN = (116.3975, 39.9087)
PEOPLES_SQUARE = (121.4737, 31.2304)


def metres_east(lon: float, lat: float, metres: float) -> float:
    """The longitude ``metres`` east of a point on the same parallel (small distances)."""
    return lon + math.degrees(metres / (sites.EARTH_RADIUS_M * math.cos(math.radians(lat))))


def metres_north(lat: float, metres: float) -> float:
    return lat + math.degrees(metres / sites.EARTH_RADIUS_M)


@pytest.fixture
def site_world(platform):
    """Three sites around a point in Nanjing at known distances."""
    lon, lat = 118.7969, 32.0603
    with platform.transaction() as session:
        sites.add_site(session, "NJ-001", "玄武湖东门", metres_east(lon, lat, 80), lat, "urban", city="南京市",
                       county="玄武区", tower_type="景观塔", operators=["china_mobile"])
        sites.add_site(session, "NJ-002", "玄武湖北", lon, metres_north(lat, 150), "suburban", city="南京市",
                       operators=["china_unicom", "china_telecom"])
        sites.add_site(session, "NJ-003", "紫金山", metres_east(lon, lat, -400), lat, "rural")
        sites.add_site(session, "NJ-OLD", "拆除站", metres_east(lon, lat, 10), lat, "urban", status="retired")
    return lon, lat


def test_great_circle_distance_of_known_pairs():
    assert 1067_000 <= sites.distance_m(*TIANANMEN, *PEOPLES_SQUARE) <= 1069_000
    assert sites.distance_m(*TIANANMEN, *TIANANMEN) == 0
    assert sites.distance_m(*TIANANMEN, *PEOPLES_SQUARE) == pytest.approx(sites.distance_m(*PEOPLES_SQUARE, *TIANANMEN))
    # one degree of latitude is R * pi / 180
    assert sites.distance_m(116.0, 39.0, 116.0, 40.0) == pytest.approx(6371008.8 * math.pi / 180, rel=1e-9)
    # a quarter of the equator, and antipodes (half the circumference) do not fail
    assert sites.distance_m(0, 0, 90, 0) == pytest.approx(6371008.8 * math.pi / 2, rel=1e-9)
    assert sites.distance_m(0, 0, 180, 0) == pytest.approx(6371008.8 * math.pi, rel=1e-9)
    # the spherical law of cosines (a different formula) agrees at city scale
    lon1, lat1, lon2, lat2 = map(math.radians, (113.3245, 23.1064, 114.0579, 22.5431))
    cosines = 6371008.8 * math.acos(math.sin(lat1) * math.sin(lat2)
                                    + math.cos(lat1) * math.cos(lat2) * math.cos(lon2 - lon1))
    assert sites.distance_m(113.3245, 23.1064, 114.0579, 22.5431) == pytest.approx(cosines, abs=0.01)


def test_allowed_radius_defaults_settings_and_argument():
    assert [sites.allowed_radius(a) for a in ("urban", "suburban", "rural")] == [100.0, 200.0, 500.0]
    configured = sites.configured_radii(Settings.from_env({"TOWERFLOW_SITE_RADIUS_URBAN": "150"}))
    assert sites.allowed_radius("urban", configured) == 150.0
    assert sites.allowed_radius("URBAN", configured) == 150.0
    assert sites.allowed_radius("urban", {"urban": 50}) == 50.0
    assert sites.allowed_radius("rural", {"urban": 50}) == 500.0
    with pytest.raises(SettingsError, match="TOWERFLOW_SITE_RADIUS_RURAL"):
        sites.configured_radii(Settings.from_env({"TOWERFLOW_SITE_RADIUS_RURAL": "lots"}))
    with pytest.raises(BadRequest):
        sites.allowed_radius("downtown")


def test_nearest_site_within_the_radius_of_the_area_type(platform, site_world):
    lon, lat = site_world
    with platform.Session() as session:
        found = sites.search(session, lon, lat, "urban")  # NJ-001 at 80 m, the retired one ignored
        assert found.site.site_code == "NJ-001"
        assert found.distance_m == pytest.approx(80, abs=0.01)
        assert found.radius_m == 100
        # a point 120 m west of the site: too far for urban, close enough for suburban
        west = metres_east(lon, lat, -40)
        assert sites.find_nearby(session, west, lat, "urban") is None
        assert sites.find_nearby(session, west, lat, "suburban").site_code == "NJ-001"
        # rural reaches NJ-003 from 250 m away; from the centre the nearest one wins
        far = metres_east(lon, lat, -650)
        assert sites.find_nearby(session, far, lat, "suburban") is None
        assert sites.find_nearby(session, far, lat, "rural").site_code == "NJ-003"
        assert sites.find_nearby(session, lon, lat, "rural").site_code == "NJ-001"
        # an explicit radius and a configured mapping both override the defaults
        assert sites.find_nearby(session, lon, lat, "urban", radius_m=50) is None
        assert sites.find_nearby(session, lon, lat, "urban", radii={"urban": 79.9}) is None
        assert sites.find_nearby(session, 100.0, 30.0, "rural") is None
        with pytest.raises(BadRequest):
            sites.find_nearby(session, lon, lat, "moon")


def test_radius_from_the_settings(platform, site_world):
    lon, lat = site_world
    radii = sites.configured_radii(Settings.from_env({"TOWERFLOW_SITE_RADIUS_URBAN": "60"}))
    with platform.Session() as session:
        assert sites.search(session, lon, lat, "urban", radii=radii).radius_m == 60
        assert sites.find_nearby(session, lon, lat, "urban", radii=radii) is None


def call() -> ServiceCall:
    return ServiceCall("site_library.find_nearby", "key-1", 1, "XQ-1", None, "screen", 1)


def test_the_handler_answers_from_the_configured_platform(platform, site_world):
    lon, lat = site_world
    handler = platform.services.get("site_library.find_nearby")
    assert handler is site_library.find_nearby
    site_library.configure(platform)
    try:
        answer = handler({"longitude": lon, "latitude": lat, "area_type": "urban"}, call())
        assert answer["found"] is True
        assert answer["site"]["site_code"] == "NJ-001"
        assert answer["site"]["operators"] == ["china_mobile"]
        assert answer["distance_m"] == pytest.approx(80, abs=0.01)
        assert answer["radius_m"] == 100
        answer = handler({"longitude": str(lon), "latitude": str(lat), "area_type": "urban", "radius_m": 30},
                         call())
        assert answer == {"found": False, "site": None, "distance_m": None, "radius_m": 30.0}
        with pytest.raises(ValueError, match="area_type"):
            handler({"longitude": lon, "latitude": lat}, call())
        with pytest.raises(BadRequest):
            handler({"longitude": "east", "latitude": lat, "area_type": "urban"}, call())
    finally:
        site_library.configure(None)
    with pytest.raises(RuntimeError, match="needs a database"):
        handler({"longitude": lon, "latitude": lat, "area_type": "urban"}, call())


def test_nearby_api_for_staff_only(api, site_world):
    lon, lat = site_world
    staff = api("wang", ["regional_manager"])
    r = staff.get(f"/api/v1/sites/nearby?longitude={lon}&latitude={lat}&area_type=urban")
    assert r.status_code == 200, r.json
    assert r.json["found"] is True and r.json["site"]["site_code"] == "NJ-001"
    r = staff.get(f"/api/v1/sites/nearby?longitude={lon}&latitude={lat}&area_type=urban&radius_m=10")
    assert r.json["found"] is False and r.json["radius_m"] == 10
    r = staff.get(f"/api/v1/sites/nearby?longitude={lon}&latitude={lat}&area_type=downtown")
    assert r.status_code == 422
    r = api("op", ["operator"], tenant="china_mobile").get(
        f"/api/v1/sites/nearby?longitude={lon}&latitude={lat}&area_type=urban")
    assert r.status_code == 403
    assert api.anonymous.get(f"/api/v1/sites/nearby?longitude={lon}&latitude={lat}&area_type=urban").status_code == 401


SCREENING_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_site_lookup"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="site_lookup" name="Site lookup" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="lookup" name="Look for a site to share">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="site_library.find_nearby" resultVariable="nearby">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="longitude" type="float" value="lon"/>
            <spiffworkflow:parameter id="latitude" type="float" value="lat"/>
            <spiffworkflow:parameter id="area_type" type="str" value="area"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="lookup"/>
    <bpmn:sequenceFlow id="f2" sourceRef="lookup" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_service_task_finds_the_site_to_share(api, platform, site_world):
    from helpers import instance, start

    from engine.definitions import deployments
    from engine.principal import SYSTEM
    from engine.runtime import jobs

    lon, lat = site_world
    site_library.configure(platform)
    try:
        deployments.deploy(platform, SYSTEM, {"site_lookup.bpmn": SCREENING_BPMN})
        admin = api("root", ["admin"])
        near = start(admin, "site_lookup", "XQ-1", lon=lon, lat=lat, area="urban")
        far = start(admin, "site_lookup", "XQ-2", lon=lon + 0.01, lat=lat, area="rural")
        jobs.run_due_jobs(platform)
        near, far = instance(admin, near["id"]), instance(admin, far["id"])
    finally:
        site_library.configure(None)
    assert near["state"] == "completed", near
    assert near["variables"]["nearby"]["site"]["site_code"] == "NJ-001"
    assert near["variables"]["nearby"]["found"] is True
    assert far["variables"]["nearby"] == {"found": False, "site": None, "distance_m": None, "radius_m": 500.0}

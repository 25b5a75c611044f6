"""A small Flow 1 world for the operator's page tests: demands of two operator companies driven
to a given stage by the same steps the demo uses (tower.demo.ROUTES), real BPMN and real users."""

from __future__ import annotations

from pathlib import Path

from engine import identity
from engine.definitions import deployments
from engine.principal import SYSTEM, Principal
from engine.runtime import jobs
from tower import demand_flow, demo

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
FLOW_FILES = ("tower_order.bpmn", "site_negotiation.bpmn", "difficult_site.bpmn", "service_request.bpmn")
MANAGER = Principal("manager", frozenset({"customer_manager"}))
PASSWORD = "password123"
# sign-in name -> (groups, tenant); the operator users are the demo's (tower.demo.OPERATORS)
PEOPLE = {"cmcc": (["operator"], "china_mobile"), "unicom": (["operator"], "china_unicom"),
          "manager": (["customer_manager"], None), "regional": (["regional_manager"], None),
          "director": (["city_director"], None), "supervisor": (["supervisor"], None),
          "planner": (["planning"], None)}
OPERATOR_NAMES = {"china_mobile": "中国移动", "china_unicom": "中国联通", "china_telecom": "中国电信"}


def deploy_flows(platform) -> None:
    deployments.deploy(platform, SYSTEM, {name: (PROCESSES / name).read_bytes() for name in FLOW_FILES})
    from engine.models import Tenant

    with platform.transaction() as session:
        for tenant, name in OPERATOR_NAMES.items():
            if session.get(Tenant, tenant) is None:
                session.add(Tenant(id=tenant, name=name))


def add_people(platform) -> None:
    with platform.transaction() as session:
        for username, (groups, tenant) in PEOPLE.items():
            identity.add_user(session, username, PASSWORD, groups, tenant)


def demand_at(platform, no: str, stage: str, tenant: str = "china_mobile", n: int = 1) -> int | None:
    """Enter demand ``no`` of ``tenant`` and drive its Flow 1 to ``stage`` (a key of
    tower.demo.ROUTES, or "collected"); returns its instance id (None when collected). An odd
    ``n`` builds a new site, so no stored site is needed."""
    demand_flow.enter_demand(platform, MANAGER, {
        "demand_no": no, "operator": OPERATOR_NAMES[tenant], "province": "浙江省", "city": "杭州市",
        "county": "西湖区", "site_name": f"西湖区{no}号需求点", "longitude": 120.10 + 0.001 * n,
        "latitude": 30.25 + 0.001 * n, "tower_type": "普通地面塔", "antenna_height": 35, "demand_type": "新建",
        "expected_delivery": "2027-03-01", "remarks": "测试需求"})
    if stage == "collected":
        return None
    instance_id = demand_flow.submit(platform, MANAGER, [no], "13800571234")[0]["instance_id"]
    jobs.drain(platform, instance_id)
    driver = demo._FlowDriver(platform, no, n, instance_id)
    for step in demo.ROUTES[stage]:
        getattr(driver, step)()
    return instance_id

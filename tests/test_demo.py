"""The demo world of ``towerflow demo``: what it seeds, and that seeding twice adds nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from engine import deployments, identity
from engine.demo import seed_world
from engine.models import HumanTask, ProcessInstance, Tenant
from engine.models_contracts import Contract
from engine.models_demands import Demand, Site
from engine.principal import SYSTEM
from web.cli import DEMO_PASSWORD, DEMO_USERS

PROCESSES = Path(__file__).parent.parent / "processes"


def prepare_processes(platform) -> None:
    deployments.deploy(platform, SYSTEM, {p.name: p.read_bytes() for p in sorted(PROCESSES.iterdir())
                                          if p.suffix in (".bpmn", ".dmn")})


def prepare(platform) -> None:
    prepare_processes(platform)
    with platform.transaction() as session:
        for username, groups, tenant, display in DEMO_USERS:
            identity.add_user(session, username, DEMO_PASSWORD, groups, tenant, display_name=display)


def snapshot(platform) -> dict:
    with platform.Session() as s:
        def count(stmt):
            return s.scalar(stmt)
        return {
            "tenants": count(select(func.count(Tenant.id))),
            "sites": dict(s.execute(select(Site.city, func.count(Site.id)).group_by(Site.city)).all()),
            "demands": count(select(func.count(Demand.id))),
            "demand_statuses": count(select(func.count(func.distinct(Demand.status)))),
            "contracts": count(select(func.count(Contract.id))),
            "instances": count(select(func.count(ProcessInstance.id))),
            "faults": count(select(func.count(ProcessInstance.id))
                            .where(ProcessInstance.process_key == "fault_dispatch")),
            "fault_states": dict(s.execute(select(ProcessInstance.state, func.count(ProcessInstance.id))
                                           .where(ProcessInstance.process_key == "fault_dispatch")
                                           .group_by(ProcessInstance.state)).all()),
            "open_titles": dict(s.execute(select(HumanTask.title, func.count(HumanTask.id))
                                          .where(HumanTask.state == "open").group_by(HumanTask.title)).all()),
            "open_groups": {g for (groups,) in s.execute(select(HumanTask.candidate_groups)
                                                         .where(HumanTask.state == "open")) for g in groups},
            "overdue": count(select(func.count(HumanTask.id)).where(
                HumanTask.state == "open", HumanTask.due_at < platform.clock.now())),
            "requests": count(select(func.count(ProcessInstance.id))
                              .where(ProcessInstance.process_key == "service_request")),
            "negotiation_tasks": list(s.scalars(select(HumanTask.element_id).where(
                HumanTask.state == "open", HumanTask.process_key == "site_negotiation"))),
            "tenants_of_faults": {t for (t,) in s.execute(select(ProcessInstance.tenant).where(
                ProcessInstance.process_key == "fault_dispatch"))},
        }


def test_demo_world_is_seeded_once(platform):
    prepare(platform)
    added = seed_world(platform, platform.clock.now())
    assert added == {"sites": 20, "demands": 40, "contracts": 6, "faults": 20,
                     "service_requests": 4, "negotiations": 1}
    world = snapshot(platform)
    assert world["tenants"] == 3
    assert world["sites"] == {"杭州市": 10, "宁波市": 10}
    assert world["demands"] == 40 and world["demand_statuses"] >= 10
    assert world["contracts"] == 6
    assert world["faults"] == 20
    assert world["fault_states"].get("completed") == 3 and world["fault_states"].get("waiting") == 17
    assert world["tenants_of_faults"] == {"china_mobile", "china_unicom", "china_telecom"}
    # faults left at distinct steps of the flow
    for title in ("受理故障", "派单", "一级接单", "一级处理", "二级接单", "二级处理", "客户确认"):
        assert world["open_titles"].get(title), (title, world["open_titles"])
    assert {"monitoring_center", "maintenance", "customer_manager"} <= world["open_groups"]
    assert world["requests"] == 4 and {"需求受理", "需求处理"} <= set(world["open_titles"])
    assert world["negotiation_tasks"] == ["report"]
    assert world["overdue"] >= 2
    assert "supervisor" in world["open_groups"]  # the escalations of the faults worked hours ago

    assert seed_world(platform, platform.clock.now()) == {"sites": 0, "demands": 0, "contracts": 0, "faults": 0,
                                                      "service_requests": 0, "negotiations": 0}
    assert snapshot(platform) == world


def test_faults_wait_for_the_processes(platform):
    with platform.transaction() as session:
        for username, groups, tenant, display in DEMO_USERS:
            identity.add_user(session, username, DEMO_PASSWORD, groups, tenant, display_name=display)
    assert seed_world(platform) == {"sites": 20, "demands": 40, "contracts": 6, "faults": 0,
                                     "service_requests": 0, "negotiations": 0}
    prepare_processes(platform)
    assert seed_world(platform)["faults"] == 20
    assert not any(seed_world(platform).values())

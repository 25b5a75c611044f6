"""The demo world of ``towerflow demo``: what it seeds, that every submitted demand is a real
Flow 1 instance whose status the flow gives, the one PMS incident, and that seeding twice adds nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from engine import identity
from engine.definitions import deployments
from engine.models import HumanTask, Incident, OutboxMessage, ProcessInstance, Tenant
from engine.principal import SYSTEM, Principal
from engine.runtime import jobs
from tower import demo
from tower.demo import DEMO_PASSWORD, DEMO_USERS, seed_world
from tower.models import Contract, Demand, Site

PROCESSES = Path(__file__).parents[2] / "processes"


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
            "demand_statuses": dict(s.execute(select(Demand.status, func.count(Demand.id))
                                              .group_by(Demand.status)).all()),
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
            "incidents": [(i.element_id, i.message)
                          for i in s.scalars(select(Incident).where(Incident.state == "open"))],
            "tenants_of_faults": {t for (t,) in s.execute(select(ProcessInstance.tenant).where(
                ProcessInstance.process_key == "fault_dispatch"))},
        }


def demands_and_flows(platform) -> list[tuple[Demand, ProcessInstance | None]]:
    with platform.Session() as s:
        rows = s.scalars(select(Demand).order_by(Demand.demand_no)).all()
        return [(d, s.get(ProcessInstance, d.instance_id) if d.instance_id else None) for d in rows]


def open_flow_tasks(platform) -> list[tuple[HumanTask, str | None]]:
    with platform.Session() as s:
        return list(s.execute(select(HumanTask, ProcessInstance.tenant)
                              .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                              .where(HumanTask.state == "open", ProcessInstance.process_key == "tower_order")).all())


STATUS_SPREAD = {"collected": 4, "submitted": 3, "confirmed": 3, "accepted": 3, "screening": 3, "negotiating": 3,
                 "order_compiling": 3, "order_sent": 2, "order_confirmed": 3, "construction": 3, "delivered": 3,
                 "acceptance_confirmed": 3, "unplannable": 2, "cancelled": 2}


def test_demo_world_is_seeded_once(platform):
    prepare(platform)
    settings = platform.settings
    added = seed_world(platform, platform.clock.now())
    assert added == {"sites": 20, "demands": 40, "contracts": 6, "demand_flows": 36, "faults": 20,
                     "service_requests": 4}
    # the PMS outage was only for seeding
    assert platform.settings == settings and platform.settings.system_url("pms") is None
    world = snapshot(platform)
    assert world["tenants"] == 3
    assert world["sites"] == {"杭州市": 10, "宁波市": 10}
    assert world["demands"] == 40 and world["demand_statuses"] == STATUS_SPREAD
    assert world["contracts"] == 6
    assert world["faults"] == 20
    assert world["fault_states"].get("completed") == 3 and world["fault_states"].get("waiting") == 17
    assert world["tenants_of_faults"] == {"china_mobile", "china_unicom", "china_telecom"}
    # faults left at distinct steps of the flow
    for title in ("受理故障", "派单", "一级接单", "一级处理", "二级接单", "二级处理", "客户确认"):
        assert world["open_titles"].get(title), (title, world["open_titles"])
    assert {"monitoring_center", "maintenance", "customer_manager"} <= world["open_groups"]
    assert world["requests"] == 4 and {"需求受理", "需求处理"} <= set(world["open_titles"])
    assert world["overdue"] >= 2
    assert "supervisor" in world["open_groups"]  # the escalations of the faults worked hours ago

    check_flows(platform)
    assert len(world["incidents"]) == 1

    assert seed_world(platform, platform.clock.now()) == {
        "sites": 0, "demands": 0, "contracts": 0, "demand_flows": 0, "faults": 0, "service_requests": 0}
    assert snapshot(platform) == world
    check_pms_incident_and_retry(platform)


def check_flows(platform) -> None:
    """Every submitted demand is a Flow 1 instance whose status the flow set; a demo user may do each open step."""
    rows = demands_and_flows(platform)
    for demand, flow in rows:
        if demand.status == "collected":
            assert flow is None, demand.demand_no
            continue
        assert flow is not None and flow.process_key == "tower_order", demand.demand_no
        assert (flow.business_key, flow.tenant) == (demand.demand_no, demand.tenant)
        assert demand.status == flow.variables["demand_status"], demand.demand_no
    assert Counter(d.status for d, _ in rows) == STATUS_SPREAD
    ended = {(d.status, flow.state) for d, flow in rows
             if flow is not None and flow.state in ("completed", "cancelled")}
    assert ended == {("acceptance_confirmed", "completed"), ("unplannable", "completed"), ("cancelled", "cancelled")}
    with platform.Session() as s:
        confirmed = s.scalars(select(Demand).where(Demand.status == "acceptance_confirmed")).all()
        assert {(d.accepted_by, d.order_confirmed_by) for d in confirmed} <= {
            (u, u) for u in ("cmcc", "unicom", "telecom")}
        assert all(d.order_no and d.delivered_on for d in confirmed)

    # each step of the flow waits somewhere, and a demo user may do every open step
    tasks = open_flow_tasks(platform)
    assert {t.element_id for t, _ in tasks} >= {
        "confirm_demand", "accept_demand", "integrate", "dispatch_screening", "screening", "confirm_screening",
        "plan", "report", "cost_approval", "compile_order", "modify_order", "confirm_order", "start_project",
        "delivery", "confirm_acceptance"}
    for task, tenant in tasks:
        doers = [u for u, groups, user_tenant, _ in DEMO_USERS if user_tenant in (None, tenant) and (
            set(groups) & set(task.candidate_groups or []) or u in (task.candidate_users or []))]
        assert doers, (task.element_id, task.candidate_groups, tenant)


def check_pms_incident_and_retry(platform) -> None:
    """One PMS project start failed for good; a supervisor's retry, PMS reachable again, sends it."""
    with platform.Session() as s:
        incidents = s.scalars(select(Incident).where(Incident.state == "open")).all()
        assert len(incidents) == 1
        incident = incidents[0]
        flow = s.get(ProcessInstance, incident.instance_id)
        demand = s.scalar(select(Demand).where(Demand.instance_id == flow.id))
    assert incident.element_id == "create_project" and "pms" in incident.message.lower()
    assert "127.0.0.1:9" in incident.message  # the address that did not answer
    assert (flow.process_key, flow.state, demand.status) == ("tower_order", "error", "order_confirmed")

    jobs.retry_incident(platform, Principal("supervisor", frozenset({"supervisor"})), incident.id)
    with platform.Session() as s:
        sent = s.scalars(select(OutboxMessage).where(OutboxMessage.instance_id == flow.id,
                                                     OutboxMessage.operation == "create_project")).all()
        assert [(m.system, m.status) for m in sent] == [("pms", "recorded")]
        assert s.get(ProcessInstance, flow.id).state == "waiting"
        assert s.get(Demand, demand.id).status == "construction"


def test_demands_and_faults_wait_for_the_processes(platform, monkeypatch):
    """Seeded before the processes are deployed, the demands stay collected; a status set by hand
    (no flow behind it) is replaced by the flow's once the processes are there."""
    monkeypatch.setattr(demo, "DEMAND_STAGES", ("collected", "submitted", "negotiation_plan", "delivered"))
    with platform.transaction() as session:
        for username, groups, tenant, display in DEMO_USERS:
            identity.add_user(session, username, DEMO_PASSWORD, groups, tenant, display_name=display)
    assert seed_world(platform) == {"sites": 20, "demands": 4, "contracts": 6, "demand_flows": 0, "faults": 0,
                                     "service_requests": 0}
    assert {d.status for d, flow in demands_and_flows(platform) if flow is None} == {"collected"}
    with platform.transaction() as session:  # as the demo did before Flow 1 existed
        session.scalar(select(Demand).where(Demand.demand_no == "XQ-DEMO-0002")).status = "order_sent"
    prepare_processes(platform)
    again = seed_world(platform)
    assert (again["demand_flows"], again["faults"]) == (3, 20)
    assert [d.status for d, _ in demands_and_flows(platform)] == ["collected", "submitted", "negotiating",
                                                                  "delivered"]
    assert not any(seed_world(platform).values())

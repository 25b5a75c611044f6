"""What an operator (tenant) user may see of its own instances, for every shipped process.

Each process is driven, with an operator tenant, to a point where internal variables are set
(cost standards, staff phones and notes, routing rules, system-call results). Then the
operator of that tenant reads the instance through the API (instance, history, task, files,
incidents), the instance page and the task page: no internal variable's name or value, no
traceback, exception class or server path, no audit event of others' internal steps. A
supervisor still reads everything.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.definitions import deployments
from engine.models import AuditEvent, HumanTask, Incident, ProcessInstance
from engine.principal import SYSTEM, Principal
from engine.runtime import files, instances, jobs, tasks

PROCESSES = Path(__file__).parents[2] / "processes"
TENANT = "china_mobile"
OPERATOR = Principal("cmcc_li", frozenset({"operator"}), TENANT)
MANAGER = Principal("mgr", frozenset({"customer_manager"}))
PLANNER = Principal("plan", frozenset({"planning"}))
REGIONAL = Principal("reg", frozenset({"regional_manager"}))
MONITOR = Principal("mon", frozenset({"monitoring_center"}))
REPAIR = Principal("fix", frozenset({"maintenance"}))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Case:
    """One shipped process: how to drive it, and what is internal in it."""

    key: str
    start_by: Principal
    start: dict
    steps: list = field(default_factory=list)  # (element_id, actor, data)
    internal: dict = field(default_factory=dict)  # internal variable -> a value it must hold
    visible: str = ""  # a customer-visible variable that must still be shown


CASES = [
    Case("tower_order", MANAGER, {
        "demand_no": "XQ-V-001", "operator": "china_mobile", "province": "江苏省", "city": "南京市",
        "county": "玄武区", "site_name": "玄武湖站", "longitude": 118.7969, "latitude": 32.0603,
        "tower_type": "普通地面塔", "antenna_height": 35, "demand_type": "新建",
        "expected_delivery": "2027-03-01", "remarks": "业主已初步同意", "customer_manager": "mgr",
        "customer_manager_phone": "13800571234"},
        steps=[("confirm_demand", OPERATOR, {"confirmed": True, "confirm_comment": "同意立项"}),
               ("accept_demand", MANAGER, {"comment": "内部：先核对基础数据"}),
               ("integrate", PLANNER, {"integration_result": "new_site", "area_type": "suburban",
                                       "cost_standard": 51234.0, "integration_note": "内部：预算偏紧"})],
        internal={"cost_standard": "51234", "customer_manager_phone": "13800571234",
                  "comment": "内部：先核对基础数据", "integration_note": "内部：预算偏紧", "area_type": "suburban"},
        visible="confirm_comment"),
    Case("site_negotiation", REGIONAL, {
        "demand_no": "XQ-V-002", "site_name": "鼓楼站", "longitude": 118.78, "latitude": 32.06,
        "area_type": "urban", "cost_standard": 48765.0, "deadline_days": 30,
        "customer_manager_phone": "13800571234"},
        steps=[("plan", REGIONAL, {"negotiator": "neg_sun", "plan": "内部：先谈业主再谈物业"})],
        internal={"cost_standard": "48765", "customer_manager_phone": "13800571234",
                  "plan": "内部：先谈业主再谈物业", "negotiator": "neg_sun"},
        visible="site_name"),
    Case("difficult_site", REGIONAL, {
        "site_name": "秦淮站", "demand_no": "XQ-V-003", "reason": "owner_refuses",
        "description": "内部：业主要价为标准三倍", "contact_phone": "13912345678"},
        internal={"description": "内部：业主要价为标准三倍", "contact_phone": "13912345678"},
        visible="site_name"),
    Case("fault_dispatch", MANAGER, {
        "customer_name": "杭州市公安局", "customer_level": "group", "business_category": "bandwidth",
        "circuit_id": "MPLS-VPN-0571-0042", "contact_phone": "13800571234",
        "description": "专线中断，业务不通", "channel": "on_behalf"},
        steps=[("accept_fault", MONITOR, {
                    "customer_name": "杭州市公安局", "customer_level": "group", "business_category": "bandwidth",
                    "circuit_id": "MPLS-VPN-0571-0042", "contact_phone": "13800571234",
                    "description": "专线中断，业务不通", "acceptance_note": "已受理"}),
               ("dispatch", MONITOR, {"first_level_team": "西湖区传输一班", "dispatch_note": "内部：优先处理"}),
               ("first_accept", REPAIR, {"first_level_engineer": "李工程师"}),
               ("first_repair", REPAIR, {"first_level_result": "repaired", "first_level_note": "内部：更换光模块"}),
               ("confirm_restoration", MONITOR, {"restoration_note": "告警已消除"})],
        internal={"first_level_team": "西湖区传输一班", "dispatch_note": "内部：优先处理",
                  "first_level_engineer": "李工程师", "first_level_note": "内部：更换光模块"},
        visible="restoration_note"),
    Case("service_request", OPERATOR, {
        "request_kind": "consultation", "customer_name": "杭州市数据资源局", "contact_name": "陈女士",
        "contact_phone": "13905710001", "description": "咨询专线扩容资费", "expected_date": "2026-12-15",
        "product": "互联网专线 100M"},
        steps=[("accept", MANAGER, {"accept_decision": "accept", "acceptance_note": "已受理"}),
               ("handle", MANAGER, {"handling_result": "已答复资费", "reference_no": "WO-1"})],
        internal={"notice_accepted": "outbox_id"},
        visible="handling_result"),
    Case("group_product_order", MANAGER, {
        "customer_name": "浙江大学", "customer_level": "provincial", "product": "internet_dedicated_line",
        "channel": "customer_manager", "contact_name": "陈老师", "contact_phone": "13905710002",
        "address": "杭州市西湖区", "bandwidth_mbps": 100, "demand_description": "新开一条专线"},
        steps=[("accept_opportunity", MANAGER, {"complexity": "complex", "notify_channel": "sms",
                                                "manager_phone": "13811112222", "accept_note": "内部：重点客户"})],
        internal={"manager_phone": "13811112222", "accept_note": "内部：重点客户"},
        visible="customer_name"),
    Case("contract_expiry", SYSTEM, {
        "due_contracts": [{"contract_no": "HT-INTERNAL-9", "customer_name": "别家公司", "tenant": "china_unicom"}]},
        internal={"due_contracts": "HT-INTERNAL-9"}),
]


@pytest.fixture
def world(platform):
    deployments.deploy(platform, SYSTEM, {p.name: p.read_bytes() for p in sorted(PROCESSES.iterdir())
                                          if p.suffix in (".bpmn", ".dmn")})
    return platform


def drive(platform, case: Case) -> int:
    """Start the case's process for the tenant and complete its steps, as the people of each step."""
    iid = instances.start(platform, case.start_by, case.key, f"BK-{case.key}", case.start, TENANT)
    jobs.drain(platform, iid)
    for element, actor, data in case.steps:
        with platform.Session() as session:
            task_id = session.scalar(select(HumanTask.id).where(
                HumanTask.instance_id == iid, HumanTask.element_id == element, HumanTask.state == "open"))
        assert task_id is not None, (case.key, element)
        tasks.claim(platform, actor, task_id)
        tasks.complete(platform, actor, task_id, data)
        jobs.drain(platform, iid)
    with platform.Session() as session:
        variables = session.get(ProcessInstance, iid).variables
    for name, value in case.internal.items():  # the point: internal variables are really set
        assert value in json.dumps(variables.get(name), ensure_ascii=False), (name, variables.get(name))
    return iid


def leaks(text: str, case: Case) -> list[str]:
    """Internal names and values found in a text the operator reads."""
    found = [name for name in case.internal if f'"{name}":' in text or f">{name}<" in text
             or f'data-variable="{name}"' in text]
    found += [value for value in case.internal.values() if value in text]
    found += [word for word in ("Traceback", "File \"/", ".py\"", "Error:") if word in text]
    return found


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_an_operator_reads_only_the_customer_side(world, api, app, case):
    platform = world
    iid = drive(platform, case)
    operator = api(OPERATOR.username, ["operator"], tenant=TENANT)
    supervisor = api("boss", ["supervisor"])

    seen = operator.get(f"/api/v1/process-instances/{iid}")
    assert seen.status_code == 200
    text = json.dumps(seen.json, ensure_ascii=False)
    assert leaks(text, case) == []
    if case.visible:
        assert case.visible in seen.json["variables"]
    full = supervisor.get(f"/api/v1/process-instances/{iid}").json
    assert set(case.internal) <= set(full["variables"])

    history = operator.get(f"/api/v1/process-instances/{iid}/history").json
    assert leaks(json.dumps(history, ensure_ascii=False), case) == []
    staff = {MANAGER.username, PLANNER.username, REGIONAL.username, MONITOR.username, REPAIR.username}
    others = [e for e in history["items"] if e["actor"] in staff and e["action"] not in ("instance.started",)]
    assert others == []  # no claim or completion of the staff's internal steps
    everything = supervisor.get(f"/api/v1/process-instances/{iid}/history").json
    assert everything["total"] > history["total"]

    with platform.Session() as session:
        steps = session.scalars(select(HumanTask).where(HumanTask.instance_id == iid)).all()
        mine = [t.id for t in steps if "operator" in (t.candidate_groups or [])]
        theirs = [t.id for t in steps if t.id not in mine]
    for task_id in mine + theirs:  # its own steps, and the staff's steps of its instance (same tenant)
        task = operator.get(f"/api/v1/tasks/{task_id}")
        assert task.status_code == 200 and leaks(json.dumps(task.json, ensure_ascii=False), case) == []
        if task_id in theirs:
            assert task.json["form"] is None and "candidate_users" not in task.json

    page = signed_in(app, OPERATOR).get(f"/instances/{iid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # the diagram's data names elements and lanes (ids that may equal a variable's name): checked apart
    assert leaks(re.sub(r'<script type="application/json".*?</script>', "", html, flags=re.S), case) == []
    assert f"{case.key} v" not in html  # no raw process key beside the name
    diagram = json.loads(re.search(r'id="instance-diagram-data">(.*?)</script>', html, re.S)[1])["xml"]
    for code in ("<bpmn:script>", "conditionExpression", "extensionElements", "customerVariables"):
        assert code not in diagram  # the customer's diagram names no variable
    assert [value for value in case.internal.values() if value in diagram] == []
    boss_page = signed_in(app, Principal("boss", frozenset({"supervisor"}))).get(f"/instances/{iid}")
    assert all(value in boss_page.get_data(as_text=True) for value in case.internal.values())
    for task_id in mine + theirs:
        assert leaks(signed_in(app, OPERATOR).get(f"/tasks/{task_id}").get_data(as_text=True), case) == []


def signed_in(app, who: Principal):
    from engine import identity

    platform = app.extensions["towerflow"]
    with platform.transaction() as session:
        try:
            identity.get_user(session, who.username)
        except Exception:
            identity.add_user(session, who.username, "password123", sorted(who.groups), who.tenant)
    client = app.test_client()
    client.get("/lang/zh")
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
    response = client.post("/login", data={"username": who.username, "password": "password123", "csrf_token": token})
    assert response.status_code == 302
    return client


def test_a_file_of_an_internal_variable_is_not_found_for_the_operator(world, api, app):
    """tower_order declares ``scans`` customer-visible; a photo kept under an internal name is not."""
    platform = world
    iid = drive(platform, CASES[0])
    limits = files.Limits(1024 * 1024, ("image/*",))
    shared = files.store(platform, MANAGER, "scans", files.Upload("scan.png", PNG), limits, instance_id=iid)
    internal = files.store(platform, MANAGER, "lease_contract_scan", files.Upload("lease.png", PNG), limits,
                           instance_id=iid)
    operator = api(OPERATOR.username, ["operator"], tenant=TENANT)
    supervisor = api("boss", ["supervisor"])
    assert operator.get(f"/api/v1/files/{shared}").status_code == 200
    assert operator.get(f"/api/v1/files/{internal}").status_code == 404
    assert supervisor.get(f"/api/v1/files/{internal}").status_code == 200
    page = signed_in(app, OPERATOR)
    assert page.get(f"/files/{shared}").status_code == 200
    assert page.get(f"/files/{internal}").status_code == 404
    assert signed_in(app, Principal("boss", frozenset({"supervisor"}))).get(f"/files/{internal}").status_code == 200


def test_an_incident_reads_as_one_line_for_the_operator(world, api, app):
    """A failed system call: the operator reads a translated reason, staff the message, a supervisor
    also the traceback."""
    platform = world
    iid = drive(platform, CASES[0])
    with platform.transaction() as session:
        session.add(Incident(instance_id=iid, element_id="start_project", kind="service_failed",
                             message="ServiceError: PMS /srv/towerflow/handlers/pms.py refused: HTTP 500",
                             traceback='Traceback (most recent call last):\n  File "/srv/towerflow/x.py"',
                             state="open", created_at=platform.clock.now()))
    operator = api(OPERATOR.username, ["operator"], tenant=TENANT)
    listed = operator.get("/api/v1/incidents").json["items"]
    assert len(listed) == 1 and listed[0]["reason"] == "service_failed"
    text = json.dumps(listed, ensure_ascii=False)
    for secret in ("ServiceError", "/srv/", "Traceback", "HTTP 500", "traceback"):
        assert secret not in text
    assert listed[0]["message"]  # one line, in the request's language
    detail = operator.get(f"/api/v1/process-instances/{iid}").json["incidents"]
    assert detail[0]["message"] == listed[0]["message"] and "traceback" not in detail[0]

    staff = api("reg2", ["regional_manager"]).get("/api/v1/incidents").json["items"][0]
    assert staff["message"].startswith("ServiceError") and "traceback" not in staff
    boss = api("boss", ["supervisor"]).get("/api/v1/incidents").json["items"][0]
    assert boss["traceback"].startswith("Traceback")

    html = signed_in(app, OPERATOR).get(f"/instances/{iid}").get_data(as_text=True)
    assert "调用外部系统失败" in html
    for secret in ("ServiceError", "/srv/", "Traceback", "HTTP 500"):
        assert secret not in html
    boss_html = signed_in(app, Principal("boss", frozenset({"supervisor"}))).get(f"/instances/{iid}")
    assert "Traceback (most recent call last)" in boss_html.get_data(as_text=True)


def test_the_operator_sees_its_own_events_and_not_the_staffs(world, api):
    platform = world
    iid = drive(platform, CASES[0])
    history = api(OPERATOR.username, ["operator"], tenant=TENANT).get(
        f"/api/v1/process-instances/{iid}/history").json["items"]
    actions = [(e["actor"], e["action"]) for e in history]
    assert (OPERATOR.username, "task.completed") in actions and (OPERATOR.username, "task.claimed") in actions
    assert not any(a == "variables.changed" or a.startswith("service.") for _, a in actions)
    with platform.Session() as session:
        total = len(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == iid)).all())
    assert len(history) < total

"""Flow 4, enterprise fault dispatch (政企客户故障派单), driven through the REST API on the
manual clock: the intake channels, the repair limits of the DMN table, every escalation timer,
two-level two-way dispatch, the customer's confirmation and the happy path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from helpers import instance, start

from engine.definitions import deployments
from engine.principal import SYSTEM
from engine.runtime import jobs

PROCESSES = Path(__file__).parents[2] / "processes"
FILES = ("fault_dispatch.bpmn", "fault_time_limits.dmn")

REPORT = {
    "customer_name": "杭州市公安局", "customer_level": "group", "business_category": "bandwidth",
    "circuit_id": "MPLS-VPN-0571-0042", "contact_phone": "13800571234",
    "description": "专线中断，业务不通", "channel": "on_behalf",
}


def files() -> dict[str, bytes]:
    return {name: (PROCESSES / name).read_bytes() for name in FILES}


@pytest.fixture
def deployed(platform):
    return deployments.deploy(platform, SYSTEM, files())


@pytest.fixture
def users(api):
    class Users:
        manager = api("qian_cm", ["customer_manager"])
        monitor = api("sun_mc", ["monitoring_center"])
        repairer = api("li_mt", ["maintenance"])
        boss = api("zhou_sv", ["supervisor"])
    return Users


# --- helpers -----------------------------------------------------------------------------

def report(user, business_key: str = "FAULT-1", tenant: str | None = None, **changes) -> dict:
    return start(user, "fault_dispatch", business_key, tenant=tenant, **{**REPORT, **changes})


def open_tasks(user, instance_id: int) -> dict[str, dict]:
    return {t["title"]: t for t in instance(user, instance_id)["active_tasks"]}


def complete(user, instance_id: int, title: str, data: dict | None = None) -> dict:
    tasks = open_tasks(user, instance_id)
    assert title in tasks, sorted(tasks)
    r = user.post(f"/api/v1/tasks/{tasks[title]['id']}/complete", json={"data": data or {}})
    assert r.status_code == 200, r.json
    return r.json


def accept(users, iid: int, **changes) -> dict:
    """受理: the monitoring centre completes the (prefilled) fault record."""
    record = {k: v for k, v in {**REPORT, **changes}.items() if k != "channel"}
    return complete(users.monitor, iid, "受理故障", {**record, "acceptance_note": "已受理"})


def dispatch(users, iid: int) -> dict:
    return complete(users.monitor, iid, "派单", {"first_level_team": "西湖区传输一班"})


def first_accept(users, iid: int) -> dict:
    return complete(users.repairer, iid, "一级接单", {"first_level_engineer": "李工"})


def first_repair(users, iid: int, result: str) -> dict:
    return complete(users.repairer, iid, "一级处理", {"first_level_result": result, "first_level_note": "更换光模块"})


def second_accept(users, iid: int) -> dict:
    return complete(users.repairer, iid, "二级接单", {"second_level_engineer": "王工"})


def second_repair(users, iid: int, result: str) -> dict:
    return complete(users.repairer, iid, "二级处理", {"second_level_result": result, "second_level_note": "核心侧处理"})


def confirm_restoration(users, iid: int) -> dict:
    return complete(users.monitor, iid, "恢复确认", {"restoration_note": "告警已消除"})


def customer_answers(user, iid: int, answer: str) -> dict:
    return complete(user, iid, "客户确认", {"customer_answer": answer, "customer_feedback": "客户已回复"})


def to_first_repair(users, iid: int) -> None:
    accept(users, iid)
    dispatch(users, iid)
    first_accept(users, iid)


def advance(platform, clock, **delta) -> int:
    clock.advance(timedelta(**delta))
    return jobs.run_due_jobs(platform)


# --- lint and intake ---------------------------------------------------------------------

def test_the_diagram_and_the_table_lint_clean(platform):
    result = deployments.lint(platform, files())
    assert result.problems == []
    assert [p.key for p in result.processes] == ["fault_dispatch"]
    assert [d.key for d in result.decisions] == ["fault_repair_limit"]


@pytest.mark.parametrize("starter, channel", [("manager", "on_behalf"), ("monitor", "self_found")])
def test_start_form_channels_reach_the_monitoring_centre(deployed, users, starter, channel):
    started = report(getattr(users, starter), channel=channel)
    assert started["state"] == "waiting"
    assert started["variables"]["channel"] == channel
    [task] = started["active_tasks"]
    assert task["title"] == "受理故障" and task["candidate_groups"] == ["monitoring_center"]
    assert task["form_key"] == "fault_acceptance"


def test_start_form_checks_its_fields(deployed, users):
    r = users.manager.post("/api/v1/process-instances", json={
        "process_key": "fault_dispatch", "variables": {**REPORT, "business_category": "fixed_voice_800"}})
    assert r.status_code == 422 and "customer_type_800" in r.json["error"]["details"]["fields"]
    r = users.manager.post("/api/v1/process-instances", json={
        "process_key": "fault_dispatch", "variables": {**REPORT, "customer_level": "vip", "channel": "hotline"}})
    assert r.status_code == 422
    assert {"customer_level", "channel"} <= set(r.json["error"]["details"]["fields"])
    assert users.repairer.post("/api/v1/process-instances", json={
        "process_key": "fault_dispatch", "variables": REPORT}).status_code == 403


def test_hotline_message_starts_a_fault(deployed, api, users):
    hotline = api("hotline_10009", ["operator"], tenant="telecom")
    payload = {k: v for k, v in REPORT.items() if k != "channel"}
    r = hotline.post("/api/v1/messages", json={
        "name": "fault_reported", "message_id": "10009-0001", "business_key": "FAULT-H1", "payload": payload})
    assert r.status_code == 200, r.json
    [iid] = r.json["started"]
    started = instance(users.monitor, iid)
    assert started["business_key"] == "FAULT-H1"
    assert started["variables"]["channel"] == "hotline"
    assert started["variables"]["circuit_id"] == REPORT["circuit_id"]
    assert list(open_tasks(users.monitor, iid)) == ["受理故障"]


# --- the repair limit table ---------------------------------------------------------------

@pytest.mark.parametrize("category, level, type_800, limit", [
    ("bandwidth", "group", "", "PT4H"),
    ("bandwidth", "provincial", "", "PT6H"),
    ("business_navigator_ict", "local_a", "", "PT8H"),
    ("business_navigator_ict", "local_c", "", "PT24H"),
    ("industry_application", "local_b", "", "P3D"),
    ("fixed_voice_vn", "group", "", "PT20H"),
    ("fixed_voice_vn", "provincial", "", "PT20H"),
    ("fixed_voice_vn", "local_a", "", "PT24H"),
    ("fixed_voice_vn", "local_b", "", "PT48H"),
    ("fixed_voice_vn", "local_c", "", "PT48H"),
    ("fixed_voice_800", "local_c", "industry_high_end", "PT12H"),
    ("fixed_voice_800", "group", "brand_enterprise", "PT24H"),
])
def test_repair_limit_comes_from_the_decision_table(deployed, users, category, level, type_800, limit):
    started = report(users.monitor, channel="self_found")
    accepted = accept(users, started["id"], business_category=category, customer_level=level,
                      customer_type_800=type_800)
    assert accepted["variables"]["repair_limit"] == limit
    assert accepted["variables"]["response"]
    assert list(open_tasks(users.monitor, started["id"])) == ["派单"]


def test_acceptance_can_correct_the_record_before_the_limit_is_decided(deployed, users):
    started = report(users.manager)  # reported as bandwidth / group
    accepted = accept(users, started["id"], business_category="fixed_voice_vn", customer_level="local_b")
    assert accepted["variables"]["repair_limit"] == "PT48H"


# --- escalations --------------------------------------------------------------------------

def test_dispatch_escalates_after_15_minutes_and_the_dispatch_stays_open(platform, clock, deployed, users):
    iid = report(users.manager)["id"]
    accept(users, iid)
    [task] = open_tasks(users.monitor, iid).values()
    assert task["title"] == "派单" and task["due_at"]
    assert advance(platform, clock, minutes=14) == 0
    assert list(open_tasks(users.monitor, iid)) == ["派单"]
    assert advance(platform, clock, minutes=2) == 1
    tasks = open_tasks(users.boss, iid)
    assert set(tasks) == {"派单", "派单超时督办"}
    assert tasks["派单超时督办"]["candidate_groups"] == ["supervisor"]
    assert advance(platform, clock, hours=1) == 0  # escalates once
    complete(users.boss, iid, "派单超时督办", {"supervision_note": "已电话催办监控中心"})
    dispatched = dispatch(users, iid)
    assert dispatched["variables"]["work_order"]["status"] in ("recorded", "sent")
    assert list(open_tasks(users.repairer, iid)) == ["一级接单"]


def test_first_level_accept_escalates_after_30_minutes(platform, clock, deployed, users):
    iid = report(users.manager)["id"]
    accept(users, iid)
    dispatch(users, iid)
    assert advance(platform, clock, minutes=29) == 0
    assert advance(platform, clock, minutes=2) == 1
    assert set(open_tasks(users.boss, iid)) == {"一级接单", "一级接单超时督办"}
    first_accept(users, iid)
    assert set(open_tasks(users.boss, iid)) == {"一级处理", "一级接单超时督办"}


@pytest.mark.parametrize("category, level, hours", [("bandwidth", "group", 4), ("fixed_voice_vn", "local_b", 48)])
def test_repair_escalates_after_the_limit_from_the_table(platform, clock, deployed, users, category, level, hours):
    iid = report(users.manager, business_category=category, customer_level=level)["id"]
    accept(users, iid, business_category=category, customer_level=level)
    dispatch(users, iid)
    first_accept(users, iid)
    assert advance(platform, clock, hours=hours, minutes=-1) == 0
    assert list(open_tasks(users.boss, iid)) == ["一级处理"]
    assert advance(platform, clock, minutes=2) == 1
    assert set(open_tasks(users.boss, iid)) == {"一级处理", "一级修复超时督办"}
    first_repair(users, iid, "repaired")
    assert set(open_tasks(users.boss, iid)) == {"一级修复超时督办", "恢复确认"}


def test_second_level_accept_and_repair_escalate(platform, clock, deployed, users):
    iid = report(users.manager)["id"]  # bandwidth, group: 4 hours
    to_first_repair(users, iid)
    first_repair(users, iid, "to_second_level")
    assert advance(platform, clock, minutes=29) == 0
    assert advance(platform, clock, minutes=2) == 1
    assert set(open_tasks(users.boss, iid)) == {"二级接单", "二级接单超时督办"}
    second_accept(users, iid)
    assert advance(platform, clock, hours=3, minutes=58) == 0
    assert advance(platform, clock, minutes=3) == 1
    assert set(open_tasks(users.boss, iid)) == {"二级处理", "二级修复超时督办", "二级接单超时督办"}


def test_restoration_confirmation_escalates_after_15_minutes(platform, clock, deployed, users):
    iid = report(users.manager)["id"]
    to_first_repair(users, iid)
    first_repair(users, iid, "repaired")
    assert advance(platform, clock, minutes=14) == 0
    assert advance(platform, clock, minutes=2) == 1
    assert set(open_tasks(users.boss, iid)) == {"恢复确认", "恢复确认超时督办"}
    confirm_restoration(users, iid)
    assert set(open_tasks(users.boss, iid)) == {"客户确认", "恢复确认超时督办"}


def test_work_done_in_time_never_escalates(platform, clock, deployed, users):
    iid = report(users.manager)["id"]  # bandwidth, group: 4 hours
    accept(users, iid)
    clock.advance(timedelta(minutes=10))
    dispatch(users, iid)
    clock.advance(timedelta(minutes=20))
    first_accept(users, iid)
    clock.advance(timedelta(hours=3))
    first_repair(users, iid, "to_second_level")
    clock.advance(timedelta(minutes=25))
    second_accept(users, iid)
    clock.advance(timedelta(hours=3))
    second_repair(users, iid, "repaired")
    clock.advance(timedelta(minutes=10))
    confirm_restoration(users, iid)
    assert advance(platform, clock, days=5) == 0
    assert list(open_tasks(users.boss, iid)) == ["客户确认"]


# --- two-level two-way dispatch, customer confirmation, completion ------------------------

def test_two_level_dispatch_goes_both_ways_more_than_once(deployed, users):
    iid = report(users.manager)["id"]
    to_first_repair(users, iid)
    for _ in range(2):
        first_repair(users, iid, "to_second_level")
        second_accept(users, iid)
        returned = second_repair(users, iid, "return_first_level")
        assert [t["title"] for t in returned["active_tasks"]] == ["一级处理"]
    first_repair(users, iid, "to_second_level")
    second_accept(users, iid)
    repaired = second_repair(users, iid, "repaired")
    assert [t["title"] for t in repaired["active_tasks"]] == ["恢复确认"]


def test_customer_not_restored_goes_back_to_repair(deployed, users):
    iid = report(users.manager)["id"]
    to_first_repair(users, iid)
    first_repair(users, iid, "repaired")
    confirm_restoration(users, iid)
    again = customer_answers(users.manager, iid, "not_restored")
    assert [t["title"] for t in again["active_tasks"]] == ["一级处理"]
    first_repair(users, iid, "repaired")
    confirm_restoration(users, iid)
    done = customer_answers(users.manager, iid, "restored")
    assert done["state"] == "completed"


def test_happy_path_closes_the_fault_and_tells_the_customer(deployed, users):
    started = report(users.manager)
    iid = started["id"]
    accept(users, iid)
    dispatched = dispatch(users, iid)
    assert dispatched["variables"]["work_order"]["status"] in ("recorded", "sent")
    first_accept(users, iid)
    first_repair(users, iid, "repaired")
    confirmed = confirm_restoration(users, iid)
    [task] = confirmed["active_tasks"]
    assert task["title"] == "客户确认" and task["candidate_groups"] == ["customer_manager", "operator"]
    done = customer_answers(users.manager, iid, "restored")
    assert done["state"] == "completed" and done["active_tasks"] == []
    variables = done["variables"]
    assert variables["fault_status"] == "closed" and variables["closed_at"]
    assert variables["sms_result"]["status"] in ("recorded", "sent")
    assert variables["channel"] == "on_behalf" and variables["repair_limit"] == "PT4H"


def test_the_operator_of_the_tenant_confirms_for_the_customer(deployed, api, users):
    telecom = api("ct_ops", ["operator"], tenant="telecom")
    unicom = api("cu_ops", ["operator"], tenant="unicom")
    iid = report(users.manager, tenant="telecom")["id"]
    to_first_repair(users, iid)
    first_repair(users, iid, "repaired")
    confirm_restoration(users, iid)
    assert unicom.get(f"/api/v1/process-instances/{iid}").status_code == 404
    done = customer_answers(telecom, iid, "restored")
    assert done["state"] == "completed"

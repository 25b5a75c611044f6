# ruff: noqa: F811  (the Flow 1 fixtures imported below are parameters of the tests)
"""How the shipped flows end (docs/bpmn.md, "How an instance ends"): an operator's 需求取消 and a
cancelled order end Flow 1 ``cancelled`` with the reason typed, the demand row cancelled; Flow 2
stopped inside Flow 1 does not cancel Flow 1 (the demand ends unplannable); the operator finds
its cancelled demands with the state filter, and the dashboard counts them apart."""

from __future__ import annotations

import re

from helpers import instance
from test_flow_tower_order import (  # the Flow 1 fixtures and steps
    ORDER,
    complete,
    deployed,  # noqa: F401 (a fixture)
    failed_screening,
    open_elements,
    people,  # noqa: F401 (a fixture)
    status,
    submitted,
    to_order,
)

from engine.principal import Principal
from engine.queries import stats

SUPERVISOR = Principal("zhou", frozenset({"supervisor"}))


def cancel(people, no: str, reason: str, message_id: str) -> None:
    r = people.operator.post(f"/api/v1/demands/{no}/cancel", json={"reason": reason, "message_id": message_id})
    assert r.status_code == 200, r.json


def listed(user, **query) -> list[int]:
    r = user.get("/api/v1/process-instances", query_string={"process_key": "tower_order", **query})
    assert r.status_code == 200, r.json
    return [item["id"] for item in r.json["items"]]


def test_an_operator_cancel_ends_flow_1_cancelled_with_the_reason_and_the_demand_cancelled(deployed, people):
    iid = submitted(people, "XQ-001")
    cancel(people, "XQ-001", "站址规划调整，项目取消", "c-1")
    ended = instance(people.operator, iid)
    assert (ended["state"], ended["end_reason"]) == ("cancelled", "站址规划调整，项目取消")
    assert ended["ended_at"] is not None and ended["active_tasks"] == []
    assert status(people, "XQ-001") == "cancelled"
    history = people.supervisor.get(f"/api/v1/process-instances/{iid}/history").json["items"]
    [end] = [e for e in history if e["action"] in ("instance.completed", "instance.cancelled")]
    assert (end["action"], end["element_id"], end["data"]["reason"]) == (
        "instance.cancelled", "end_cancelled", "站址规划调整，项目取消")


def test_the_operator_lists_its_cancelled_demands_apart_from_the_running_and_the_ended(deployed, people):
    cancelled = submitted(people, "XQ-001")
    cancel(people, "XQ-001", "项目取消", "c-2")
    running = submitted(people, "XQ-002")
    returned = submitted(people, "XQ-003")
    complete(people.operator, people, returned, "confirm_demand", confirmed=False, confirm_comment="坐标有误")
    assert listed(people.operator, state="cancelled") == [cancelled]
    assert listed(people.operator, state="completed") == [returned]
    assert listed(people.operator, state="waiting") == [running]
    assert listed(people.other_operator, state="cancelled") == []  # another tenant sees none of them
    assert instance(people.supervisor, returned)["end_reason"] == "运营商退回需求"


def test_a_cancelled_order_ends_flow_1_cancelled_through_the_shared_end(deployed, people):
    iid = to_order(people)
    complete(people.manager, people, iid, "compile_order", **ORDER, order_action="cancel", order_note="预算取消")
    ended = instance(people.supervisor, iid)
    assert (ended["state"], ended["end_reason"]) == ("cancelled", "订单取消：预算取消")
    assert status(people, "XQ-001") == "cancelled"


def test_flow_2_called_off_inside_flow_1_ends_only_the_negotiation(deployed, people, api):
    """The called process reaches its own cancel end (谈址已取消); Flow 1 goes on to its failure path
    and ends completed with the demand unplannable: a call activity never cancels its caller."""
    iid = failed_screening(people)
    assert open_elements(people, iid) == ["report"]  # Flow 2 runs inside Flow 1
    r = api("root", ["admin"]).post("/api/v1/messages", json={
        "name": "negotiation_cancel", "message_id": "nc-1", "business_key": "XQ-001",
        "payload": {"cancel_reason": "谈址暂停"}})
    assert r.status_code == 200 and r.json["delivered_to"] == [iid], r.json
    ended = instance(people.supervisor, iid)
    assert ended["state"] == "completed" and ended["active_tasks"] == []
    assert ended["end_reason"].startswith("选址谈判失败")
    assert status(people, "XQ-001") == "unplannable"


def test_the_dashboard_counts_cancelled_demands_apart_from_delivered_ones(deployed, people, platform):
    cancelled = submitted(people, "XQ-001")
    cancel(people, "XQ-001", "项目取消", "c-3")
    returned = submitted(people, "XQ-002")
    complete(people.operator, people, returned, "confirm_demand", confirmed=False, confirm_comment="重复需求")
    submitted(people, "XQ-003")
    with platform.Session() as session:
        [row] = [r for r in stats.dashboard(session, SUPERVISOR, platform.clock.now())["ended_instances"]
                 if r["process_key"] == "tower_order"]
    assert (row["completed"], row["cancelled"], row["terminated"], row["total"]) == (1, 1, 0, 2)
    assert instance(people.supervisor, cancelled)["state"] == "cancelled"


def page_client(app, platform, username: str, groups: list[str], tenant: str | None = None):
    """A browser-like client signed in on the Chinese pages."""
    from engine import identity

    with platform.transaction() as session:
        identity.add_user(session, username, "password123", groups, tenant)
    client = app.test_client()
    client.get("/lang/zh")
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', login)[1]
    r = client.post("/login", data={"username": username, "password": "password123", "csrf_token": token})
    assert r.status_code == 302
    return client


def test_the_dashboard_page_shows_cancelled_demands_in_their_own_column(deployed, people, app, platform):
    submitted(people, "XQ-001")
    cancel(people, "XQ-001", "项目取消", "c-4")
    html = page_client(app, platform, "jian", ["supervisor"]).get("/dashboard").get_data(as_text=True)
    row = re.search(r'<tr data-process="tower_order">(.*?)</tr>', html, re.S)[1]
    assert "铁塔需求立项" in row and "tower_order" not in row
    counts = dict(re.findall(r'data-state="(\w+)">(\d+)<', row))
    assert counts == {"completed": "0", "cancelled": "1", "terminated": "0"}
    assert "已取消" in html and "完成用时中位数" in html


def test_the_instance_pages_show_a_cancelled_demand_as_cancelled_with_its_reason(deployed, people, app, platform):
    cancelled = submitted(people, "XQ-001")
    cancel(people, "XQ-001", "运营商调整建设计划", "c-5")
    waiting = submitted(people, "XQ-002")
    for client in (page_client(app, platform, "jian", ["supervisor"]),
                   page_client(app, platform, "cmcc_li", ["operator"], tenant="china_mobile")):
        listed = client.get("/instances?state=cancelled").get_data(as_text=True)
        assert f"/instances/{cancelled}" in listed and f"/instances/{waiting}" not in listed
        assert re.search(r'data-state="cancelled">已取消<', listed)
        assert re.search(r'<option value="cancelled"[^>]*>已取消</option>', listed)
        shown = client.get(f"/instances/{cancelled}").get_data(as_text=True)
        assert re.search(r'data-state="cancelled">已取消<', shown)
        assert re.search(r'data-testid="end-reason">运营商调整建设计划<', shown)
        assert "实例已取消" in shown  # the audit event, in words

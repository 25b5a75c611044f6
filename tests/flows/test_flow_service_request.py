"""Flow 5, customer service requests (客户需求申请-受理-反馈, processes/service_request.bpmn),
driven through the REST API: every request kind to its step, acceptance and approval both
ways, the customer's confirmation both ways, the complaint review, the customer's
notifications and the tenant isolation of the confirmation task."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import instance, start
from lxml import etree

from engine.definitions import deployments
from engine.principal import SYSTEM

PROCESSES = Path(__file__).parents[2] / "processes"
BPMN = PROCESSES / "service_request.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
REQUEST = {
    "customer_name": "杭州市数据资源局", "contact_name": "陈女士", "contact_phone": "13905710001",
    "description": "机房新增一条互联网专线", "expected_date": "2026-12-15", "product": "互联网专线 100M",
}
# kind: (needs approval, system order variable, order kind / action, handling task, its group)
ROUTES = {
    "new_install": (False, "work_order", "installation", "需求处理", "customer_manager"),
    "product_change": (True, "activation", "change_product", "需求处理", "customer_manager"),
    "reserved_cancel": (True, "activation", "reserve_cancellation", "需求处理", "customer_manager"),
    "formal_cancel": (True, "work_order", "dismantle", "需求处理", "customer_manager"),
    "terminal_repair": (False, "work_order", "terminal_repair", "需求处理", "customer_manager"),
    "fault_report": (False, None, "", "监控中心处理报障", "monitoring_center"),
    "consultation": (False, None, "", "需求处理", "customer_manager"),
    "complaint": (False, None, "", "需求处理", "customer_manager"),
}


@pytest.fixture
def deployed(platform):
    return deployments.deploy(platform, SYSTEM, {BPMN.name: BPMN.read_bytes()})


@pytest.fixture
def users(api):
    class Users:
        customer = api("cmcc_chen", ["operator"], tenant="cmcc")
        other_customer = api("cu_wang", ["operator"], tenant="unicom")
        manager = api("qian_cm", ["customer_manager"])
        director = api("li_dir", ["city_director"])
        monitor = api("sun_mc", ["monitoring_center"])
        boss = api("zhou_sv", ["supervisor"])
    return Users


# --- helpers -----------------------------------------------------------------------------

def file_request(user, kind: str, business_key: str = "SR-1", tenant: str | None = None, **changes) -> dict:
    return start(user, "service_request", business_key, tenant=tenant, **{**REQUEST, "request_kind": kind, **changes})


def open_tasks(user, instance_id: int) -> dict[str, dict]:
    return {t["title"]: t for t in instance(user, instance_id)["active_tasks"]}


def complete(user, instance_id: int, title: str, data: dict) -> dict:
    tasks = open_tasks(user, instance_id)
    assert title in tasks, sorted(tasks)
    r = user.post(f"/api/v1/tasks/{tasks[title]['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return r.json


def accept(users, iid: int) -> dict:
    return complete(users.manager, iid, "需求受理", {"accept_decision": "accept", "acceptance_note": "已受理"})


def handle(user, iid: int, title: str = "需求处理") -> dict:
    return complete(user, iid, title, {"handling_result": "已处理完毕", "reference_no": "WO-1"})


def confirm(user, iid: int, answer: str, feedback: str = "") -> dict:
    return complete(user, iid, "客户确认", {"customer_answer": answer, "customer_feedback": feedback, "rating": 5})


def review(users, iid: int) -> dict:
    return complete(users.boss, iid, "投诉复核", {"review_conclusion": "upheld", "review_comment": "加强回访"})


def notices(users, iid: int) -> list[str]:
    """The events the customer was told, oldest first (from the outbox)."""
    r = users.boss.get(f"/api/v1/outbox?process_instance_id={iid}&system=operator_platform&page_size=100")
    assert r.status_code == 200, r.json
    return [item["payload"]["params"]["event"] for item in reversed(r.json["items"])]


def outbox(users, iid: int, system: str) -> list[dict]:
    r = users.boss.get(f"/api/v1/outbox?process_instance_id={iid}&system={system}")
    assert r.status_code == 200, r.json
    return r.json["items"]


def steps(variables: dict) -> list[tuple[str, str]]:
    return [(p["step"], p["by"]) for p in variables["progress"]]


# --- the diagram -------------------------------------------------------------------------

def test_the_diagram_lints_clean(platform):
    result = deployments.lint(platform, {BPMN.name: BPMN.read_bytes()})
    assert result.problems == []
    assert [p.key for p in result.processes] == ["service_request"]


def test_every_element_is_drawn_without_overlaps():
    root = etree.parse(str(BPMN)).getroot()
    process = root.find("bpmn:process", NS)
    lanes = {lane.get("name") for lane in process.iterfind(".//bpmn:lane", NS)}
    assert lanes == {"operator", "customer_manager", "monitoring_center", "city_director", "supervisor"}
    nodes = {el.get("id") for el in process if el.get("id") and not el.tag.endswith(("laneSet", "sequenceFlow"))}
    flows = {el.get("id") for el in process.iterfind("bpmn:sequenceFlow", NS)}
    shapes = {s.get("bpmnElement"): s.find("dc:Bounds", NS) for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e.findall("di:waypoint", NS) for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    assert nodes <= set(shapes) and flows == set(edges)
    boxes = {n: tuple(float(shapes[n].get(k)) for k in ("x", "y", "width", "height")) for n in nodes}
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (ax, ay, aw, ah), (bx, by, bw, bh) = boxes[a], boxes[b]
            assert not (ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah), (a, b)
    for flow, points in edges.items():
        assert len(points) >= 2, flow


# --- the eight kinds ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(ROUTES))
def test_each_kind_reaches_its_step_and_closes(deployed, users, kind):
    needs_approval, order_var, order_kind, handling, group = ROUTES[kind]
    started = file_request(users.customer, kind)
    iid = started["id"]
    assert started["tenant"] == "cmcc" and started["variables"]["request_status"] == "submitted"
    [task] = started["active_tasks"]
    assert task["title"] == "需求受理" and task["candidate_groups"] == ["customer_manager"]

    after = accept(users, iid)
    if needs_approval:
        [task] = after["active_tasks"]
        assert task["title"] == "需求审批" and task["candidate_groups"] == ["city_director"]
        assert order_var not in after["variables"]  # nothing goes to EOMS/BOSS before approval
        after = complete(users.director, iid, "需求审批", {"approved": True, "approval_comment": "同意"})
    [task] = after["active_tasks"]
    assert task["title"] == handling and task["candidate_groups"] == [group]
    variables = after["variables"]
    assert variables["request_status"] == "in_progress" and variables["handled_by"] == group
    assert variables["needs_approval"] is needs_approval

    for var, system, operation in (("work_order", "eoms", "create_work_order"), ("activation", "boss", "activate")):
        if var == order_var:
            assert variables[var]["status"] == "recorded"
            [call] = outbox(users, iid, system)
            assert call["operation"] == operation and call["business_key"] == "SR-1"
            params = call["payload"]["params"]
            if system == "eoms":
                assert params["kind"] == order_kind and params["data"]["customer_name"] == REQUEST["customer_name"]
            else:
                assert params["product"] == REQUEST["product"] and params["data"]["action"] == order_kind
        else:
            assert var not in variables and outbox(users, iid, system) == []

    handled = handle(users.monitor if group == "monitoring_center" else users.manager, iid, handling)
    [task] = handled["active_tasks"]
    assert task["title"] == "客户确认" and task["candidate_groups"] == ["operator"] and task["tenant"] == "cmcc"
    assert handled["variables"]["request_status"] == "done"

    confirmed = confirm(users.customer, iid, "satisfied")
    if kind == "complaint":
        [task] = confirmed["active_tasks"]
        assert task["title"] == "投诉复核" and task["candidate_groups"] == ["supervisor"]
        assert confirmed["state"] == "waiting" and confirmed["variables"]["request_status"] == "confirmed"
        confirmed = review(users, iid)
    assert confirmed["state"] == "completed" and confirmed["active_tasks"] == []
    variables = confirmed["variables"]
    assert variables["request_status"] == "closed" and variables["closed_at"]
    expected = [("submitted", "operator"), ("accepted", "customer_manager")]
    expected += [("approved", "city_director")] if needs_approval else []
    expected += [("in_progress", group), ("done", group), ("confirmed", "operator")]
    expected += [("reviewed", "supervisor")] if kind == "complaint" else []
    expected += [("closed", "customer_manager")]
    assert steps(variables) == expected
    assert all(p["at"] for p in variables["progress"])
    assert notices(users, iid) == ["accepted", "in_progress", "done", "closed"]


# --- acceptance and approval -------------------------------------------------------------

def test_manager_rejects_at_acceptance(deployed, users):
    iid = file_request(users.customer, "new_install")["id"]
    bad = users.manager.post(f"/api/v1/tasks/{open_tasks(users.manager, iid)['需求受理']['id']}/complete",
                             json={"data": {"accept_decision": "reject"}})
    assert bad.status_code == 422 and "acceptance_note" in bad.json["error"]["details"]["fields"]
    done = complete(users.manager, iid, "需求受理", {"accept_decision": "reject", "acceptance_note": "重复申请"})
    assert done["state"] == "completed" and done["active_tasks"] == []
    variables = done["variables"]
    assert variables["request_status"] == "rejected" and variables["reject_reason"] == "重复申请"
    assert "closed_at" not in variables and "work_order" not in variables
    assert steps(variables) == [("submitted", "operator"), ("rejected", "customer_manager")]
    assert notices(users, iid) == ["rejected"]
    [notice] = outbox(users, iid, "operator_platform")
    assert notice["tenant"] == "cmcc" and notice["payload"]["params"]["data"]["reason"] == "重复申请"


def test_director_rejects_a_cancellation(deployed, users):
    iid = file_request(users.customer, "formal_cancel")["id"]
    accept(users, iid)
    bad = users.director.post(f"/api/v1/tasks/{open_tasks(users.director, iid)['需求审批']['id']}/complete",
                              json={"data": {"approved": False}})
    assert bad.status_code == 422
    done = complete(users.director, iid, "需求审批", {"approved": False, "approval_comment": "合同未到期，不同意销户"})
    assert done["state"] == "completed"
    variables = done["variables"]
    assert variables["request_status"] == "rejected" and variables["reject_reason"] == "合同未到期，不同意销户"
    assert "work_order" not in variables and outbox(users, iid, "eoms") == []
    assert steps(variables) == [("submitted", "operator"), ("accepted", "customer_manager"),
                                ("rejected", "city_director")]
    assert notices(users, iid) == ["accepted", "rejected"]


def test_rejected_complaint_still_ends_with_the_supervisor_review(deployed, users):
    iid = file_request(users.customer, "complaint", description="装机人员态度差")["id"]
    after = complete(users.manager, iid, "需求受理", {"accept_decision": "reject", "acceptance_note": "非本公司业务"})
    [task] = after["active_tasks"]
    assert task["title"] == "投诉复核" and after["variables"]["request_status"] == "rejected"
    done = review(users, iid)
    assert done["state"] == "completed" and done["variables"]["request_status"] == "rejected"
    assert steps(done["variables"])[-1] == ("reviewed", "supervisor")
    assert done["variables"]["review_conclusion"] == "upheld"
    assert notices(users, iid) == ["rejected"]


# --- the customer's confirmation ---------------------------------------------------------

def test_unsatisfied_customer_sends_it_back_to_handling(deployed, users):
    iid = file_request(users.customer, "terminal_repair")["id"]
    accept(users, iid)
    handle(users.manager, iid)
    bad = users.customer.post(f"/api/v1/tasks/{open_tasks(users.customer, iid)['客户确认']['id']}/complete",
                              json={"data": {"customer_answer": "unsatisfied"}})
    assert bad.status_code == 422 and "customer_feedback" in bad.json["error"]["details"]["fields"]
    back = confirm(users.customer, iid, "unsatisfied", "终端仍无法开机")
    [task] = back["active_tasks"]
    assert task["title"] == "需求处理" and task["candidate_groups"] == ["customer_manager"]
    assert back["variables"]["request_status"] == "reopened" and back["variables"]["reopen_count"] == 1
    assert len(outbox(users, iid, "eoms")) == 1  # no second work order

    handle(users.manager, iid)
    confirm(users.customer, iid, "unsatisfied", "还是不行")
    handle(users.manager, iid)
    done = confirm(users.customer, iid, "satisfied")
    assert done["state"] == "completed" and done["variables"]["reopen_count"] == 2
    assert [s for s, _ in steps(done["variables"])] == [
        "submitted", "accepted", "in_progress", "done", "reopened", "done", "reopened", "done", "confirmed", "closed"]
    assert notices(users, iid) == ["accepted", "in_progress", "done", "reopened", "done", "reopened", "done", "closed"]
    reopened = [i for i in outbox(users, iid, "operator_platform") if i["payload"]["params"]["event"] == "reopened"]
    assert [i["payload"]["params"]["data"]["feedback"] for i in reopened] == ["还是不行", "终端仍无法开机"]


def test_fault_report_back_from_the_customer_goes_to_the_monitoring_centre_again(deployed, users):
    iid = file_request(users.customer, "fault_report", description="专线中断")["id"]
    accept(users, iid)
    handle(users.monitor, iid, "监控中心处理报障")
    back = confirm(users.customer, iid, "unsatisfied", "仍然中断")
    [task] = back["active_tasks"]
    assert task["title"] == "监控中心处理报障" and task["candidate_groups"] == ["monitoring_center"]
    assert task["priority"] == 80


# --- tenants, starters and forms ---------------------------------------------------------

def test_confirmation_is_only_for_the_requesting_customer(deployed, users):
    iid = file_request(users.customer, "consultation")["id"]
    accept(users, iid)
    handle(users.manager, iid)
    task = open_tasks(users.customer, iid)["客户确认"]

    other = users.other_customer
    assert other.get(f"/api/v1/process-instances/{iid}").status_code == 404
    assert other.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert task["id"] not in [t["id"] for t in other.get("/api/v1/tasks").json["items"]]
    assert other.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 404
    assert other.post(f"/api/v1/tasks/{task['id']}/complete",
                      json={"data": {"customer_answer": "satisfied"}}).status_code == 404
    r = users.boss.get(f"/api/v1/outbox?process_instance_id={iid}")
    assert r.json["total"] > 0
    assert other.get(f"/api/v1/outbox?process_instance_id={iid}").json["total"] == 0
    assert users.customer.get(f"/api/v1/outbox?process_instance_id={iid}").json["total"] == r.json["total"]
    # staff are not the customer: the manager cannot confirm its own work
    assert users.manager.post(f"/api/v1/tasks/{task['id']}/complete",
                              json={"data": {"customer_answer": "satisfied"}}).status_code == 403

    inbox = users.customer.get("/api/v1/tasks").json["items"]
    assert task["id"] in [t["id"] for t in inbox]
    assert confirm(users.customer, iid, "satisfied")["state"] == "completed"


def test_customer_manager_files_for_the_customer_in_its_tenant(deployed, users):
    started = file_request(users.manager, "new_install", tenant="cmcc", channel="customer_manager")
    assert started["tenant"] == "cmcc"
    assert steps(started["variables"]) == [("submitted", "customer_manager")]
    iid = started["id"]
    accept(users, iid)
    handle(users.manager, iid)
    assert users.other_customer.get(f"/api/v1/process-instances/{iid}").status_code == 404
    assert confirm(users.customer, iid, "satisfied")["state"] == "completed"
    assert {i["tenant"] for i in outbox(users, iid, "operator_platform")} == {"cmcc"}
    history = users.customer.get(f"/api/v1/process-instances/{iid}/history?page_size=500").json["items"]
    done_by = {e["element_id"]: e["actor"] for e in history if e["action"] == "task.completed"}
    assert done_by == {"confirm": "cmcc_chen"}  # the customer's history: its own steps (docs/bpmn.md)
    history = users.boss.get(f"/api/v1/process-instances/{iid}/history?page_size=500").json["items"]
    done_by = {e["element_id"]: e["actor"] for e in history if e["action"] == "task.completed"}
    assert done_by == {"accept": "qian_cm", "handle": "qian_cm", "confirm": "cmcc_chen"}


def test_operator_cannot_file_for_another_tenant(deployed, users):
    r = users.customer.post("/api/v1/process-instances", json={
        "process_key": "service_request", "tenant": "unicom", "variables": {**REQUEST, "request_kind": "consultation"}})
    assert r.status_code == 403


def test_start_form_and_starters_are_checked(deployed, users):
    bad = users.customer.post("/api/v1/process-instances", json={
        "process_key": "service_request",
        "variables": {"request_kind": "upgrade", "customer_name": "", "contact_phone": "abc"}})
    assert bad.status_code == 422
    assert {"request_kind", "customer_name", "contact_name", "contact_phone", "description"} <= set(
        bad.json["error"]["details"]["fields"])
    no_product = users.customer.post("/api/v1/process-instances", json={
        "process_key": "service_request", "variables": {**REQUEST, "request_kind": "product_change", "product": ""}})
    assert no_product.status_code == 422 and "product" in no_product.json["error"]["details"]["fields"]
    for outsider in (users.director, users.monitor, users.boss):
        r = outsider.post("/api/v1/process-instances", json={
            "process_key": "service_request", "variables": {**REQUEST, "request_kind": "consultation"}})
        assert r.status_code == 403


def test_task_forms_describe_their_fields(deployed, users):
    iid = file_request(users.customer, "complaint")["id"]
    task = open_tasks(users.manager, iid)["需求受理"]
    r = users.manager.get(f"/api/v1/tasks/{task['id']}")
    assert r.status_code == 200
    fields = {f["name"]: f for f in r.json["form"]}
    assert fields["accept_decision"]["choices"] == ["accept", "reject"]
    assert fields["accept_decision"]["choice_labels"]["reject"]["zh"] == "退回"
    assert r.json["variables"]["request_kind"] == "complaint"

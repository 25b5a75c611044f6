"""Flow 6, group product order (集团产品订购, processes/group_product_order.bpmn), driven through
the REST API: simple and complex products, EOMS's resource answer as the message
``resource_confirmed`` (resource available or not), the solution rejected then accepted, the
activation work orders recorded in the outbox strictly in their order, and the completion
notice by SMS or by e-mail."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import instance, set_settings

from engine.definitions import deployments
from engine.principal import SYSTEM
from engine.runtime import jobs

PROCESSES = Path(__file__).parents[2] / "processes"
SIMPLE = {"customer_name": "杭州市教育局", "product": "group_sms", "channel": "customer_manager",
          "contact_name": "周老师", "contact_phone": "13800001111"}
COMPLEX = {"customer_name": "浙江某银行杭州分行", "customer_level": "provincial", "product": "internet_dedicated_line",
           "channel": "hotline", "address": "杭州市西湖区文三路 100 号", "bandwidth_mbps": 200,
           "demand_description": "新开 200M 互联网专线"}
SMS_ACCEPT = {"complexity": "simple", "notify_channel": "sms", "manager_phone": "13900000001"}
EMAIL_ACCEPT = {"complexity": "complex", "notify_channel": "email", "manager_email": "qian@example.cn"}
CONTRACT = {"contract_no": "HT-2026-0188", "contract_amount": 36000, "contract_months": 24, "signed_on": "2026-11-20"}

ACTIVATION_ORDER = [
    ("eoms", "create_work_order", "activation"),
    ("boss", "activate", "service_activation"),
    ("boss", "activate", "product_subscription"),
]


@pytest.fixture
def deployed(platform):
    name = "group_product_order.bpmn"
    return deployments.deploy(platform, SYSTEM, {name: (PROCESSES / name).read_bytes()})


@pytest.fixture
def users(api):
    class Users:
        manager = api("qian_cm", ["customer_manager"])
        eoms = api("eoms_gateway", ["clerk"])  # the account EOMS calls back with
        supervisor = api("zhou_sv", ["supervisor"])
        planner = api("sun_pl", ["planning"])

    return Users


@pytest.fixture(autouse=True)
def record_only(monkeypatch):
    for name in ("TOWERFLOW_EOMS_URL", "TOWERFLOW_BOSS_URL", "TOWERFLOW_SMS_URL", "TOWERFLOW_OPERATOR_PLATFORM_URL"):
        monkeypatch.delenv(name, raising=False)


def start(user, business_key: str, **variables) -> dict:
    r = user.post("/api/v1/process-instances", json={
        "process_key": "group_product_order", "business_key": business_key, "variables": variables})
    assert r.status_code == 201, r.json
    return r.json


def open_tasks(user, iid: int) -> list[str]:
    return [t["element_id"] for t in instance(user, iid)["active_tasks"]]


def complete(user, iid: int, element_id: str, expect: int = 200, **data) -> dict:
    [task] = [t for t in instance(user, iid)["active_tasks"] if t["element_id"] == element_id]
    r = user.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == expect, r.json
    return r.json


def answer_resource(user, business_key: str, message_id: str, available: bool, note: str = "") -> dict:
    r = user.post("/api/v1/messages", json={
        "name": "resource_confirmed", "message_id": message_id, "business_key": business_key,
        "payload": {"available": available, "note": note}})
    assert r.status_code == 200, r.json
    return r.json


def outbox(user, iid: int) -> list[dict]:
    """The instance's outbox rows, oldest first (the API lists newest first)."""
    r = user.get(f"/api/v1/outbox?process_instance_id={iid}&page_size=100")
    assert r.status_code == 200, r.json
    return list(reversed(r.json["items"]))


def calls(rows: list[dict]) -> list[tuple]:
    """(system, operation, kind or step) of each row."""
    out = []
    for row in rows:
        params = row["payload"]["params"]
        data = params.get("data") or {}
        out.append((row["system"], row["operation"], params.get("kind") or data.get("step") or params.get("event")))
    return out


def run_due(platform) -> int:
    ran = 0
    while (n := jobs.run_due_jobs(platform)) > 0:
        ran += n
    return ran


def through_resource(users, business_key: str, accept: dict | None = None) -> int:
    """A complex order up to a confirmed resource: start, accept, EOMS answers 'available'."""
    iid = start(users.manager, business_key, **COMPLEX)["id"]
    complete(users.manager, iid, "accept_opportunity", **(accept or EMAIL_ACCEPT))
    answer_resource(users.eoms, business_key, f"eoms-{business_key}", True, "文三路机房有端口")
    assert open_tasks(users.manager, iid) == ["tariff_confirm"]
    return iid


# --- simple product: straight to the contract -------------------------------------------------------

def test_simple_product_goes_straight_to_contract_activates_in_order_and_sends_an_sms(deployed, users):
    started = start(users.manager, "SJ-2026-0001", **SIMPLE)
    assert started["variables"]["complexity"] == "simple"  # from the product catalogue
    [task] = started["active_tasks"]
    assert task["title"] == "商机受理" and task["candidate_groups"] == ["customer_manager"]
    assert task["form_key"] == "opportunity_accept"

    complete(users.manager, started["id"], "accept_opportunity", **SMS_ACCEPT)
    assert open_tasks(users.manager, started["id"]) == ["contract_sign"]
    assert outbox(users.supervisor, started["id"]) == []  # no resource work order for a simple product

    done = complete(users.manager, started["id"], "contract_sign", **CONTRACT)
    assert done["state"] == "completed", done
    variables = done["variables"]
    assert variables["order_status"] == "completed" and variables["completed_at"]
    assert variables["notice_result"]["status"] == "recorded"
    assert "resource_answer" not in variables and "monthly_fee" not in variables

    rows = outbox(users.supervisor, started["id"])
    assert calls(rows) == ACTIVATION_ORDER + [("sms", "send", None)]
    eoms, boss, subscription, sms = (row["payload"]["params"] for row in rows)
    assert eoms["business_key"] == "SJ-2026-0001" and eoms["data"]["contract_no"] == "HT-2026-0188"
    assert [p["data"]["seq"] for p in (eoms, boss, subscription)] == [1, 2, 3]
    assert boss["product"] == subscription["product"] == "group_sms"
    assert sms["to"] == "13900000001"
    assert "杭州市教育局" in sms["text"] and "HT-2026-0188" in sms["text"]
    assert "集团短信" in sms["text"] and "group_sms" not in sms["text"]  # the product in words
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)


def test_manager_may_treat_a_catalogue_simple_product_as_complex(deployed, users):
    iid = start(users.manager, "SJ-2026-0002", **SIMPLE)["id"]
    complete(users.manager, iid, "accept_opportunity", **{**SMS_ACCEPT, "complexity": "complex"})
    assert open_tasks(users.manager, iid) == []
    assert calls(outbox(users.supervisor, iid)) == [("eoms", "create_work_order", "resource_confirmation")]


# --- complex product: resource, tariff, solution ------------------------------------------------------

def test_complex_product_with_solution_reworked_then_accepted_and_an_email_notice(deployed, users):
    started = start(users.manager, "SJ-2026-0100", **COMPLEX)
    assert started["variables"]["complexity"] == "complex"  # a dedicated line
    iid = started["id"]
    waiting = complete(users.manager, iid, "accept_opportunity", **EMAIL_ACCEPT)
    assert waiting["state"] == "waiting" and waiting["active_tasks"] == []
    [resource] = outbox(users.supervisor, iid)
    assert calls([resource]) == [("eoms", "create_work_order", "resource_confirmation")]
    params = resource["payload"]["params"]
    assert params["business_key"] == "SJ-2026-0100"
    assert params["data"] == {"customer": "浙江某银行杭州分行", "product": "internet_dedicated_line",
                              "address": "杭州市西湖区文三路 100 号", "bandwidth_mbps": 200}

    answered = answer_resource(users.eoms, "SJ-2026-0100", "eoms-rc-100", True, "文三路机房有端口")
    assert answered["delivered_to"] == [iid]
    variables = instance(users.manager, iid)["variables"]
    assert variables["resource_available"] is True and variables["resource_note"] == "文三路机房有端口"
    assert variables["order_status"] == "resource_confirmed"
    assert open_tasks(users.manager, iid) == ["tariff_confirm"]

    complete(users.manager, iid, "tariff_confirm", monthly_fee=3000, one_time_fee=2000, discount_percent=85)
    complete(users.manager, iid, "solution_design", solution="双路由接入，200M 对称带宽")
    complete(users.manager, iid, "solution_confirm", expect=422, solution_accepted=False)  # why not?
    complete(users.manager, iid, "solution_confirm", solution_accepted=False, customer_feedback="需要双机房备份")
    assert open_tasks(users.manager, iid) == ["solution_design"]  # back to the solution
    complete(users.manager, iid, "solution_design", solution="双机房双路由接入，200M 对称带宽")
    complete(users.manager, iid, "solution_confirm", solution_accepted=True, customer_feedback="同意")
    assert open_tasks(users.manager, iid) == ["contract_sign"]
    assert calls(outbox(users.supervisor, iid)) == [("eoms", "create_work_order", "resource_confirmation")]

    done = complete(users.manager, iid, "contract_sign", **CONTRACT)
    assert done["state"] == "completed", done
    variables = done["variables"]
    assert variables["solution"] == "双机房双路由接入，200M 对称带宽" and variables["monthly_fee"] == 3000
    assert variables["order_status"] == "completed"
    rows = outbox(users.supervisor, iid)
    assert calls(rows) == ([("eoms", "create_work_order", "resource_confirmation")] + ACTIVATION_ORDER
                           + [("operator_platform", "notify", "email")])
    email = rows[-1]["payload"]["params"]["data"]
    assert email["to"] == "qian@example.cn" and email["subject"] == "集团产品订购竣工通知"
    assert "HT-2026-0188" in email["text"]
    assert not any(row["system"] == "sms" for row in rows)


def test_no_resource_ends_with_a_notice_to_the_customer_manager(deployed, users):
    iid = start(users.manager, "SJ-2026-0200", **COMPLEX)["id"]
    complete(users.manager, iid, "accept_opportunity", **SMS_ACCEPT | {"complexity": "complex"})
    answer_resource(users.eoms, "SJ-2026-0200", "eoms-rc-200", False, "光缆未到达，需新建")
    waiting = instance(users.manager, iid)
    assert waiting["variables"]["resource_available"] is False
    assert waiting["variables"]["order_status"] == "no_resource"
    inbox = [t for t in users.manager.get("/api/v1/tasks").json["items"] if t["process_instance_id"] == iid]
    assert [t["title"] for t in inbox] == ["通知无资源"] and inbox[0]["candidate_groups"] == ["customer_manager"]
    assert users.planner.get("/api/v1/tasks").json["items"] == []

    done = complete(users.manager, iid, "no_resource_notice", close_note="已告知客户，待资源建设后再议")
    assert done["state"] == "completed" and done["variables"]["order_status"] == "no_resource"
    assert calls(outbox(users.supervisor, iid)) == [("eoms", "create_work_order", "resource_confirmation")]


def test_a_resource_answer_without_available_true_counts_as_no_resource(deployed, users):
    iid = start(users.manager, "SJ-2026-0201", **COMPLEX)["id"]
    complete(users.manager, iid, "accept_opportunity", **EMAIL_ACCEPT)
    r = users.eoms.post("/api/v1/messages", json={"name": "resource_confirmed", "message_id": "eoms-odd",
                                                  "business_key": "SJ-2026-0201", "payload": {"note": "?"}})
    assert r.status_code == 200, r.json
    assert open_tasks(users.manager, iid) == ["no_resource_notice"]
    assert instance(users.manager, iid)["variables"]["notify_channel"] == "email"  # payload did not overwrite


def test_the_resource_answer_is_correlated_by_business_key(deployed, users):
    first = start(users.manager, "SJ-2026-0301", **COMPLEX)["id"]
    second = start(users.manager, "SJ-2026-0302", **COMPLEX)["id"]
    for iid in (first, second):
        complete(users.manager, iid, "accept_opportunity", **EMAIL_ACCEPT)

    assert answer_resource(users.eoms, "SJ-2026-0302", "eoms-302", True)["delivered_to"] == [second]
    assert open_tasks(users.manager, second) == ["tariff_confirm"]
    assert open_tasks(users.manager, first) == []  # still waiting for its own answer
    again = answer_resource(users.eoms, "SJ-2026-0302", "eoms-302", False)  # a repeat does nothing more
    assert again["delivered_to"] == [second] and open_tasks(users.manager, second) == ["tariff_confirm"]
    unknown = users.eoms.post("/api/v1/messages", json={"name": "resource_confirmed", "message_id": "eoms-999",
                                                        "business_key": "SJ-2026-0999", "payload": {"available": True}})
    assert unknown.status_code == 404
    answer_resource(users.eoms, "SJ-2026-0301", "eoms-301", True)
    assert open_tasks(users.manager, first) == ["tariff_confirm"]


# --- the work orders run strictly one after another -----------------------------------------------

def _refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/eoms"  # nothing listens there any more


def test_boss_waits_until_the_eoms_activation_work_order_succeeded(deployed, users, platform, clock, monkeypatch):
    iid = start(users.manager, "SJ-2026-0400", **SIMPLE)["id"]
    complete(users.manager, iid, "accept_opportunity", **SMS_ACCEPT)
    set_settings(platform, TOWERFLOW_EOMS_URL=_refused_url())
    set_settings(platform, TOWERFLOW_HTTP_TIMEOUT="2")
    complete(users.manager, iid, "contract_sign", **CONTRACT)
    rows = outbox(users.supervisor, iid)
    assert calls(rows) == [("eoms", "create_work_order", "activation")]
    assert rows[0]["status"] == "failed" and rows[0]["attempts"] == 1
    assert instance(users.manager, iid)["state"] != "completed"

    clock.advance(timedelta(seconds=3))
    assert run_due(platform) == 1  # the second attempt fails too; BOSS still has nothing
    rows = outbox(users.supervisor, iid)
    assert calls(rows) == [("eoms", "create_work_order", "activation")]
    assert rows[0]["status"] == "failed" and rows[0]["attempts"] == 2

    set_settings(platform, TOWERFLOW_EOMS_URL="")  # EOMS is back (recorded from now on)
    clock.advance(timedelta(seconds=10))
    run_due(platform)
    done = instance(users.manager, iid)
    assert done["state"] == "completed", done
    rows = outbox(users.supervisor, iid)
    assert calls(rows) == ACTIVATION_ORDER + [("sms", "send", None)]
    assert rows[0]["status"] == "recorded"


# --- forms and starters ---------------------------------------------------------------------------

def test_forms_and_starters_are_checked(deployed, users, api):
    bad = users.manager.post("/api/v1/process-instances", json={
        "process_key": "group_product_order", "variables": {"product": "satellite", "channel": "fax"}})
    assert bad.status_code == 422
    assert {"customer_name", "product", "channel"} <= set(bad.json["error"]["details"]["fields"])
    assert users.planner.post("/api/v1/process-instances", json={
        "process_key": "group_product_order", "variables": SIMPLE}).status_code == 403

    iid = start(users.manager, "SJ-2026-0500", **SIMPLE)["id"]
    no_phone = complete(users.manager, iid, "accept_opportunity", expect=422, complexity="simple",
                        notify_channel="sms")
    assert "manager_phone" in no_phone["error"]["details"]["fields"]
    bad_mail = complete(users.manager, iid, "accept_opportunity", expect=422, complexity="simple",
                        notify_channel="email", manager_email="not-an-address")
    assert "manager_email" in bad_mail["error"]["details"]["fields"]
    complete(users.manager, iid, "accept_opportunity", **SMS_ACCEPT)
    no_contract = complete(users.manager, iid, "contract_sign", expect=422, contract_amount=1)
    assert {"contract_no", "signed_on"} <= set(no_contract["error"]["details"]["fields"])

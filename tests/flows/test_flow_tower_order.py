"""Flow 1, 铁塔需求立项 (processes/tower_order.bpmn), driven through the REST API: single entry and
submission, the operator's four confirmations (each confirmed and sent back), the three outcomes
of demand integration, screening claim / release / return, Flow 2 called on a failed screening
(success and failure), order save / modify / export / send / cancel, PMS, construction message,
single and batch delivery acceptance with scans, and the operator's change and cancel messages
at every step before the order is confirmed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from helpers import instance
from openpyxl import load_workbook

from engine.definitions import deployments
from engine.principal import SYSTEM
from tower import sites

PROCESSES = Path(__file__).parents[2] / "processes"
FILES = ("tower_order.bpmn", "site_negotiation.bpmn", "difficult_site.bpmn")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SITE = {"code": "NJ-XW-0007", "lon": 118.7969, "lat": 32.0603}


def demand(no: str, **overrides) -> dict:
    record = {"demand_no": no, "operator": "中国移动", "province": "江苏省", "city": "南京市", "county": "玄武区",
              "site_name": f"玄武湖站 {no}", "longitude": SITE["lon"] + 0.0001 * int(no[-3:]), "latitude": SITE["lat"],
              "tower_type": "普通地面塔", "antenna_height": 35, "demand_type": "新建",
              "expected_delivery": "2027-03-01", "remarks": "业主已初步同意"}
    record.update(overrides)
    return record


@pytest.fixture
def deployed(platform):
    summary = deployments.deploy(platform, SYSTEM, {name: (PROCESSES / name).read_bytes() for name in FILES})
    with platform.transaction() as session:
        sites.add_site(session, SITE["code"], "玄武湖公园站", SITE["lon"], SITE["lat"], "urban", city="南京市",
                       operators=["china_unicom"])
    return summary


@pytest.fixture
def people(api):
    class People:
        manager = api("li", ["customer_manager"])
        operator = api("cmcc_wang", ["operator"], tenant="china_mobile")
        other_operator = api("cucc_zhang", ["operator"], tenant="china_unicom")
        planner = api("gao", ["planning"])
        dispatcher = api("ma", ["dispatcher"])
        regional = api("zhao", ["regional_manager"])
        regional2 = api("qin", ["regional_manager"])
        negotiator = api("sun", ["negotiator"])
        supervisor = api("zhou", ["supervisor"])
    return People


# --- helpers --------------------------------------------------------------------------------------

def submitted(people, no: str = "XQ-001", **overrides) -> int:
    """A demand entered and submitted: its instance waits for the operator's confirmation."""
    r = people.manager.post("/api/v1/demands", json=demand(no, **overrides))
    assert r.status_code == 201, r.json
    r = people.manager.post("/api/v1/demands/submit", json={"demand_nos": [no]})
    assert r.status_code == 201, r.json
    return r.json["started"][0]["instance_id"]


def open_elements(people, iid: int) -> list[str]:
    return sorted(t["element_id"] for t in instance(people.supervisor, iid)["active_tasks"])


def task_id(people, iid: int, element_id: str) -> int:
    found = [t for t in instance(people.supervisor, iid)["active_tasks"] if t["element_id"] == element_id]
    assert len(found) == 1, (element_id, open_elements(people, iid))
    return found[0]["id"]


def complete(user, people, iid: int, element_id: str, **data) -> dict:
    r = user.post(f"/api/v1/tasks/{task_id(people, iid, element_id)}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return r.json


def status(people, no: str) -> str:
    return people.supervisor.get(f"/api/v1/demands/{no}").json["demand"]["status"]


def upload(user, task: int, field: str, name: str = "scan.png") -> int:
    r = user.post(f"/api/v1/tasks/{task}/files", data={"field": field, "file": (io.BytesIO(PNG), name)},
                  content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    return r.json["id"]


def outbox(people, iid: int, operation: str) -> list[dict]:
    """What the instance sent with ``operation`` (the parameters, and the system), oldest first."""
    items = people.supervisor.get(f"/api/v1/outbox?process_instance_id={iid}&page_size=100").json["items"]
    return [{**m["payload"]["params"], "system": m["system"]} for m in reversed(items) if m["operation"] == operation]


def confirm(people, iid: int, element_id: str, confirmed: bool = True, comment: str = "") -> dict:
    return complete(people.operator, people, iid, element_id, confirmed=confirmed, confirm_comment=comment)


def to_integration(people, no: str = "XQ-001", **overrides) -> int:
    iid = submitted(people, no, **overrides)
    confirm(people, iid, "confirm_demand")
    complete(people.manager, people, iid, "accept_demand", comment="基础数据无误")
    return iid


def to_screening(people, no: str = "XQ-001", **overrides) -> int:
    iid = to_integration(people, no, **overrides)
    complete(people.planner, people, iid, "integrate", integration_result="share_existing", area_type="urban")
    complete(people.dispatcher, people, iid, "dispatch_screening", screening_days=3, screening_note="请尽快")
    return iid


def screened(people, no: str = "XQ-001") -> int:
    iid = to_screening(people, no)
    complete(people.regional, people, iid, "screening", screening_result="success", build_mode="share_existing",
             site_code=SITE["code"], survey_note="塔体可承载")
    return iid


def to_order(people, no: str = "XQ-001") -> int:
    iid = screened(people, no)
    confirm(people, iid, "confirm_screening")
    return iid


ORDER = {"order_no": "DD-2026-001", "build_mode": "share_existing", "site_code": SITE["code"], "share_count": 2,
         "annual_fee": "36000.50"}


def order_confirmed(people, no: str = "XQ-001") -> int:
    iid = to_order(people, no)
    complete(people.manager, people, iid, "compile_order", **{**ORDER, "order_no": f"DD-{no}"}, order_action="send")
    confirm(people, iid, "confirm_order")
    return iid


def delivered_stage(people, no: str = "XQ-001") -> int:
    """Order confirmed, project started, construction reported complete: 交付验收单 is open."""
    iid = order_confirmed(people, no)
    complete(people.regional, people, iid, "start_project", project_name=f"{no} 共享改造",
             planned_start="2027-01-05", planned_finish="2027-02-20")
    r = people.supervisor.post("/api/v1/messages", json={
        "name": "construction_completed", "business_key": no, "message_id": f"pms-done-{no}",
        "payload": {"internal_acceptance": "passed"}})
    assert r.status_code == 200 and r.json["delivered_to"] == [iid], r.json
    assert open_elements(people, iid) == ["delivery"]
    return iid


# --- entry and submission ---------------------------------------------------------------------------

def test_single_entry_is_checked_like_an_import_row(deployed, people):
    bad = people.manager.post("/api/v1/demands", json=demand("XQ-001", longitude=150.0, expected_delivery="明天"))
    assert bad.status_code == 422
    assert set(bad.json["error"]["details"]["fields"]) == {"longitude", "expected_delivery"}
    assert people.manager.get("/api/v1/demands").json["total"] == 0

    ok = people.manager.post("/api/v1/demands", json=demand("XQ-001"))
    assert ok.status_code == 201 and ok.json["status"] == "collected" and ok.json["tenant"] == "china_mobile"
    again = people.manager.post("/api/v1/demands", json=demand("XQ-001", longitude=119.0))
    assert again.status_code == 422 and "demand_no" in again.json["error"]["details"]["fields"]
    same_place = people.manager.post("/api/v1/demands", json=demand("XQ-002", longitude=demand("XQ-001")["longitude"]))
    assert same_place.status_code == 422 and "longitude" in same_place.json["error"]["details"]["fields"]
    theirs = people.other_operator.post("/api/v1/demands", json=demand("XQ-003", longitude=119.0))
    assert theirs.status_code == 422 and "operator" in theirs.json["error"]["details"]["fields"]


def test_submission_starts_one_flow_per_demand_in_the_operators_tenant(deployed, people):
    for no, lon in (("XQ-001", 118.70), ("XQ-002", 118.71)):
        assert people.manager.post("/api/v1/demands", json=demand(no, longitude=lon)).status_code == 201
    assert people.operator.post("/api/v1/demands/submit", json={"demand_nos": ["XQ-001"]}).status_code == 403
    r = people.manager.post("/api/v1/demands/submit", json={"demand_nos": ["XQ-001", "XQ-002"]})
    assert r.status_code == 201
    started = r.json["started"]
    assert [s["demand_no"] for s in started] == ["XQ-001", "XQ-002"]
    again = people.manager.post("/api/v1/demands/submit", json={"demand_nos": ["XQ-002"]})
    assert again.status_code == 409

    for item in started:
        view = instance(people.supervisor, item["instance_id"])
        assert view["process_key"] == "tower_order" and view["business_key"] == item["demand_no"]
        assert view["tenant"] == "china_mobile"
        assert [t["title"] for t in view["active_tasks"]] == ["需求确认"]
        assert status(people, item["demand_no"]) == "submitted"

    mine = people.operator.get("/api/v1/tasks").json["items"]
    assert sorted(t["business_key"] for t in mine) == ["XQ-001", "XQ-002"]
    assert people.other_operator.get("/api/v1/tasks").json["items"] == []
    other_try = people.other_operator.post(f"/api/v1/tasks/{mine[0]['id']}/complete",
                                           json={"data": {"confirmed": True}})
    assert other_try.status_code == 404
    assert people.other_operator.get("/api/v1/demands/XQ-001").status_code == 404
    assert people.manager.post(f"/api/v1/tasks/{mine[0]['id']}/complete",
                               json={"data": {"confirmed": True}}).status_code == 403


# --- the whole way, sharing an existing site ---------------------------------------------------------

def test_the_whole_flow_from_submission_to_acceptance(deployed, people, platform):
    no = "XQ-001"
    iid = submitted(people, no)
    refused = people.operator.post(f"/api/v1/tasks/{task_id(people, iid, 'confirm_demand')}/complete",
                                   json={"data": {"confirmed": False}})
    assert refused.status_code == 422 and "confirm_comment" in refused.json["error"]["details"]["fields"]
    confirm(people, iid, "confirm_demand")
    assert status(people, no) == "confirmed" and open_elements(people, iid) == ["accept_demand"]
    complete(people.manager, people, iid, "accept_demand", comment="基础数据无误")
    assert status(people, no) == "accepted"
    complete(people.planner, people, iid, "integrate", integration_result="share_existing", area_type="urban")

    view = instance(people.supervisor, iid)
    assert view["variables"]["nearby"]["found"] is True
    assert view["variables"]["nearby"]["site"]["site_code"] == SITE["code"]
    assert view["variables"]["nearby"]["distance_m"] < 20
    assert status(people, no) == "screening"
    complete(people.dispatcher, people, iid, "dispatch_screening", screening_days=3)

    # 领单, 释放, 回单
    screening = task_id(people, iid, "screening")
    assert people.regional.post(f"/api/v1/tasks/{screening}/claim").status_code == 200
    assert people.regional2.post(f"/api/v1/tasks/{screening}/claim").status_code == 409
    assert people.regional.post(f"/api/v1/tasks/{screening}/unclaim").status_code == 200
    assert people.regional2.post(f"/api/v1/tasks/{screening}/claim").status_code == 200
    photo = upload(people.regional2, screening, "survey_photos", "survey.png")
    missing_site = people.regional2.post(f"/api/v1/tasks/{screening}/complete", json={"data": {
        "screening_result": "success", "build_mode": "share_existing"}})
    assert missing_site.status_code == 422 and "site_code" in missing_site.json["error"]["details"]["fields"]
    complete(people.regional2, people, iid, "screening", screening_result="success", build_mode="share_existing",
             site_code=SITE["code"], survey_note="塔体可承载", survey_photos=[photo])
    assert open_elements(people, iid) == ["confirm_screening"]
    confirm(people, iid, "confirm_screening")

    # 订单编制: save, export, modify, send
    assert status(people, no) == "order_compiling"
    complete(people.manager, people, iid, "compile_order", **ORDER, order_action="save")
    assert open_elements(people, iid) == ["modify_order"]
    progress = people.manager.get(f"/api/v1/demands/{no}").json
    assert progress["demand"]["order_no"] == "DD-2026-001" and progress["demand"]["build_mode"] == "share_existing"
    export = people.manager.get(f"/api/v1/demands/export/order-confirmation?demand_no={no}")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data)).active
    header = [c.value for c in sheet[3]]
    row = dict(zip(header, [c.value for c in sheet[4]], strict=True))
    assert (row["订单编号"], row["站址编码"], row["年服务费(元)"]) == ("DD-2026-001", SITE["code"], 36000.5)
    complete(people.manager, people, iid, "modify_order", **{**ORDER, "annual_fee": "35000"}, order_action="send")
    assert status(people, no) == "order_sent"
    assert [m["event"] for m in outbox(people, iid, "notify")][-1:] == ["order_sent"]
    confirm(people, iid, "confirm_order")
    demand_row = people.supervisor.get(f"/api/v1/demands/{no}").json["demand"]
    assert demand_row["status"] == "order_confirmed"

    # 发项目建设 -> PMS, construction, 交付验收, 验收确认
    bad_dates = people.regional.post(f"/api/v1/tasks/{task_id(people, iid, 'start_project')}/complete", json={
        "data": {"project_name": "x", "planned_start": "2027-02-01", "planned_finish": "2027-01-01"}})
    assert bad_dates.status_code == 422
    complete(people.regional, people, iid, "start_project", project_name="玄武湖共享改造",
             planned_start="2027-01-05", planned_finish="2027-02-20")
    project = outbox(people, iid, "create_project")
    assert len(project) == 1 and project[0]["system"] == "pms"
    assert project[0]["demand_no"] == no and project[0]["site"]["site_code"] == SITE["code"]
    assert status(people, no) == "construction"
    people.supervisor.post("/api/v1/messages", json={"name": "construction_completed", "business_key": no,
                                                     "message_id": "pms-1", "payload": {"internal_acceptance": "ok"}})
    delivery = task_id(people, iid, "delivery")
    no_scan = people.manager.post(f"/api/v1/tasks/{delivery}/complete", json={"data": {"delivered_on": "2027-02-25"}})
    assert no_scan.status_code == 422 and "scans" in no_scan.json["error"]["details"]["fields"]
    scan = upload(people.manager, delivery, "scans", "验收单.png")
    complete(people.manager, people, iid, "delivery", delivered_on="2027-02-25", scans=[scan])
    assert status(people, no) == "delivered"
    listed = people.operator.get("/api/v1/demands/export/acceptance")
    rows = list(load_workbook(io.BytesIO(listed.data)).active.iter_rows(min_row=4, values_only=True))
    assert rows[0][1] == no
    assert people.operator.get(f"/api/v1/files/{scan}").data == PNG
    assert people.other_operator.get(f"/api/v1/files/{scan}").status_code == 404
    done = confirm(people, iid, "confirm_acceptance")

    assert done["state"] == "completed"
    final = people.supervisor.get(f"/api/v1/demands/{no}").json
    assert final["demand"]["status"] == "acceptance_confirmed"
    assert final["open_steps"] == []
    assert [s["element_id"] for s in final["done_steps"]] == [
        "confirm_demand", "accept_demand", "integrate", "dispatch_screening", "screening", "confirm_screening",
        "compile_order", "modify_order", "confirm_order", "start_project", "delivery", "confirm_acceptance"]
    assert [s["completed_by"] for s in final["done_steps"] if s["element_id"].startswith("confirm")] == [
        "cmcc_wang"] * 4
    billing = outbox(people, iid, "activate")
    assert len(billing) == 1 and billing[0]["data"]["order_no"] == "DD-2026-001"
    with platform.Session() as session:
        from tower.models import Demand

        row = session.query(Demand).filter_by(demand_no=no).one()
        assert (row.order_confirmed_by, row.accepted_by) == ("cmcc_wang", "cmcc_wang")
        assert str(row.annual_fee) == "35000.00" and row.delivered_on.isoformat() == "2027-02-25"


# --- integration outcomes and the operator sending things back -----------------------------------------

def test_a_demand_sent_back_by_the_operator_can_be_submitted_again(deployed, people):
    iid = submitted(people)
    done = confirm(people, iid, "confirm_demand", confirmed=False, comment="挂高不对")
    assert (done["state"], done["end_reason"]) == ("completed", "运营商退回需求")
    assert status(people, "XQ-001") == "collected"
    again = people.manager.post("/api/v1/demands/submit", json={"demand_nos": ["XQ-001"]})
    assert again.status_code == 201 and again.json["started"][0]["instance_id"] != iid
    assert status(people, "XQ-001") == "submitted"


@pytest.mark.parametrize("approved", [True, False])
def test_china_unicom_demands_also_need_headquarters_approval(deployed, people, approved):
    r = people.manager.post("/api/v1/demands", json=demand("XQ-009", operator="中国联通"))
    assert r.status_code == 201, r.json
    started = people.manager.post("/api/v1/demands/submit", json={"demand_nos": ["XQ-009"]}).json["started"]
    iid = started[0]["instance_id"]
    assert people.operator.get("/api/v1/tasks").json["items"] == []  # China Mobile sees nothing of it
    complete(people.other_operator, people, iid, "confirm_demand", confirmed=True)
    assert open_elements(people, iid) == ["hq_approval"]
    assert status(people, "XQ-009") == "submitted"
    complete(people.other_operator, people, iid, "hq_approval", confirmed=approved,
             confirm_comment="" if approved else "总部未批复")
    if approved:
        assert open_elements(people, iid) == ["accept_demand"] and status(people, "XQ-009") == "confirmed"
    else:
        assert instance(people.supervisor, iid)["state"] == "completed"
        assert status(people, "XQ-009") == "collected"


def test_a_demand_that_cannot_be_planned_ends_with_the_reason_sent_to_the_operator(deployed, people):
    iid = to_integration(people)
    missing = people.planner.post(f"/api/v1/tasks/{task_id(people, iid, 'integrate')}/complete",
                                  json={"data": {"integration_result": "unplannable"}})
    assert missing.status_code == 422 and "unplannable_reason" in missing.json["error"]["details"]["fields"]
    done = complete(people.planner, people, iid, "integrate", integration_result="unplannable",
                    unplannable_reason="规划区内禁止建塔")
    assert (done["state"], done["end_reason"]) == ("completed", "规划区内禁止建塔")
    assert status(people, "XQ-001") == "unplannable"
    notice = outbox(people, iid, "notify")
    assert [(m["event"], m["data"]["reason"]) for m in notice] == [
        ("demand_unplannable", "规划区内禁止建塔")]
    assert notice[0]["tenant"] == "china_mobile"


def test_new_site_integration_finds_no_stored_site_far_away(deployed, people):
    iid = to_integration(people, longitude=119.5)
    complete(people.planner, people, iid, "integrate", integration_result="new_site", area_type="rural")
    nearby = instance(people.supervisor, iid)["variables"]["nearby"]
    assert nearby["found"] is False and nearby["radius_m"] > 0
    assert open_elements(people, iid) == ["dispatch_screening"]


def test_operator_refusing_the_screening_sends_it_back_to_the_dispatcher(deployed, people):
    iid = screened(people)
    confirm(people, iid, "confirm_screening", confirmed=False, comment="站址不合适")
    assert open_elements(people, iid) == ["dispatch_screening"]
    assert status(people, "XQ-001") == "screening"


def test_operator_refusing_the_order_sends_it_back_to_modification(deployed, people):
    iid = to_order(people)
    complete(people.manager, people, iid, "compile_order", **ORDER, order_action="send")
    confirm(people, iid, "confirm_order", confirmed=False, comment="年费偏高")
    assert open_elements(people, iid) == ["modify_order"]
    assert status(people, "XQ-001") == "order_compiling"
    complete(people.manager, people, iid, "modify_order", **{**ORDER, "annual_fee": "30000"}, order_action="send")
    confirm(people, iid, "confirm_order")
    assert open_elements(people, iid) == ["start_project"]


def test_cancelling_the_order_ends_the_demand(deployed, people):
    iid = to_order(people)
    no_reason = people.manager.post(f"/api/v1/tasks/{task_id(people, iid, 'compile_order')}/complete",
                                    json={"data": {**ORDER, "order_action": "cancel"}})
    assert no_reason.status_code == 422
    done = complete(people.manager, people, iid, "compile_order", **ORDER, order_action="cancel",
                    order_note="运营商预算取消")
    assert (done["state"], done["end_reason"]) == ("cancelled", "订单取消：运营商预算取消")
    assert status(people, "XQ-001") == "cancelled"
    assert [m["event"] for m in outbox(people, iid, "notify")][-1] == "order_cancelled"


def test_operator_refusing_acceptance_sends_the_delivery_back(deployed, people):
    iid = delivered_stage(people)
    scan = upload(people.manager, task_id(people, iid, "delivery"), "scans")
    complete(people.manager, people, iid, "delivery", delivered_on="2027-02-25", scans=[scan])
    confirm(people, iid, "confirm_acceptance", confirmed=False, comment="缺少照片")
    assert open_elements(people, iid) == ["delivery"]


# --- Flow 2 on a failed screening ---------------------------------------------------------------------

def failed_screening(people, no: str = "XQ-001") -> int:
    iid = to_screening(people, no)
    complete(people.regional, people, iid, "screening", screening_result="failure", survey_note="周边无存量站址")
    assert open_elements(people, iid) == ["plan"]
    assert status(people, no) == "negotiating"
    complete(people.regional, people, iid, "plan", negotiator="sun", plan="先谈业主")
    complete(people.negotiator, people, iid, "accept", comment="收到")
    return iid


def test_failed_screening_negotiates_a_site_and_continues_on_success(deployed, people):
    iid = failed_screening(people)
    complete(people.negotiator, people, iid, "report", progress_outcome="success", site_code="NJ-XW-0100",
             lessor="玄武湖物业", contract_no="HT-1", agreed_cost=40000, lease_years=5)
    assert open_elements(people, iid) == ["confirm_screening"]
    variables = instance(people.supervisor, iid)["variables"]
    assert (variables["site_code"], variables["build_mode"], variables["screening_result"]) == (
        "NJ-XW-0100", "new_site", "negotiated")
    assert variables["contract_sync"]["status"] == "recorded"
    assert status(people, "XQ-001") == "screening"


def test_failed_negotiation_ends_the_demand(deployed, people):
    iid = failed_screening(people)
    complete(people.negotiator, people, iid, "report", progress_outcome="failure", progress_note="业主拒绝")
    assert open_elements(people, iid) == ["notify_fail"]  # Flow 2 tells the customer manager first
    done = complete(people.manager, people, iid, "notify_fail", comment="已知悉")
    assert done["state"] == "completed"  # Flow 2 failed: the demand ends unplannable, not cancelled
    assert done["end_reason"].startswith("选址谈判失败")
    assert status(people, "XQ-001") == "unplannable"
    assert outbox(people, iid, "notify")[0]["data"]["reason"].startswith("选址谈判失败")


# --- the operator's cancel and change -------------------------------------------------------------------

def order_sent(people, no: str = "XQ-001") -> int:
    iid = to_order(people, no)
    complete(people.manager, people, iid, "compile_order", **ORDER, order_action="send")
    return iid


def accepted(people, no: str = "XQ-001") -> int:
    iid = submitted(people, no)
    confirm(people, iid, "confirm_demand")
    return iid


STAGES = {
    "confirm_demand": submitted,
    "accept_demand": accepted,
    "integrate": to_integration,
    "screening": to_screening,
    "report": failed_screening,
    "confirm_screening": screened,
    "compile_order": to_order,
    "confirm_order": order_sent,
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_cancel_stops_every_open_task_of_the_demand(deployed, people, stage):
    iid = STAGES[stage](people)
    assert stage in open_elements(people, iid)
    before = {t["id"] for t in instance(people.supervisor, iid)["active_tasks"]}
    assert people.other_operator.post("/api/v1/demands/XQ-001/cancel", json={"reason": "x"}).status_code == 404
    r = people.operator.post("/api/v1/demands/XQ-001/cancel", json={"reason": "项目取消", "message_id": "c-1"})
    assert r.status_code == 200 and r.json["delivered_to"] == [iid]
    repeat = people.operator.post("/api/v1/demands/XQ-001/cancel", json={"reason": "项目取消", "message_id": "c-1"})
    assert repeat.status_code == 200 and repeat.json == r.json

    view = instance(people.supervisor, iid)
    assert view["state"] == "cancelled" and view["active_tasks"] == []
    assert view["end_reason"] == "项目取消" and view["ended_at"] is not None
    for tid in before:
        assert people.supervisor.get(f"/api/v1/tasks/{tid}").json["state"] == "cancelled"
    assert status(people, "XQ-001") == "cancelled"
    notice = outbox(people, iid, "notify")[-1]
    assert (notice["event"], notice["data"]["reason"]) == ("demand_cancelled", "项目取消")
    later = people.operator.post("/api/v1/demands/XQ-001/cancel", json={"reason": "again"})
    assert later.status_code == 409


def test_cancel_releases_a_site_held_in_the_difficult_site_library(deployed, people, api):
    director = api("qian", ["city_director"])
    iid = failed_screening(people)
    complete(people.negotiator, people, iid, "report", progress_outcome="difficult", progress_note="业主拒绝")
    complete(people.regional, people, iid, "difficult_apply", reason="owner_refuses")
    complete(director, people, iid, "approve", difficult_approved=True, comment="同意入库")
    assert open_elements(people, iid) == []  # in the library: the review timer waits
    library = people.supervisor.get("/api/v1/difficult-sites").json["items"]
    assert [(r["demand_no"], r["status"]) for r in library] == [("XQ-001", "in_library")]

    r = people.operator.post("/api/v1/demands/XQ-001/cancel", json={"reason": "改用其他站址"})
    assert r.status_code == 200
    ended = instance(people.supervisor, iid)
    assert (ended["state"], ended["end_reason"]) == ("cancelled", "改用其他站址")
    library = people.supervisor.get("/api/v1/difficult-sites").json["items"]
    assert [(r["demand_no"], r["status"]) for r in library] == [("XQ-001", "released")]
    assert instance(people.supervisor, iid)["variables"]["difficult_release"]["released"] is True


def test_no_cancel_or_change_after_the_order_is_confirmed(deployed, people):
    iid = order_confirmed(people)
    assert open_elements(people, iid) == ["start_project"]
    assert people.operator.post("/api/v1/demands/XQ-001/cancel", json={"reason": "晚了"}).status_code == 409
    late = people.operator.post("/api/v1/demands/XQ-001/change", json={"changes": {"antenna_height": 40}})
    assert late.status_code == 409
    assert open_elements(people, iid) == ["start_project"] and status(people, "XQ-001") == "order_confirmed"


@pytest.mark.parametrize("stage", list(STAGES))
def test_change_goes_back_to_acceptance_with_the_new_values(deployed, people, stage):
    iid = STAGES[stage](people)
    bad = people.operator.post("/api/v1/demands/XQ-001/change", json={"changes": {"latitude": 99}})
    assert bad.status_code == 422 and "latitude" in bad.json["error"]["details"]["fields"]
    assert people.operator.post("/api/v1/demands/XQ-001/change",
                                json={"changes": {"demand_no": "X"}}).status_code == 422
    assert stage in open_elements(people, iid)

    r = people.operator.post("/api/v1/demands/XQ-001/change", json={
        "changes": {"antenna_height": 45, "site_name": "玄武湖东门站"}, "reason": "业主要求"})
    assert r.status_code == 200, r.json
    assert open_elements(people, iid) == ["accept_demand"]
    row = people.supervisor.get("/api/v1/demands/XQ-001").json["demand"]
    assert (row["status"], row["antenna_height"], row["site_name"]) == ("confirmed", 45, "玄武湖东门站")
    variables = instance(people.supervisor, iid)["variables"]
    assert variables["change_count"] == 1 and variables["change_reason"] == "业主要求"

    complete(people.manager, people, iid, "accept_demand", comment="已按变更承接")
    assert open_elements(people, iid) == ["integrate"]


# --- batch delivery acceptance ---------------------------------------------------------------------------

def test_batch_delivery_and_batch_acceptance(deployed, people):
    first = delivered_stage(people, "XQ-001")
    second = delivered_stage(people, "XQ-002")
    third = order_confirmed(people, "XQ-003")
    numbers = ["XQ-001", "XQ-002"]
    scan = upload(people.manager, task_id(people, first, "delivery"), "scans", "批量验收单.png")

    not_ready = people.manager.post("/api/v1/demands/batch/delivery", json={
        "demand_nos": numbers + ["XQ-003"], "data": {"delivered_on": "2027-02-25", "scans": [scan]}})
    assert not_ready.status_code == 409 and "XQ-003" in not_ready.json["error"]["message"]
    assert open_elements(people, first) == ["delivery"] and open_elements(people, third) == ["start_project"]
    bad_form = people.manager.post("/api/v1/demands/batch/delivery", json={"demand_nos": numbers, "data": {}})
    assert bad_form.status_code == 422
    assert people.operator.post("/api/v1/demands/batch/delivery", json={
        "demand_nos": numbers, "data": {"delivered_on": "2027-02-25", "scans": [scan]}}).status_code == 403

    r = people.manager.post("/api/v1/demands/batch/delivery", json={
        "demand_nos": numbers, "data": {"delivered_on": "2027-02-25", "scans": [scan]}})
    assert r.status_code == 200, r.json
    assert [d["demand_no"] for d in r.json["done"]] == numbers
    scans = {iid: instance(people.supervisor, iid)["variables"]["scans"] for iid in (first, second)}
    assert scans[first] == [scan] and scans[second] != [scan]
    assert people.operator.get(f"/api/v1/files/{scans[second][0]}").data == PNG
    assert [status(people, n) for n in numbers] == ["delivered", "delivered"]

    done = people.operator.post("/api/v1/demands/batch/confirm_acceptance", json={
        "demand_nos": numbers, "data": {"confirmed": True, "confirm_comment": "批量验收通过"}})
    assert done.status_code == 200, done.json
    assert [status(people, n) for n in numbers] == ["acceptance_confirmed"] * 2
    assert [instance(people.supervisor, iid)["state"] for iid in (first, second)] == ["completed"] * 2


# --- the inbox pages draw every form of the flow ---------------------------------------------------------

def test_every_task_of_the_flow_opens_with_its_form_in_the_inbox(deployed, people, platform):
    from web.app import create_app

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, platform=platform)
    signed_in = {}

    def shows(username: str, iid: int, element_id: str, *labels: str) -> None:
        if username not in signed_in:
            client = app.test_client()
            client.get("/lang/zh")
            assert client.post("/login", data={"username": username, "password": "password123"}).status_code == 302
            signed_in[username] = client
        page = signed_in[username].get(f"/tasks/{task_id(people, iid, element_id)}")
        assert page.status_code == 200, (element_id, page.status_code)
        html = page.get_data(as_text=True)
        for label in labels:
            assert label in html, (element_id, label)

    iid = submitted(people)
    shows("cmcc_wang", iid, "confirm_demand", "需求确认", "确认", "意见")
    confirm(people, iid, "confirm_demand")
    shows("li", iid, "accept_demand", "需求承接")
    complete(people.manager, people, iid, "accept_demand")
    shows("gao", iid, "integrate", "整合结果", "存量共享", "费用标准（元/年）")
    complete(people.planner, people, iid, "integrate", integration_result="share_existing")
    shows("ma", iid, "dispatch_screening", "筛查期限（天）")
    complete(people.dispatcher, people, iid, "dispatch_screening")
    shows("zhao", iid, "screening", "筛查结果", "勘察照片", "共享站址编码")
    complete(people.regional, people, iid, "screening", screening_result="success", build_mode="share_existing",
             site_code=SITE["code"])
    confirm(people, iid, "confirm_screening")
    shows("li", iid, "compile_order", "订单编号", "年服务费（元）", "发送订单")
    complete(people.manager, people, iid, "compile_order", **ORDER, order_action="send")
    confirm(people, iid, "confirm_order")
    shows("zhao", iid, "start_project", "项目名称", "计划完工")
    complete(people.regional, people, iid, "start_project", project_name="p", planned_start="2027-01-01",
             planned_finish="2027-02-01")
    people.supervisor.post("/api/v1/messages", json={"name": "construction_completed", "business_key": "XQ-001",
                                                     "message_id": "pms-p"})
    shows("li", iid, "delivery", "交付日期", "扫描件及照片")

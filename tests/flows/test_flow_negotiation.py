"""Flow 2, 选址谈判 (processes/site_negotiation.bpmn), driven through the REST API on the
manual clock: every gateway outcome, the deadline timer, the 40-day rule, the cancel message,
the difficult-site detour (Flow 3 as a call activity) and the failure notice."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import instance
from sqlalchemy import select

from engine.definitions import deployments
from engine.models import Job
from engine.principal import SYSTEM
from engine.runtime import jobs

PROCESSES = Path(__file__).parents[2] / "processes"
FILES = ("site_negotiation.bpmn", "difficult_site.bpmn")
DEMAND = "D-2026-0042"
INPUTS = {"demand_no": DEMAND, "site_name": "西湖区文三路站", "longitude": 120.13, "latitude": 30.28,
          "area_type": "urban", "cost_standard": 50000, "customer_manager_phone": "13800000001"}


@pytest.fixture
def deployed(platform):
    return deployments.deploy(platform, SYSTEM, {name: (PROCESSES / name).read_bytes() for name in FILES})


@pytest.fixture
def people(api):
    class People:
        regional = api("zhao", ["regional_manager"])
        negotiator = api("sun", ["negotiator"])
        director = api("qian", ["city_director"])
        manager = api("li", ["customer_manager"])
        supervisor = api("zhou", ["supervisor"])
        admin = api("root", ["admin"])
    return People


# --- helpers --------------------------------------------------------------------------------

def task(user, instance_id: int, element_id: str) -> dict:
    found = [t for t in instance(user, instance_id)["active_tasks"] if t["element_id"] == element_id]
    assert len(found) == 1, (element_id, instance(user, instance_id)["active_tasks"])
    return found[0]


def open_elements(user, instance_id: int) -> list[str]:
    return sorted(t["element_id"] for t in instance(user, instance_id)["active_tasks"])


def complete(user, instance_id: int, element_id: str, **data) -> dict:
    t = task(user, instance_id, element_id)
    r = user.post(f"/api/v1/tasks/{t['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return r.json


def due(t: dict) -> datetime:
    return datetime.fromisoformat(t["due_at"].rstrip("Z"))


def start_negotiation(people, **overrides) -> dict:
    r = people.regional.post("/api/v1/process-instances", json={
        "process_key": "site_negotiation", "business_key": DEMAND, "variables": {**INPUTS, **overrides}})
    assert r.status_code == 201, r.json
    assert [t["element_id"] for t in r.json["active_tasks"]] == ["plan"]
    return r.json


def negotiating(people, **overrides) -> int:
    """Started, planned and accepted: the negotiator's progress report is open."""
    iid = start_negotiation(people, **overrides)["id"]
    complete(people.regional, iid, "plan", negotiator="sun", plan="先谈业主，再谈物业")
    complete(people.negotiator, iid, "accept", comment="收到")
    assert open_elements(people.negotiator, iid) == ["report"]
    return iid


def advance(platform, clock, **delta) -> int:
    clock.advance(timedelta(**delta))
    ran = 0
    while (n := jobs.run_due_jobs(platform)) > 0:
        ran += n
    return ran


def timer_jobs(platform, instance_id: int, element_id: str) -> list[Job]:
    with platform.Session() as session:
        return list(session.scalars(select(Job).where(Job.instance_id == instance_id, Job.kind == "timer",
                                                      Job.element_id == element_id).order_by(Job.id)))


def send_cancel(user, message_id: str, business_key: str = DEMAND):
    return user.post("/api/v1/messages", json={"name": "negotiation_cancel", "message_id": message_id,
                                               "business_key": business_key,
                                               "payload": {"cancel_reason": "operator cancelled the demand"}})


def assert_failed_and_notified(people, iid: int, reason: str) -> dict:
    """Failure: an SMS to the customer manager is recorded and 通知选址失败 waits in their inbox."""
    waiting = instance(people.manager, iid)
    assert waiting["variables"]["success"] is False
    assert waiting["variables"]["failure_reason"] == reason
    assert waiting["variables"]["failure_sms"]["status"] == "recorded"
    inbox = people.manager.get("/api/v1/tasks").json["items"]
    notice = [t for t in inbox if t["process_instance_id"] == iid]
    assert [t["title"] for t in notice] == ["通知选址失败"]
    assert notice[0]["candidate_groups"] == ["customer_manager"]
    done = complete(people.manager, iid, "notify_fail", comment="已告知运营商")
    assert done["state"] == "completed"  # a failure is an outcome, not a cancel: the reason says which
    assert done["end_reason"] == {"negotiation_failed": "谈判失败", "cost_rejected": "费用未获批准",
                                  "overdue_limit_reached": "谈址超期已满 40 天",
                                  "overdue_rejected": "谈址超期申请被驳回"}[reason]
    sms = [row["payload"]["params"]["text"] for row in people.supervisor.get(
        f"/api/v1/outbox?process_instance_id={iid}").json["items"] if row["system"] == "sms"]
    site, why = INPUTS["site_name"], done["end_reason"]
    assert sms == [f"选址谈判失败：{site}（需求 {DEMAND}），原因：{why}"]  # the reason in words, not its code
    assert done["variables"]["success"] is False
    return done


# --- success -------------------------------------------------------------------------------------

def test_success_within_the_cost_standard_syncs_the_contract(deployed, people, platform, api):
    started = start_negotiation(people)
    plan = started["active_tasks"][0]
    assert plan["title"] == "制定谈址方案并分配任务" and plan["candidate_groups"] == ["regional_manager"]
    iid = started["id"]
    complete(people.regional, iid, "plan", negotiator="sun", plan="先谈业主")
    accept = task(people.negotiator, iid, "accept")
    assert accept["title"] == "接收谈址任务"
    assert (accept["candidate_groups"], accept["candidate_users"]) == ([], ["sun"])  # the one the plan named
    another = api("wu", ["negotiator"])
    assert another.post(f"/api/v1/tasks/{accept['id']}/complete", json={"data": {}}).status_code == 403
    assert another.get("/api/v1/tasks?candidate=me").json["items"] == []
    complete(people.negotiator, iid, "accept")
    report = task(people.negotiator, iid, "report")
    assert report["title"] == "反馈谈址进展"
    first_due = due(report)

    complete(people.negotiator, iid, "report", progress_outcome="in_progress", progress_note="业主考虑中")
    again = task(people.negotiator, iid, "report")
    assert again["id"] != report["id"] and due(again) == first_due  # same deadline on every report

    bad = people.negotiator.post(f"/api/v1/tasks/{again['id']}/complete",
                                 json={"data": {"progress_outcome": "success"}})
    assert bad.status_code == 422 and {"site_code", "agreed_cost"} <= set(bad.json["error"]["details"]["fields"])

    done = complete(people.negotiator, iid, "report", progress_outcome="success", site_code="HZ-XH-0042",
                    lessor="文三路社区", contract_no="HT-2026-118", agreed_cost=45000, lease_years=5)
    assert done["state"] == "completed", done
    variables = done["variables"]
    assert variables["success"] is True and variables["negotiation_result"] == "success"
    assert variables["site_code"] == "HZ-XH-0042"
    assert variables["contract"] == {"site_code": "HZ-XH-0042", "lessor": "文三路社区", "contract_no": "HT-2026-118",
                                     "agreed_cost": 45000, "lease_years": 5, "cost_standard": 50000,
                                     "cost_exceeded": False}
    assert variables["contract_sync"]["status"] == "recorded"
    assert {j.state for j in timer_jobs(platform, iid, "deadline")} == {"cancelled"}


# --- cost standard ------------------------------------------------------------------------------------

def test_cost_exceeding_approved_by_the_city_director_succeeds(deployed, people):
    iid = negotiating(people)
    complete(people.negotiator, iid, "report", progress_outcome="success", site_code="HZ-XH-0042",
             agreed_cost=60000, lease_years=5)
    request = task(people.negotiator, iid, "cost_request")
    assert request["title"] == "费用标准超标申请"
    complete(people.negotiator, iid, "cost_request", exceed_reason="周边无替代站址")
    approval = task(people.director, iid, "cost_approval")
    assert approval["title"] == "费用标准超标审批" and approval["candidate_groups"] == ["city_director"]
    assert people.negotiator.post(f"/api/v1/tasks/{approval['id']}/complete",
                                  json={"data": {"cost_approved": True}}).status_code == 403
    done = complete(people.director, iid, "cost_approval", cost_approved=True, cost_comment="同意")
    assert done["state"] == "completed"
    assert done["variables"]["success"] is True
    assert done["variables"]["contract"]["cost_exceeded"] is True
    assert done["variables"]["contract_sync"]["status"] == "recorded"


def test_cost_exceeding_rejected_fails_and_notifies_the_customer_manager(deployed, people):
    iid = negotiating(people)
    complete(people.negotiator, iid, "report", progress_outcome="success", site_code="HZ-XH-0042", agreed_cost=80000)
    complete(people.negotiator, iid, "cost_request", exceed_reason="业主坚持")
    after = complete(people.director, iid, "cost_approval", cost_approved=False, cost_comment="超标过多")
    assert after["state"] == "waiting"
    assert "contract_sync" not in after["variables"]
    assert_failed_and_notified(people, iid, "cost_rejected")


def test_negotiation_failure_notifies_the_customer_manager(deployed, people):
    iid = negotiating(people)
    complete(people.negotiator, iid, "report", progress_outcome="failure", progress_note="业主拒绝出租")
    done = assert_failed_and_notified(people, iid, "negotiation_failed")
    assert done["variables"]["failure_sms"]["outbox_id"] > 0


# --- the deadline and the 40-day rule -----------------------------------------------------------------

def test_deadline_timer_fires_on_the_deadline_and_not_before(deployed, people, platform, clock):
    iid = negotiating(people, deadline_days=10)
    report = task(people.negotiator, iid, "report")
    assert advance(platform, clock, days=9, hours=23) == 0
    assert open_elements(people.negotiator, iid) == ["report"]
    assert advance(platform, clock, hours=1, minutes=1) == 1
    assert open_elements(people.negotiator, iid) == ["overdue_request"]
    assert people.negotiator.get(f"/api/v1/tasks/{report['id']}").json["state"] == "cancelled"
    assert [j.state for j in timer_jobs(platform, iid, "deadline")] == ["done"]


def test_overdue_extension_is_capped_at_40_days_then_fails_when_approved_past_40(deployed, people, platform, clock):
    iid = negotiating(people)  # 30-day deadline
    first_due = due(task(people.negotiator, iid, "report"))

    advance(platform, clock, days=30, minutes=1)
    request = task(people.negotiator, iid, "overdue_request")
    assert request["title"] == "超期申请"
    complete(people.negotiator, iid, "overdue_request", extend_days=5, overdue_reason="业主出差")
    approval = task(people.regional, iid, "overdue_approval")
    assert approval["title"] == "超期申请审批" and approval["candidate_groups"] == ["regional_manager"]
    complete(people.regional, iid, "overdue_approval", overdue_approved=True)
    extended = task(people.negotiator, iid, "report")
    assert due(extended) - first_due == timedelta(days=5)  # 35 days from the start

    advance(platform, clock, days=5)
    assert open_elements(people.negotiator, iid) == ["overdue_request"]
    complete(people.negotiator, iid, "overdue_request", extend_days=15, overdue_reason="还需两周")
    complete(people.regional, iid, "overdue_approval", overdue_approved=True)
    capped = task(people.negotiator, iid, "report")
    assert due(capped) - first_due == timedelta(days=10)  # min(35 + 15, 40) days from the start

    advance(platform, clock, days=5)  # day 40: the deadline is the 40-day limit itself
    complete(people.negotiator, iid, "overdue_request", extend_days=3, overdue_reason="再给三天")
    complete(people.regional, iid, "overdue_approval", overdue_approved=True)  # approved, but past 40 days
    assert_failed_and_notified(people, iid, "overdue_limit_reached")


def test_overdue_request_rejected_fails(deployed, people, platform, clock):
    iid = negotiating(people, deadline_days=20)
    advance(platform, clock, days=20, minutes=1)
    complete(people.negotiator, iid, "overdue_request", extend_days=5, overdue_reason="业主出差")
    complete(people.regional, iid, "overdue_approval", overdue_approved=False, overdue_comment="不同意")
    assert_failed_and_notified(people, iid, "overdue_rejected")


def test_progress_reports_after_an_extension_keep_the_new_deadline(deployed, people, platform, clock):
    iid = negotiating(people, deadline_days=10)
    advance(platform, clock, days=10, minutes=1)
    complete(people.negotiator, iid, "overdue_request", extend_days=7, overdue_reason="补充材料")
    complete(people.regional, iid, "overdue_approval", overdue_approved=True)
    new_due = due(task(people.negotiator, iid, "report"))
    advance(platform, clock, days=3)
    complete(people.negotiator, iid, "report", progress_outcome="in_progress")
    assert due(task(people.negotiator, iid, "report")) == new_due
    assert advance(platform, clock, days=3, hours=23) == 0
    assert advance(platform, clock, hours=1) == 1
    assert open_elements(people.negotiator, iid) == ["overdue_request"]


# --- cancel ----------------------------------------------------------------------------------------------

def test_cancel_while_the_plan_is_being_made(deployed, people):
    iid = start_negotiation(people)["id"]
    plan = task(people.regional, iid, "plan")
    r = send_cancel(people.admin, "cancel-1")
    assert r.status_code == 200 and r.json["delivered_to"] == [iid], r.json
    after = instance(people.regional, iid)
    assert after["state"] == "cancelled" and after["active_tasks"] == []
    assert after["end_reason"] == "operator cancelled the demand"
    assert after["variables"]["cancelled"] is True and after["variables"]["success"] is False
    assert after["variables"]["cancel_reason"] == "operator cancelled the demand"
    assert after["variables"]["cancel_release"] == {"released": False}
    assert people.regional.get(f"/api/v1/tasks/{plan['id']}").json["state"] == "cancelled"


def test_cancel_while_negotiating_stops_the_deadline_timer(deployed, people, platform, clock):
    iid = negotiating(people)
    complete(people.negotiator, iid, "report", progress_outcome="in_progress")
    assert send_cancel(people.admin, "cancel-2", "OTHER-DEMAND").status_code == 404
    r = send_cancel(people.admin, "cancel-2")
    assert r.json["delivered_to"] == [iid]
    after = instance(people.negotiator, iid)
    assert after["state"] == "cancelled" and after["active_tasks"] == []
    assert {j.state for j in timer_jobs(platform, iid, "deadline")} == {"cancelled"}
    assert advance(platform, clock, days=31) == 0
    assert send_cancel(people.admin, "cancel-3").status_code == 404  # nothing waits any more


def test_cancel_during_cost_approval(deployed, people):
    iid = negotiating(people)
    complete(people.negotiator, iid, "report", progress_outcome="success", site_code="S-1", agreed_cost=70000)
    complete(people.negotiator, iid, "cost_request", exceed_reason="稀缺站址")
    assert open_elements(people.director, iid) == ["cost_approval"]
    assert send_cancel(people.admin, "cancel-4").json["delivered_to"] == [iid]
    after = instance(people.director, iid)
    assert after["state"] == "cancelled" and after["variables"]["cancelled"] is True
    assert "contract_sync" not in after["variables"]


# --- the difficult-site detour (Flow 3 as a call activity) ---------------------------------------------

def test_difficult_site_pauses_the_deadline_until_released(deployed, people, platform, clock):
    iid = negotiating(people)
    first_due = due(task(people.negotiator, iid, "report"))
    complete(people.negotiator, iid, "report", progress_outcome="difficult", progress_note="业主拒绝")
    apply = task(people.regional, iid, "difficult_apply")
    assert apply["title"] == "疑难站址入库申请"
    complete(people.regional, iid, "difficult_apply", reason="owner_refuses", description="业主拒绝任何方案",
             contact_phone="13900000002")
    decision = task(people.director, iid, "approve")
    assert decision["title"] == "疑难站址入库审批"
    complete(people.director, iid, "approve", difficult_approved=True, comment="同意入库")

    listed = people.supervisor.get("/api/v1/difficult-sites").json
    assert listed["total"] == 1
    row = listed["items"][0]
    assert (row["demand_no"], row["status"], row["applied_by"], row["approved_by"]) == (
        DEMAND, "in_library", "zhao", "qian")
    assert row["process_instance_id"] == iid and row["reason"] == "owner_refuses"

    # the deadline is paused: 30 days pass without an overdue request, the review comes instead
    assert advance(platform, clock, days=30, minutes=1) == 1
    assert open_elements(people.regional, iid) == ["review"]
    complete(people.regional, iid, "review", review_decision="keep", review_comment="条件未变")
    assert advance(platform, clock, days=30, minutes=1) == 1
    complete(people.regional, iid, "review", review_decision="release", review_comment="业主松口")

    row = people.supervisor.get("/api/v1/difficult-sites").json["items"][0]
    assert row["status"] == "released" and row["paused_days"] == 61 and row["release_reason"] == "conditions_changed"
    resumed = task(people.negotiator, iid, "report")
    assert due(resumed) - first_due == timedelta(days=61)  # the paused days are added to the deadline

    done = complete(people.negotiator, iid, "report", progress_outcome="success", site_code="HZ-XH-0042",
                    agreed_cost=48000)
    assert done["state"] == "completed" and done["variables"]["success"] is True
    assert done["variables"]["paused_days_total"] == 61
    assert done["variables"]["release_sms_result"]["status"] == "recorded"  # 站址出库通知


def test_difficult_site_rejected_continues_the_negotiation(deployed, people):
    iid = negotiating(people)
    first_due = due(task(people.negotiator, iid, "report"))
    complete(people.negotiator, iid, "report", progress_outcome="difficult")
    complete(people.regional, iid, "difficult_apply", reason="planning_restriction")
    complete(people.director, iid, "approve", difficult_approved=False, comment="继续谈")
    resumed = task(people.negotiator, iid, "report")
    assert due(resumed) == first_due  # nothing paused
    assert people.supervisor.get("/api/v1/difficult-sites").json["total"] == 0


def test_cancel_while_in_the_difficult_site_library_releases_the_site(deployed, people, platform, clock):
    iid = negotiating(people)
    complete(people.negotiator, iid, "report", progress_outcome="difficult")
    complete(people.regional, iid, "difficult_apply", reason="owner_refuses")
    complete(people.director, iid, "approve", difficult_approved=True)
    assert people.supervisor.get("/api/v1/difficult-sites?status=in_library").json["total"] == 1
    advance(platform, clock, days=2)
    assert send_cancel(people.admin, "cancel-5").json["delivered_to"] == [iid]
    after = instance(people.regional, iid)
    assert after["state"] == "cancelled" and after["variables"]["cancelled"] is True
    row = people.supervisor.get("/api/v1/difficult-sites").json["items"][0]
    assert row["status"] == "released" and row["release_reason"] == "negotiation_cancelled"
    assert row["paused_days"] == 3  # two days and a moment: a started day counts
    assert advance(platform, clock, days=40) == 0  # the review timer went with it


def test_variables_set_inside_the_negotiation_show_while_it_runs(deployed, people):
    """The negotiation runs in an embedded subprocess; its data is the instance's at once."""
    iid = negotiating(people)
    variables = instance(people.regional, iid)["variables"]
    assert variables["negotiation_started"] and variables["negotiation_deadline"]

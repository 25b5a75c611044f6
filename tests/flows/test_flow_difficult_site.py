"""Flow 3, 疑难站址入库 (processes/difficult_site.bpmn) started on its own through the REST API:
the city director's decision, the library row supervisors list, the 30-day review timer,
keep and release, and the release notice. (Flow 3 inside a negotiation, with the paused
deadline, is in test_flow_negotiation.py.)"""

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
APPLICATION = {"site_name": "滨江区江南大道站", "demand_no": "D-2026-0107", "reason": "planning_restriction",
               "description": "规划红线内，暂不能建设", "contact_phone": "13900000003"}


@pytest.fixture
def deployed(platform):
    name = "difficult_site.bpmn"
    return deployments.deploy(platform, SYSTEM, {name: (PROCESSES / name).read_bytes()})


@pytest.fixture
def regional(api):
    return api("zhao", ["regional_manager"])


@pytest.fixture
def director(api):
    return api("qian", ["city_director"])


@pytest.fixture
def supervisor(api):
    return api("zhou", ["supervisor"])


def apply(user, business_key="D-2026-0107", **overrides) -> dict:
    r = user.post("/api/v1/process-instances", json={
        "process_key": "difficult_site", "business_key": business_key, "variables": {**APPLICATION, **overrides}})
    assert r.status_code == 201, r.json
    return r.json


def complete(user, instance_id: int, element_id: str, **data) -> dict:
    [task] = [t for t in instance(user, instance_id)["active_tasks"] if t["element_id"] == element_id]
    r = user.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return r.json


def run_due(platform) -> int:
    ran = 0
    while (n := jobs.run_due_jobs(platform)) > 0:
        ran += n
    return ran


def review_timers(platform, instance_id: int) -> list[str]:
    with platform.Session() as session:
        return list(session.scalars(select(Job.state).where(Job.instance_id == instance_id, Job.kind == "timer",
                                                            Job.element_id == "review_wait").order_by(Job.id)))


def library(user, query: str = "") -> dict:
    r = user.get(f"/api/v1/difficult-sites{query}")
    assert r.status_code == 200, r.json
    return r.json


def test_approved_site_enters_the_library_is_reviewed_every_30_days_and_released(
        deployed, regional, director, supervisor, platform, clock):
    started = apply(regional)
    [decision] = started["active_tasks"]
    assert decision["title"] == "疑难站址入库审批" and decision["candidate_groups"] == ["city_director"]
    assert library(supervisor)["total"] == 0

    after = complete(director, started["id"], "approve", difficult_approved=True, comment="同意入库")
    assert after["state"] == "waiting" and after["active_tasks"] == []
    listed = library(supervisor)
    assert listed["total"] == 1 and listed["page"] == 1 and listed["page_size"] == 50
    row = listed["items"][0]
    assert row["site_name"] == "滨江区江南大道站" and row["demand_no"] == "D-2026-0107"
    assert row["status"] == "in_library" and row["reason"] == "planning_restriction"
    assert row["applied_by"] == "zhao" and row["approved_by"] == "qian"
    assert row["released_at"] is None and row["paused_at"] == row["entered_at"]
    entered = datetime.fromisoformat(row["entered_at"].rstrip("Z"))
    assert abs(entered - clock.now()) < timedelta(minutes=1)

    clock.advance(timedelta(days=29, hours=23))
    assert run_due(platform) == 0
    clock.advance(timedelta(hours=1, minutes=1))
    assert run_due(platform) == 1
    [review] = instance(regional, started["id"])["active_tasks"]
    assert review["title"] == "疑难站址复核" and review["candidate_groups"] == ["regional_manager"]
    complete(regional, started["id"], "review", review_decision="keep", review_comment="规划未调整")
    assert instance(regional, started["id"])["active_tasks"] == []
    assert review_timers(platform, started["id"]) == ["done", "pending"]
    assert library(supervisor, "?status=in_library")["total"] == 1

    clock.advance(timedelta(days=30, minutes=1))
    assert run_due(platform) == 1
    done = complete(regional, started["id"], "review", review_decision="release", review_comment="规划已调整")
    assert done["state"] == "completed", done
    variables = done["variables"]
    assert variables["library_status"] == "released" and variables["difficult_result"] == "released"
    assert variables["paused_days"] == 61  # 60 days and 2 minutes: a started day counts
    assert variables["library_release"]["released"] is True
    assert variables["release_sms_result"]["status"] == "recorded"  # 站址出库通知

    row = library(supervisor)["items"][0]
    assert row["status"] == "released" and row["paused_days"] == 61 and row["released_at"] is not None
    assert library(supervisor, "?status=in_library")["total"] == 0
    assert library(supervisor, "?status=released")["total"] == 1


def test_rejected_site_goes_back_to_negotiation(deployed, regional, director, supervisor):
    started = apply(regional)
    done = complete(director, started["id"], "approve", difficult_approved=False, comment="继续谈判")
    assert done["state"] == "completed"
    assert done["variables"]["library_status"] == "rejected"
    assert done["variables"]["difficult_result"] == "rejected" and done["variables"]["paused_days"] == 0
    assert library(supervisor)["total"] == 0


def test_application_form_and_starters_are_checked(deployed, regional, director):
    bad = regional.post("/api/v1/process-instances", json={
        "process_key": "difficult_site", "variables": {"site_name": "", "reason": "weather"}})
    assert bad.status_code == 422
    assert {"site_name", "reason"} <= set(bad.json["error"]["details"]["fields"])
    assert director.post("/api/v1/process-instances", json={
        "process_key": "difficult_site", "variables": APPLICATION}).status_code == 403


def test_library_is_for_its_readers_paginated_and_tenant_aware(deployed, api, regional, director, supervisor):
    admin = api("root", ["admin"])
    mobile_boss = api("cmcc_boss", ["supervisor"], tenant="cmcc")
    ids = []
    for n in range(3):
        started = apply(regional if n < 2 else admin, business_key=f"D-{n}", demand_no=f"D-{n}")
        complete(director, started["id"], "approve", difficult_approved=True)
        ids.append(started["id"])
    page = library(supervisor, "?page=2&page_size=2")
    assert page["total"] == 3 and page["page"] == 2 and page["page_size"] == 2 and len(page["items"]) == 1
    assert library(supervisor, "?demand_no=D-1")["items"][0]["process_instance_id"] == ids[1]
    assert library(admin)["total"] == 3
    assert library(mobile_boss)["total"] == 0  # the tower company's rows have no tenant
    assert regional.get("/api/v1/difficult-sites").status_code == 200  # regional managers read it too
    assert api("gao", ["planning"]).get("/api/v1/difficult-sites").status_code == 403
    assert api.anonymous.get("/api/v1/difficult-sites").status_code == 401
    assert supervisor.get("/api/v1/difficult-sites?status=gone").status_code == 422


def test_operator_tenant_sees_only_its_own_rows(deployed, api, platform):
    from tower.models import DifficultSite

    now = platform.clock.now()
    with platform.transaction() as session:
        for n, tenant in enumerate(["cmcc", "unicom", None]):
            session.add(DifficultSite(entry_key=f"k{n}", demand_no=f"D-{n}", site_name="站", reason="other",
                                      status="in_library", tenant=tenant, entered_at=now, paused_at=now))
    assert [r["tenant"] for r in library(api("cmcc_boss", ["supervisor"], tenant="cmcc"))["items"]] == ["cmcc"]
    assert library(api("zhou", ["supervisor"]))["total"] == 3

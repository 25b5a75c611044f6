"""The diagrams shipped in processes/ deploy cleanly and run every path."""

from pathlib import Path

import pytest

import handlers.difficult_sites as difficult_site_handlers
from engine.definitions import deployments
from engine.principal import SYSTEM

PROCESSES = Path(__file__).parents[2] / "processes"


@pytest.fixture
def deployed(platform):
    difficult_site_handlers.configure(platform)
    files = {p.name: p.read_bytes() for p in PROCESSES.glob("*.bpmn")} | {
        p.name: p.read_bytes() for p in PROCESSES.glob("*.dmn")}
    yield deployments.deploy(platform, SYSTEM, files)
    difficult_site_handlers.configure(None)


def test_every_shipped_file_deploys(deployed):
    assert {p["key"] for p in deployed["processes"]} >= {"difficult_site", "site_negotiation"}


@pytest.mark.parametrize("approved, status, state", [(True, "in_library", "waiting"), (False, "rejected", "completed")])
def test_difficult_site_both_decisions(deployed, api, approved, status, state):
    regional = api("zhao", ["regional_manager"])
    director = api("qian", ["city_director"])
    supervisor = api("zhou", ["supervisor"])
    application = {"site_name": "西湖区文三路站", "demand_no": "D-2026-001", "reason": "owner_refuses"}
    bad = regional.post("/api/v1/process-instances", json={
        "process_key": "difficult_site", "business_key": "D-2026-001", "variables": {"site_name": ""}})
    assert bad.status_code == 422 and "reason" in bad.json["error"]["details"]["fields"]
    assert director.post("/api/v1/process-instances", json={
        "process_key": "difficult_site", "variables": application}).status_code == 403
    started = regional.post("/api/v1/process-instances", json={
        "process_key": "difficult_site", "business_key": "D-2026-001", "variables": application})
    assert started.status_code == 201, started.json
    task = started.json["active_tasks"][0]
    assert task["title"] == "疑难站址入库审批" and task["candidate_groups"] == ["city_director"]
    done = director.post(f"/api/v1/tasks/{task['id']}/complete",
                         json={"data": {"difficult_approved": approved, "comment": "见附件"}})
    assert done.json["state"] == state
    assert done.json["variables"]["library_status"] == status
    listed = supervisor.get("/api/v1/difficult-sites").json["items"]
    assert [r["status"] for r in listed] == (["in_library"] if approved else [])

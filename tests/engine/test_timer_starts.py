"""A process whose start event is a timer is armed when deployed, and re-armed per version."""

from datetime import timedelta

from helpers import DATA, deploy

from engine.definitions import deployments
from engine.principal import SYSTEM
from engine.runtime import jobs


def open_titles(client) -> list[str]:
    return [t["title"] for t in client.get("/api/v1/tasks", query_string={"candidate": "me"}).json["items"]]


def test_deploying_arms_the_timer_and_each_cycle_starts_a_path(platform, api, clock):
    deploy(platform, "timer_start.bpmn")
    admin, clerk = api("admin", ["admin"]), api("wang", ["clerk"])
    armed = admin.get("/api/v1/process-instances", query_string={"process_key": "timer_start"}).json
    assert armed["total"] == 1 and armed["items"][0]["state"] == "waiting"
    assert armed["items"][0]["started_by"] == "timer-start"
    clock.advance(timedelta(minutes=59))
    assert jobs.run_due_jobs(platform) == 0
    clock.advance(timedelta(minutes=2))
    assert jobs.run_due_jobs(platform) == 1
    assert open_titles(clerk) == ["Hourly check"]
    clock.advance(timedelta(hours=1))
    assert jobs.run_due_jobs(platform) == 1
    assert open_titles(clerk) == ["Hourly check", "Hourly check"]
    again = deploy(platform, "timer_start.bpmn")
    assert again["processes"] == [{"key": "timer_start", "version": 1, "new": False}]
    assert admin.get("/api/v1/process-instances", query_string={"process_key": "timer_start"}).json["total"] == 1


def test_a_new_version_replaces_the_armed_instance(platform, api):
    deploy(platform, "timer_start.bpmn")
    changed = (DATA / "timer_start.bpmn").read_bytes().replace(b"R/PT1H", b"R/PT2H")
    deployments.deploy(platform, SYSTEM, {"timer_start.bpmn": changed})
    admin = api("admin", ["admin"])
    rows = admin.get("/api/v1/process-instances", query_string={"process_key": "timer_start"}).json["items"]
    assert sorted((r["version"], r["state"]) for r in rows) == [(1, "terminated"), (2, "waiting")]
    old = next(r for r in rows if r["version"] == 1)
    assert admin.get(f"/api/v1/process-instances/{old['id']}").json["end_reason"] == "replaced by version 2"

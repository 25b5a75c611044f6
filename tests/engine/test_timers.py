"""Timers: boundary and intermediate timer events are database rows woken by the clock; they
fire once due and not before, are cancelled with their task, wait while the instance is
suspended, and survive a restart of the process that created them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import deploy, instance, start
from sqlalchemy import select

from engine.clock import Clock
from engine.models import AuditEvent, HumanTask, Job, ProcessInstance
from engine.platform import Platform
from engine.runtime import jobs
from web.app import build_platform
from web.clock import start_clock

WAIT_LIMIT_SECONDS = 120  # only a bound on the wait for a real clock (about a second here), not a timing target






def open_task_titles(user, instance_id: int) -> list[str]:
    return sorted(t["title"] for t in instance(user, instance_id)["active_tasks"])


def timer_jobs(platform: Platform, instance_id: int) -> list[Job]:
    with platform.Session() as session:
        return list(session.scalars(select(Job).where(Job.instance_id == instance_id, Job.kind == "timer")
                                    .order_by(Job.id)))


def fired_count(platform: Platform, instance_id: int) -> int:
    with platform.Session() as session:
        return len(session.scalars(select(AuditEvent.id).where(
            AuditEvent.instance_id == instance_id, AuditEvent.action == "timer.fired")).all())


@pytest.mark.parametrize("process_key", ["jobs_timer_bare", "jobs_timer_quoted"])
def test_interrupting_boundary_timer_fires_after_15_minutes(platform, clock, clerk, process_key):
    deploy(platform, f"{process_key}.bpmn")
    started = start(clerk, process_key)
    [task] = started["active_tasks"]
    assert started["state"] == "waiting"

    clock.advance(timedelta(minutes=14))
    assert jobs.run_due_jobs(platform) == 0
    assert open_task_titles(clerk, started["id"]) == ["Review the order"]

    clock.advance(timedelta(minutes=2))
    assert jobs.run_due_jobs(platform) == 1
    after = instance(clerk, started["id"])
    assert after["state"] == "completed", after
    assert after["variables"]["timed_out"] is True
    assert after["active_tasks"] == []
    assert clerk.get(f"/api/v1/tasks/{task['id']}").json["state"] == "cancelled"
    r = clerk.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"comment": "too late"}})
    assert r.status_code == 409, r.json
    assert fired_count(platform, started["id"]) == 1


def test_non_interrupting_timer_escalates_and_leaves_the_task_open(platform, clock, clerk, supervisor):
    deploy(platform, "jobs_escalation.bpmn")
    started = start(clerk, "jobs_escalation")

    clock.advance(timedelta(minutes=59))
    assert jobs.run_due_jobs(platform) == 0
    assert open_task_titles(clerk, started["id"]) == ["Review the order"]

    clock.advance(timedelta(minutes=2))
    assert jobs.run_due_jobs(platform) == 1
    assert open_task_titles(supervisor, started["id"]) == ["Chase the reviewer", "Review the order"]

    clock.advance(timedelta(hours=3))  # a duration timer escalates once
    assert jobs.run_due_jobs(platform) == 0
    tasks = {t["title"]: t for t in instance(supervisor, started["id"])["active_tasks"]}
    assert sorted(tasks) == ["Chase the reviewer", "Review the order"]
    assert tasks["Chase the reviewer"]["candidate_groups"] == ["supervisor"]

    r = supervisor.post(f"/api/v1/tasks/{tasks['Chase the reviewer']['id']}/complete",
                        json={"data": {"comment": "called them"}})
    assert r.status_code == 200, r.json
    r = clerk.post(f"/api/v1/tasks/{tasks['Review the order']['id']}/complete",
                   json={"data": {"comment": "done"}})
    assert r.status_code == 200, r.json
    assert r.json["state"] == "completed"
    assert fired_count(platform, started["id"]) == 1


def test_intermediate_timer_waits_then_moves_on(platform, clock, clerk):
    deploy(platform, "jobs_wait.bpmn")
    started = start(clerk, "jobs_wait")
    assert started["state"] == "waiting"
    assert started["active_tasks"] == []

    clock.advance(timedelta(minutes=29))
    assert jobs.run_due_jobs(platform) == 0
    assert open_task_titles(clerk, started["id"]) == []

    clock.advance(timedelta(minutes=2))
    assert jobs.run_due_jobs(platform) == 1
    assert open_task_titles(clerk, started["id"]) == ["Follow up"]
    assert [j.state for j in timer_jobs(platform, started["id"])] == ["done"]


@pytest.mark.parametrize(("wait_time", "before", "after"), [("PT1H", 59, 61), ("PT10M", 9, 11)])
def test_timer_duration_is_an_expression_over_instance_data(platform, clock, clerk, wait_time, before, after):
    deploy(platform, "jobs_wait_expr.bpmn")
    started = start(clerk, "jobs_wait_expr", wait_time=wait_time)

    clock.advance(timedelta(minutes=before))
    assert jobs.run_due_jobs(platform) == 0
    assert open_task_titles(clerk, started["id"]) == []

    clock.advance(timedelta(minutes=after - before))
    assert jobs.run_due_jobs(platform) == 1
    assert open_task_titles(clerk, started["id"]) == ["Follow up"]


def test_a_timer_given_a_bad_value_raises_an_incident_naming_it(platform, clerk, supervisor):
    deploy(platform, "jobs_wait_expr.bpmn")
    started = start(clerk, "jobs_wait_expr", wait_time="soon")
    assert started["state"] == "error"
    incident = supervisor.get("/api/v1/incidents").json["items"][0]
    assert incident["process_instance_id"] == started["id"]
    assert incident["element_id"] == "pause"
    assert "pause" in incident["message"] and "wait_time" in incident["message"]


def test_cycle_timer_reminds_three_times_while_the_task_stays_open(platform, clock, clerk):
    deploy(platform, "jobs_reminder.bpmn")
    started = start(clerk, "jobs_reminder")

    clock.advance(timedelta(minutes=9))
    assert run_all_due(platform) == 0
    for reminders in (1, 2, 3):
        clock.advance(timedelta(minutes=10, seconds=30))
        assert run_all_due(platform) == 1
        assert fired_count(platform, started["id"]) == reminders
        assert open_task_titles(clerk, started["id"]) == ["Review the order"]

    clock.advance(timedelta(hours=2))
    assert run_all_due(platform) == 0
    assert fired_count(platform, started["id"]) == 3
    task = instance(clerk, started["id"])["active_tasks"][0]
    r = clerk.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"comment": "done"}})
    assert r.status_code == 200, r.json
    assert r.json["state"] == "completed"


def test_timer_keeps_its_due_time_when_another_branch_moves_on(platform, clock, clerk):
    deploy(platform, "jobs_parallel_wait.bpmn")
    started = start(clerk, "jobs_parallel_wait")
    [survey] = started["active_tasks"]

    clock.advance(timedelta(minutes=20))
    r = clerk.post(f"/api/v1/tasks/{survey['id']}/complete", json={"data": {"comment": "surveyed"}})
    assert r.status_code == 200, r.json
    assert open_task_titles(clerk, started["id"]) == []

    clock.advance(timedelta(minutes=9))
    assert jobs.run_due_jobs(platform) == 0
    clock.advance(timedelta(minutes=2))  # 31 minutes after the start
    assert jobs.run_due_jobs(platform) == 1
    assert open_task_titles(clerk, started["id"]) == ["Follow up"]


def test_timer_is_cancelled_when_the_task_completes_first(platform, clock, clerk):
    deploy(platform, "jobs_timer_bare.bpmn")
    started = start(clerk, "jobs_timer_bare")
    [job] = timer_jobs(platform, started["id"])
    assert job.state == "pending"

    clock.advance(timedelta(minutes=5))
    task = started["active_tasks"][0]
    r = clerk.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"comment": "on time"}})
    assert r.status_code == 200, r.json
    assert r.json["state"] == "completed"
    assert [j.state for j in timer_jobs(platform, started["id"])] == ["cancelled"]

    clock.advance(timedelta(hours=1))
    assert jobs.run_due_jobs(platform) == 0
    done = instance(clerk, started["id"])
    assert "timed_out" not in done["variables"]
    assert fired_count(platform, started["id"]) == 0


def test_suspended_instance_timer_waits_until_resumed(platform, clock, clerk, supervisor):
    deploy(platform, "jobs_timer_bare.bpmn")
    started = start(clerk, "jobs_timer_bare")
    r = supervisor.post(f"/api/v1/process-instances/{started['id']}/suspend")
    assert r.status_code == 200, r.json

    clock.advance(timedelta(hours=1))
    assert jobs.run_due_jobs(platform) == 0
    suspended = instance(supervisor, started["id"])
    assert suspended["state"] == "suspended"
    assert [t["title"] for t in suspended["active_tasks"]] == ["Review the order"]
    assert fired_count(platform, started["id"]) == 0

    r = supervisor.post(f"/api/v1/process-instances/{started['id']}/resume")
    assert r.status_code == 200, r.json
    assert jobs.run_due_jobs(platform) == 1
    resumed = instance(supervisor, started["id"])
    assert resumed["state"] == "completed"
    assert resumed["variables"]["timed_out"] is True


def run_all_due(platform: Platform) -> int:
    ran = 0
    while (n := jobs.run_due_jobs(platform)) > 0:
        ran += n
    return ran


def wait_for_follow_up(platform: Platform, instance_id: int) -> bool:
    """Poll the database (bounded) until the instance has moved past its timer."""
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while time.monotonic() < deadline:
        with platform.Session() as session:
            if session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.element_id == "follow_up")):
                return True
        time.sleep(0.1)
    return False


def test_timer_fires_after_a_restart(platform, services, database_url, clerk):
    deploy(platform, "jobs_short.bpmn")
    started = start(clerk, "jobs_short")
    assert started["active_tasks"] == []
    platform.close()  # the process that created the timer goes away

    restarted = build_platform(database_url, services=services, clock=Clock())
    scheduler = start_clock(restarted)
    try:
        assert wait_for_follow_up(restarted, started["id"]), "the timer never fired after the restart"
    finally:
        scheduler.shutdown(wait=True)
        restarted.close()

    assert open_task_titles(clerk, started["id"]) == ["Follow up"]
    assert fired_count(platform, started["id"]) == 1


def test_worker_command_fires_a_due_timer(platform, database_url, clerk, tmp_path):
    deploy(platform, "jobs_short.bpmn")
    started = start(clerk, "jobs_short")
    towerflow = Path(sys.executable).with_name("towerflow")
    env = {**os.environ, "TOWERFLOW_DATABASE_URL": database_url}
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen([str(towerflow), "worker", "--tick", "0.2"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            fired = wait_for_follow_up(platform, started["id"])
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=WAIT_LIMIT_SECONDS)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    assert fired, (tmp_path / "worker.log").read_text()
    with platform.Session() as session:
        row = session.get(ProcessInstance, started["id"])
        assert row.state == "waiting"
    assert open_task_titles(clerk, started["id"]) == ["Follow up"]
    assert fired_count(platform, started["id"]) == 1

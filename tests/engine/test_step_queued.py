"""A step tells its caller whether it queued work, so a request drains jobs only then (issue 16);
the answers still show where the instance went."""

from __future__ import annotations

from helpers import deploy, start
from sqlalchemy import func, select

from engine.models import Job
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, messages, tasks

CLERK = Principal("wang", frozenset({"clerk"}))


def _ok(params, call):
    return {"invoice": "INV-1"}


def test_a_step_up_to_a_user_task_queues_nothing_and_one_before_a_service_task_does(platform, services):
    platform.inline_services = False  # as on SQLite: the service task waits as a job (else it is called inline)
    services.add("test.flaky", _ok)
    deploy(platform, "jobs_flaky.bpmn")
    started = instances.start_step(platform, SYSTEM, "jobs_flaky", variables={"site_id": "0571", "amount": 150})
    assert started.queued is False  # it waits at the review task
    with platform.Session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
        task_id = session.scalar(select(tasks.HumanTask.id).where(tasks.HumanTask.instance_id == started.instance_id))
    completed = tasks.complete_step(platform, CLERK, task_id, {"approved": True, "comment": "ok"})
    assert completed.instance_id == started.instance_id and completed.queued is True  # the charge waits


def test_the_api_answer_still_shows_the_service_task_done(platform, services, clerk):
    services.add("test.flaky", _ok)
    deploy(platform, "jobs_flaky.bpmn")
    started = start(clerk, "jobs_flaky", site_id="0571", amount=150)
    assert started["state"] == "waiting" and [t["element_id"] for t in started["active_tasks"]] == ["review"]
    r = clerk.post(f"/api/v1/tasks/{started['active_tasks'][0]['id']}/complete",
                   json={"data": {"approved": True, "comment": "ok"}})
    assert r.status_code == 200, r.json
    assert r.json["state"] == "completed" and r.json["active_tasks"] == []


def test_a_message_reports_only_the_instances_with_work_queued(api, platform):
    deploy(platform, "msg_wait.bpmn")
    staff = api("admin", ["admin"])
    waiting = start(staff, "msg_wait", "DEMAND-1")
    result, queued = messages.deliver_queued(platform, SYSTEM, "site_result", "m-1", "DEMAND-1", None,
                                             {"site": "Tower 7"})
    assert result["delivered_to"] == [waiting["id"]] and queued == []  # it moved on to a user task
    again, queued = messages.deliver_queued(platform, SYSTEM, "site_result", "m-1", "DEMAND-1", None,
                                            {"site": "Tower 7"})
    assert again == result and queued == [waiting["id"]]  # a repeat drains as before
    moved = staff.get(f"/api/v1/process-instances/{waiting['id']}").json
    assert [t["element_id"] for t in moved["active_tasks"]] == ["check"]

"""Process instances: start, states, the gateway-loop trap, suspend, resume, terminate, history."""

from datetime import timedelta

from helpers import deploy, instance, start
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.runtime.workflow import is_completed, run_engine_steps


def test_a_loop_of_1000_iterations_completes_with_the_right_count(platform, api):
    deploy(platform, "loop.bpmn")
    instance = start(api("admin", ["admin"]), "loop", "LOOP-1", limit=1000)
    assert instance["state"] == "completed"
    assert instance["variables"]["i"] == 1000
    assert instance["ended_at"] is not None


def test_spiffworkflow_alone_reports_a_false_completion_that_the_engine_never_does(platform):
    """The measured trap: SpiffWorkflow's own stepping stops at depth 1000 and says 'completed'."""
    deploy(platform, "loop.bpmn")
    with platform.Session() as session:
        spec, subs = platform.specs(session, 1)
    trapped = BpmnWorkflow(spec, subs)
    for task in trapped.get_tasks(state=TaskState.READY):
        task.set_data(limit=1000)
    trapped.do_engine_steps()
    assert trapped.is_completed()            # SpiffWorkflow's claim ...
    assert not is_completed(trapped)          # ... which the engine does not believe
    run_engine_steps(trapped)                 # and the engine's own stepping finishes the loop
    assert is_completed(trapped)
    assert trapped.last_task.data["i"] == 1000


def test_instance_view_has_the_contract_fields(platform, api):
    deploy(platform, "approval.bpmn")
    director = api("li", ["city_director"])
    instance = start(director, "approval", "BK-7", amount=12)
    for field in ("id", "process_key", "version", "business_key", "tenant", "state", "variables",
                  "active_tasks", "incidents", "started_at", "ended_at"):
        assert field in instance
    assert instance["state"] == "waiting" and instance["variables"] == {"amount": 12}
    assert instance["business_key"] == "BK-7" and instance["incidents"] == []


def test_list_filters_and_pagination(platform, api):
    deploy(platform, "approval.bpmn", "loop.bpmn")
    admin = api("admin", ["admin"])
    for n in range(5):
        start(admin, "approval", f"A-{n}")
    start(admin, "loop", "L-1", limit=3)
    page = admin.get("/api/v1/process-instances", query_string={"process_key": "approval", "page_size": 2}).json
    assert page["total"] == 5 and len(page["items"]) == 2
    second = admin.get("/api/v1/process-instances",
                       query_string={"process_key": "approval", "page_size": 2, "page": 3}).json
    assert len(second["items"]) == 1
    assert admin.get("/api/v1/process-instances", query_string={"state": "completed"}).json["total"] == 1
    by_key = admin.get("/api/v1/process-instances", query_string={"business_key": "A-3"}).json
    assert [i["business_key"] for i in by_key["items"]] == ["A-3"]
    bad = admin.get("/api/v1/process-instances", query_string={"state": "sleeping"})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "validation_failed"


def test_unknown_process_is_404(api):
    r = api("admin", ["admin"]).post("/api/v1/process-instances", json={"process_key": "nope"})
    assert r.status_code == 404 and "nope" in r.json["error"]["message"]


def test_suspend_blocks_work_until_resumed(platform, api):
    deploy(platform, "approval.bpmn")
    boss = api("boss", ["supervisor"])
    director = api("li", ["city_director"])
    instance = start(director, "approval", "S-1")
    task_id = instance["active_tasks"][0]["id"]
    suspended = boss.post(f"/api/v1/process-instances/{instance['id']}/suspend")
    assert suspended.status_code == 200 and suspended.json["state"] == "suspended"
    blocked = director.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"approved": True}})
    assert blocked.status_code == 409 and "suspended" in blocked.json["error"]["message"]
    assert boss.post(f"/api/v1/process-instances/{instance['id']}/suspend").status_code == 409
    resumed = boss.post(f"/api/v1/process-instances/{instance['id']}/resume")
    assert resumed.json["state"] == "waiting"
    done = director.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"approved": False}})
    assert done.json["state"] == "completed"


def test_terminate_needs_a_reason_and_cancels_open_tasks(platform, api):
    deploy(platform, "approval.bpmn")
    boss = api("boss", ["supervisor"])
    director = api("li", ["city_director"])
    instance = start(director, "approval", "T-1")
    url = f"/api/v1/process-instances/{instance['id']}/terminate"
    assert boss.post(url, json={}).status_code == 422
    assert director.post(url, json={"reason": "no"}).status_code == 403
    r = boss.post(url, json={"reason": "demand cancelled by the operator"})
    assert r.status_code == 200
    assert r.json["state"] == "terminated" and r.json["end_reason"] == "demand cancelled by the operator"
    assert r.json["active_tasks"] == []
    assert director.get("/api/v1/tasks", query_string={"candidate": "me"}).json["total"] == 0
    assert boss.post(url, json={"reason": "again"}).status_code == 409


def test_history_records_who_did_what_when(platform, api):
    deploy(platform, "approval.bpmn")
    boss = api("boss", ["supervisor"])
    director = api("li", ["city_director"])
    instance = start(director, "approval", "H-1", amount=3)
    task_id = instance["active_tasks"][0]["id"]
    director.post(f"/api/v1/tasks/{task_id}/claim")
    director.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"approved": True, "comment": "fine"}})
    events = boss.get(f"/api/v1/process-instances/{instance['id']}/history").json["items"]
    actions = [e["action"] for e in events]
    for expected in ("instance.started", "task.claimed", "task.completed", "service.completed",
                     "instance.completed"):
        assert expected in actions, actions
    completed = next(e for e in events if e["action"] == "task.completed")
    assert completed["actor"] == "li" and completed["task_id"] == task_id and completed["element_id"] == "review"
    assert completed["data"]["data"] == {"approved": True, "comment": "fine"}
    assert all(e["at"] for e in events)
    changes = [e for e in events if e["action"] == "variables.changed"]
    assert any(e["data"]["changed"].get("comment") == "fine" for e in changes)


def test_scripts_read_the_platform_clock_through_now(platform, api, clock):
    clock.advance(timedelta(days=3))
    deploy(platform, "clock_script.bpmn")
    started = start(api("admin", ["admin"]), "clock_script")
    assert started["state"] == "completed"
    assert started["variables"]["started"].startswith(clock.now().date().isoformat())


def test_dates_in_variables_stay_dates_across_a_wait(platform, api, clock):
    deploy(platform, "clock_span.bpmn")
    clerk = api("wang", ["clerk"])
    started = start(clerk, "clock_span")
    clock.advance(timedelta(hours=2))
    task_id = started["active_tasks"][0]["id"]
    done = clerk.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}).json
    assert done["state"] == "completed"
    assert done["variables"]["waited"] >= 7200


def test_a_date_timer_computed_with_now_fires_on_the_platform_clock(platform, api, clock):
    from engine.runtime import jobs

    clock.advance(timedelta(days=10))
    deploy(platform, "clock_date_timer.bpmn")
    started = start(api("admin", ["admin"]), "clock_date_timer")
    clock.advance(timedelta(minutes=59))
    assert jobs.run_due_jobs(platform) == 0
    clock.advance(timedelta(minutes=2))
    assert jobs.run_due_jobs(platform) == 1
    assert instance(api("admin", ["admin"]), started["id"])["state"] == "completed"


def test_a_human_loop_with_a_boundary_timer_keeps_going_past_three_hundred_rounds(platform, clock):
    """SpiffWorkflow alone dies of RecursionError after about 230 rounds of such a loop (its joins
    recurse once per level of kept history); the engine drops old history (workflow.compact)."""
    from sqlalchemy import select

    from engine.models import HumanTask, ProcessInstance
    from engine.principal import Principal
    from engine.runtime import instances, jobs, tasks
    from engine.runtime.instance_run import InstanceRun
    from engine.runtime.workflow import COMPACT_DEPTH

    deploy(platform, "review_loop.bpmn")
    clerk = Principal("wang", frozenset({"clerk"}))
    iid = instances.start(platform, clerk, "review_loop", "R-1")

    def open_review() -> int:
        with platform.Session() as session:
            return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == iid, HumanTask.state == "open"))

    sizes = {}
    for round_no in range(1, 321):
        tasks.complete(platform, clerk, open_review(), {"approved": False})
        if round_no in (100, 320):
            with platform.Session() as session:
                sizes[round_no] = len(session.scalar(select(ProcessInstance.workflow_json)
                                                     .where(ProcessInstance.id == iid)))
    clock.advance(timedelta(hours=1, seconds=1))  # the boundary timer still fires after all that
    assert jobs.run_due_jobs(platform) == 1
    tasks.complete(platform, clerk, open_review(), {"approved": True})

    with platform.Session() as session:
        row = session.get(ProcessInstance, iid)
        assert row.state == "completed"
        assert (row.variables["rounds"], row.variables["escalations"]) == (320, 1)
        workflow = InstanceRun.open(platform, session, iid).workflow
    deepest = max(len(list(_ancestors(t))) for t in workflow.tasks.values())
    assert deepest <= COMPACT_DEPTH + 10
    assert sizes[320] < 2 * sizes[100]  # history no longer grows with every round


def _ancestors(task):
    while task is not None:
        yield task
        task = task.parent

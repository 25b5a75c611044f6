"""A person's step calls the service tasks it readied itself, in the same transaction, instead
of queueing a job that locks, loads and saves the instance a second time (issue 16). A failing
call never loses the person's work, and on PostgreSQL only the instance's own row is locked."""

from __future__ import annotations

import threading

import pytest
from helpers import deploy, start
from sqlalchemy import select

from engine.models import AuditEvent, HumanTask, Job, ProcessInstance
from engine.platform import Platform
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, jobs, tasks
from engine.settings import Settings, SettingsError

CLERK = Principal("wang", frozenset({"clerk"}))


class Crane:
    """The external booking system: records each call; fails while ``broken``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []
        self.broken = False

    def __call__(self, params, call):
        self.calls.append((call.idempotency_key, call.attempt, call.business_key))
        if self.broken:
            raise RuntimeError("the crane system is down")
        return {"crane": "C-12", "site": params.get("site")}


@pytest.fixture
def crane(platform, services):
    handler = Crane()
    services.add("test.book", handler)
    deploy(platform, "inline_service.bpmn")
    platform.inline_services = True  # as on PostgreSQL; SQLite queues jobs unless told
    return handler


def _approve_task(platform, instance_id: int) -> HumanTask:
    with platform.Session() as session:
        return session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                      HumanTask.element_id == "approve"))


def _open_elements(platform, instance_id: int) -> list[str]:
    with platform.Session() as session:
        return list(session.scalars(select(HumanTask.element_id).where(
            HumanTask.instance_id == instance_id, HumanTask.state == "open")))


def test_a_completion_calls_the_service_task_it_readied_and_queues_no_job(platform, crane):
    instance_id = instances.start(platform, SYSTEM, "inline_service", "ORD-1", {"site_id": "0571-003"})
    approve = _approve_task(platform, instance_id)
    step = tasks.complete_step(platform, CLERK, approve.id, {"approved": True})
    assert step.queued is False, "nothing is left for a job runner"
    assert _open_elements(platform, instance_id) == ["check"]
    with platform.Session() as session:
        assert session.scalars(select(Job).where(Job.instance_id == instance_id)).all() == []
        row = session.get(ProcessInstance, instance_id)
        assert row.variables["booking"] == {"crane": "C-12", "site": "0571-003"}
        assert row.state == "waiting"
        audit = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                                .order_by(AuditEvent.id)).all()
    steps = [e for e in audit if e.action in ("task.completed", "service.completed")]
    assert [e.action for e in steps] == ["task.completed", "service.completed"]
    assert steps[1].data["attempt"] == 1 and steps[1].element_id == "book"
    [(key, attempt, business_key)] = crane.calls
    assert key.startswith(f"{instance_id}:") and attempt == 1 and business_key == "ORD-1"


def test_a_failing_inline_call_keeps_the_completion_and_leaves_the_job_one_attempt_down(platform, crane, clock):
    crane.broken = True
    instance_id = instances.start(platform, SYSTEM, "inline_service", "ORD-2", {"site_id": "0571-004"})
    approve = _approve_task(platform, instance_id)
    step = tasks.complete_step(platform, CLERK, approve.id, {"approved": True})
    assert step.queued is True
    with platform.Session() as session:
        assert session.get(HumanTask, approve.id).state == "completed"
        assert session.get(ProcessInstance, instance_id).variables["approved"] is True
        [job] = session.scalars(select(Job).where(Job.instance_id == instance_id)).all()
    assert (job.kind, job.state, job.attempts) == ("service", "pending", 1)
    assert "the crane system is down" in job.last_error
    assert job.due_at > clock.now(), "retried after the backoff, not at once"
    assert len(crane.calls) == 1

    crane.broken = False
    clock.advance(jobs.backoff(platform.retry_backoff_seconds, 1))
    assert jobs.run_due_jobs(platform) == 1
    assert _open_elements(platform, instance_id) == ["check"]
    (first_key, first_attempt, _), (second_key, second_attempt, _) = crane.calls
    assert first_key == second_key == f"{instance_id}:{job.spiff_task_id}"
    assert (first_attempt, second_attempt) == (1, 2)


def test_the_api_answer_shows_the_step_after_the_inline_call(platform, crane, clerk):
    started = start(clerk, "inline_service", "ORD-3", site_id="0571-005")
    task_id = started["active_tasks"][0]["id"]
    r = clerk.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"approved": True}})
    assert r.status_code == 200, r.json
    assert [t["element_id"] for t in r.json["active_tasks"]] == ["check"]
    assert r.json["variables"]["booking"]["crane"] == "C-12"


def test_inline_calls_are_on_for_postgresql_and_off_for_sqlite_unless_turned_off(tmp_path):
    sqlite = Platform(f"sqlite:///{tmp_path}/a.db")
    assert sqlite.inline_services is False
    sqlite.close()
    with pytest.raises(SettingsError, match="TOWERFLOW_INLINE_SERVICES"):
        Settings(inline_services="sometimes")
    assert Settings.from_env({"TOWERFLOW_INLINE_SERVICES": "off"}).inline_services == "off"


def test_on_postgresql_an_inline_call_in_progress_does_not_hold_up_another_instance(platform, services):
    if not platform.is_postgres:
        pytest.skip("SQLite serializes writers: it queues service tasks as jobs instead (inline off)")
    assert platform.inline_services is True
    entered, release = threading.Event(), threading.Event()

    def slow_for_a(params, call):
        if call.business_key == "A":
            entered.set()
            assert release.wait(60), "the test never released the call"
        return {"crane": "C-1"}

    services.add("test.book", slow_for_a)
    deploy(platform, "inline_service.bpmn")
    a = instances.start(platform, SYSTEM, "inline_service", "A", {"site_id": "1"})
    b = instances.start(platform, SYSTEM, "inline_service", "B", {"site_id": "2"})
    errors: list[BaseException] = []

    def complete_a() -> None:
        try:
            tasks.complete(platform, CLERK, _approve_task(platform, a).id, {"approved": True})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=complete_a)
    worker.start()
    try:
        assert entered.wait(60), "A's call never started"
        tasks.complete(platform, CLERK, _approve_task(platform, b).id, {"approved": True})
        assert _open_elements(platform, b) == ["check"]
        assert not release.is_set() and _open_elements(platform, a) == ["approve"], "A's step is still under way"
    finally:
        release.set()
        worker.join(60)
    assert errors == []
    assert _open_elements(platform, a) == ["check"]

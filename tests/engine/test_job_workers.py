"""Several job runners on one database: each job runs exactly once, and a job whose runner
died is taken over by another, which calls the handler with the same idempotency key."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from helpers import PG_URL, deploy
from sqlalchemy import func, select, text, update

from engine.clock import ManualClock
from engine.models import AuditEvent, HumanTask, Job, ProcessInstance
from engine.platform import Platform
from engine.principal import SYSTEM
from engine.runtime import instances, jobs, tasks
from engine.runtime.instance_run import InstanceRun
from web.app import build_platform

INSTANCES = 200
WORKERS = 3
WAIT_LIMIT_SECONDS = 120  # only a bound on waits (each takes a second or less here), never a timing target


@pytest.fixture(autouse=True)
def service_tasks_as_jobs(platform):
    """These tests are about job runners: a step queues its service tasks as jobs, as on SQLite
    (on PostgreSQL a person's step would call them inline, tests/engine/test_inline_services.py)."""
    platform.inline_services = False
BLOCKED_BY = text("select count(*) from pg_stat_activity where :pid = any(pg_blocking_pids(pid))")


def run_jobs_until_none_left(url: str, clock_offset_seconds: float, go, results) -> None:
    """One worker process: its own Platform, running due jobs until there are none left."""
    import handlers  # noqa: F401  (a fresh process registers the project's handlers)
    from engine.services import registry

    clock = ManualClock()
    clock.advance(timedelta(seconds=clock_offset_seconds))
    platform = build_platform(url, services=registry, clock=clock)
    go.wait(WAIT_LIMIT_SECONDS)
    ran = 0
    try:
        while (n := jobs.run_due_jobs(platform, limit=5)) > 0:
            ran += n
    finally:
        platform.close()
        results.put((platform.worker_id, ran))


@pytest.mark.skipif(not PG_URL, reason="several processes share jobs on PostgreSQL only")
def test_three_processes_run_200_due_timers_exactly_once(platform, database_url):
    deploy(platform, "jobs_wait.bpmn")
    ids = [instances.start(platform, SYSTEM, "jobs_wait", business_key=f"ORD-{n}") for n in range(INSTANCES)]
    with platform.Session() as session:
        assert session.scalar(select(func.count()).select_from(Job)
                              .where(Job.kind == "timer", Job.state == "pending")) == INSTANCES

    ctx = multiprocessing.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=run_jobs_until_none_left, args=(database_url, 3600, go, results))
               for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    go.set()
    try:
        ran = dict(results.get(timeout=WAIT_LIMIT_SECONDS * 2) for _ in workers)
    except queue.Empty:
        pytest.fail("a worker process never reported: it never ran out of due jobs, or it died")
    for worker in workers:
        worker.join(timeout=WAIT_LIMIT_SECONDS)
        assert worker.exitcode == 0, f"a worker process ended with {worker.exitcode}"

    assert len(ran) == WORKERS
    print("jobs run per worker:", ran)
    assert sum(ran.values()) == INSTANCES
    with platform.Session() as session:
        fired = Counter(session.scalars(select(AuditEvent.instance_id)
                                        .where(AuditEvent.action == "timer.fired")))
        assert fired == Counter({i: 1 for i in ids})
        states = Counter(session.scalars(select(Job.state).where(Job.kind == "timer")))
        assert states == Counter({"done": INSTANCES})
        follow_ups = Counter(session.scalars(select(HumanTask.instance_id).where(
            HumanTask.element_id == "follow_up", HumanTask.state == "open")))
        assert follow_ups == Counter({i: 1 for i in ids})
        assert set(session.scalars(select(ProcessInstance.state))) == {"waiting"}


class WorkerDied(BaseException):
    """Stands for the runner's process being killed in the middle of a handler call."""


def test_job_of_a_dead_worker_is_taken_over_with_the_same_idempotency_key(
        platform, database_url, services, clock):
    calls = []

    def book_crane(params, call):
        calls.append((call.idempotency_key, call.attempt))
        if len(calls) == 1:
            raise WorkerDied()
        return {"crane": "C-12", "site": params["site"]}

    services.add("test.book", book_crane)
    deploy(platform, "jobs_lease.bpmn")
    instance_id = instances.start(platform, SYSTEM, "jobs_lease", business_key="ORD-1",
                                  variables={"site_id": "0571-003"})

    with pytest.raises(WorkerDied):
        jobs.run_due_jobs(platform)  # the first runner dies holding the lease
    [job] = _service_jobs(platform, instance_id)
    assert job.state == "pending"
    assert job.locked_by == platform.worker_id

    other = build_platform(database_url, services=services, clock=clock)
    try:
        assert jobs.run_due_jobs(other) == 0, "a live lease must not be taken over"
        assert len(calls) == 1

        with platform.transaction() as session:  # the dead runner's lease has run out
            session.execute(update(Job).where(Job.id == job.id).values(
                locked_by="tower-host-7:4242:dead00", locked_until=clock.now() - timedelta(seconds=1)))
        assert jobs.run_due_jobs(other) == 1
    finally:
        other.close()

    assert len(calls) == 2
    assert calls[1][0] == calls[0][0]
    assert calls[1][0]
    [job] = _service_jobs(platform, instance_id)
    assert (job.state, job.locked_by) == ("done", None)
    with platform.Session() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row.state == "completed"
        assert row.variables["booking"] == {"crane": "C-12", "site": "0571-003"}
    assert jobs.run_job(platform, job.id) is False, "the first runner, back to life, must not run it again"
    assert len(calls) == 2


def _service_jobs(platform: Platform, instance_id: int) -> list[Job]:
    with platform.Session() as session:
        return list(session.scalars(select(Job).where(Job.instance_id == instance_id, Job.kind == "service")))


@pytest.mark.skipif(not PG_URL, reason="row locks between concurrent transactions: PostgreSQL")
def test_timer_coming_due_while_the_task_is_completed_neither_deadlocks_nor_raises_an_incident(
        platform, clock, api, monkeypatch):
    clerk = api("wang", ["clerk"])
    deploy(platform, "jobs_timer_bare.bpmn")
    r = clerk.post("/api/v1/process-instances", json={"process_key": "jobs_timer_bare", "variables": {}})
    assert r.status_code == 201, r.json
    started = r.json
    clock.advance(timedelta(minutes=16))
    [job_id] = jobs.lease_due_jobs(platform)  # the clock took the due timer ...
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(ran=jobs.run_job(platform, job_id)))

    class CompletionInProgress(InstanceRun):
        """... and runs it while the clerk's completion holds the instance."""

        @classmethod
        def load(cls, platform_, session, row, mirror=False):  # (the completion locked the row already)
            run = super().load(platform_, session, row, mirror)
            if not outcome.get("runner started"):
                outcome["runner started"] = True
                pid = session.connection().exec_driver_sql("select pg_backend_pid()").scalar()
                runner.start()
                assert wait_until_blocked_by(platform, pid), "the job runner never waited for the instance"
            return run

    monkeypatch.setattr(tasks, "InstanceRun", CompletionInProgress)
    task = started["active_tasks"][0]
    r = clerk.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"comment": "just in time"}})
    runner.join(timeout=30)

    assert r.status_code == 200, r.json
    assert r.json["state"] == "completed"
    assert "timed_out" not in r.json["variables"]
    assert outcome["ran"] is False
    assert clerk.get("/api/v1/incidents").json["items"] == []
    with platform.Session() as session:
        assert session.get(Job, job_id).state == "cancelled"
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "timer.fired")) == 0


def wait_until_blocked_by(platform: Platform, pid: int, limit_seconds: float = WAIT_LIMIT_SECONDS) -> bool:
    """Bounded wait until some other database session waits for a lock ``pid`` holds."""
    deadline = time.monotonic() + limit_seconds
    with platform.engine.connect() as conn:
        while time.monotonic() < deadline:
            blocked = conn.execute(BLOCKED_BY, {"pid": pid}).scalar()
            conn.rollback()
            if blocked:
                return True
            time.sleep(0.05)
    return False


def test_a_request_waits_for_its_service_task_leased_by_another_workers_clock(platform, services, clock,
                                                                             database_url, monkeypatch):
    """A server's clock (another process's, or this one's own thread) can lease a step's service
    task before the request's own drain runs it: the request then waits for that run, so its
    answer shows where the instance went instead of the step still running.

    The other run starts only once the drain has seen the lease and is waiting (no sleep decides
    the order), and the drain may wait long enough for a machine many times slower than this one."""
    booked = []
    services.add("test.book", lambda params, call: booked.append(params["site"]) or {"crane": "C-7"})
    deploy(platform, "jobs_lease.bpmn")
    iid = instances.start(platform, SYSTEM, "jobs_lease", "L-1", {"site_id": "S-1"})
    other = build_platform(database_url, services=services, clock=clock)
    other.worker_id = platform.worker_id  # the same process's clock thread shares the worker id
    [job_id] = jobs.lease_due_jobs(other, instance_id=iid)  # the clock got there first

    drain_waits = threading.Event()
    leased_elsewhere = jobs._leased_elsewhere

    def seen_by_the_drain(platform_, instance_id):
        found = leased_elsewhere(platform_, instance_id)
        if found:
            drain_waits.set()
        return found

    monkeypatch.setattr(jobs, "_leased_elsewhere", seen_by_the_drain)
    monkeypatch.setattr(jobs, "DRAIN_WAIT_SECONDS", WAIT_LIMIT_SECONDS)
    ran = []

    def run_once_the_drain_waits():
        if drain_waits.wait(WAIT_LIMIT_SECONDS):
            ran.append(jobs.run_job(other, job_id))

    worker = threading.Thread(target=run_once_the_drain_waits)
    worker.start()
    try:
        jobs.drain(platform, iid)
        with platform.Session() as session:
            state_when_drain_returned = session.get(ProcessInstance, iid).state
    finally:
        drain_waits.set()  # (if the drain never waited, the worker must not hang the test)
        worker.join(WAIT_LIMIT_SECONDS)
        other.close()
    assert ran == [True], "the drain never waited for the other run"
    assert booked == ["S-1"]
    assert state_when_drain_returned == "completed"

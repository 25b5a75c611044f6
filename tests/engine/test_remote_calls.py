"""A remote handler (one that waits on another system) is called by the job runner outside
every lock and transaction, and its answer is stored once, with the job marked done
(runtime/remote_calls.py). On SQLite that is the difference between one slow system holding up
the whole database and holding up nothing."""

from __future__ import annotations

import threading

import pytest
from helpers import deploy
from sqlalchemy import select, update

from engine.models import AuditEvent, HumanTask, Job, ProcessInstance
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, jobs, tasks
from handlers.remote import sends_to

CLERK = Principal("wang", frozenset({"clerk"}))
WAIT = 120  # seconds: only a bound on a wait that must end much sooner


class SlowSystem:
    """``test.reserve``: holds the call of business key ``SLOW`` until released."""

    def __init__(self) -> None:
        self.inside, self.release = threading.Event(), threading.Event()
        self.calls: list[tuple[str, int, bool]] = []  # key, attempt, called with a session open
        self.broken = False

    def __call__(self, params, call):
        self.calls.append((call.idempotency_key, call.attempt, call.session is not None))
        if call.business_key == "SLOW":
            self.inside.set()
            assert self.release.wait(WAIT), "the test never released the call"
        if self.broken:
            raise ConnectionError("the crane system does not answer")
        return f"R-{call.business_key}"


@pytest.fixture
def slow(platform, services):
    platform.inline_services = False  # the job runner's path, on both databases
    system = SlowSystem()
    services.add("test.reserve", system, remote=True)
    services.add("test.book", lambda params, call: "B-1")
    deploy(platform, "service_chain.bpmn")
    return system


def _approve(platform, business_key: str) -> int:
    instance_id = instances.start(platform, SYSTEM, "service_chain", business_key)
    tasks.complete_step(platform, CLERK, _open_task(platform, instance_id), {})
    return instance_id


def _open_task(platform, instance_id: int) -> int:
    with platform.Session() as session:
        return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.state == "open"))


def _in_background(target, *args) -> tuple[threading.Thread, list]:
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(target(*args)), daemon=True)
    thread.start()
    return thread, outcome


def test_while_a_remote_call_waits_other_instances_go_on_and_its_answer_is_stored_once(platform, slow):
    waiting = _approve(platform, "SLOW")
    runner, _ = _in_background(jobs.run_due_jobs, platform, 10, waiting)
    assert slow.inside.wait(WAIT), "the job runner never called the remote handler"

    other = _approve(platform, "FAST")  # a person's step and another instance's job, meanwhile
    jobs.drain(platform, other)
    with platform.Session() as session:
        assert session.get(ProcessInstance, other).variables["reservation"] == "R-FAST"
    assert not slow.release.is_set() and runner.is_alive(), "the slow call was still open all along"

    slow.release.set()
    runner.join(WAIT)
    jobs.drain(platform, waiting)
    with platform.Session() as session:
        row = session.get(ProcessInstance, waiting)
        assert (row.variables["reservation"], row.variables["booking"]) == ("R-SLOW", "B-1")
        completed = session.scalars(select(AuditEvent).where(
            AuditEvent.instance_id == waiting, AuditEvent.action == "service.completed",
            AuditEvent.element_id == "reserve")).all()
        assert [event.data["result"] for event in completed] == ["R-SLOW"]
        reserve = session.scalar(select(Job).where(Job.instance_id == waiting, Job.element_id == "reserve"))
        assert reserve.state == "done"
    assert [(attempt, in_session) for key, attempt, in_session in slow.calls if key.startswith(f"{waiting}:")] \
        == [(1, False)], "called once, with no transaction of the engine's open"


def test_an_answer_that_comes_after_the_lease_was_lost_is_not_stored(platform, slow):
    waiting = _approve(platform, "SLOW")
    runner, outcome = _in_background(jobs.run_due_jobs, platform, 10, waiting)
    assert slow.inside.wait(WAIT)
    with platform.transaction() as session:  # the lease ran out and another runner took the job
        session.execute(update(Job).where(Job.instance_id == waiting, Job.element_id == "reserve")
                        .values(locked_by="another-runner"))
    slow.release.set()
    runner.join(WAIT)

    assert outcome == [0], "the runner did not count the job as run"
    with platform.Session() as session:
        row = session.get(ProcessInstance, waiting)
        job = session.scalar(select(Job).where(Job.instance_id == waiting, Job.element_id == "reserve"))
        assert "reservation" not in row.variables
        assert (job.state, job.locked_by, job.attempts) == ("pending", "another-runner", 0)
        assert session.scalar(select(AuditEvent.id).where(AuditEvent.instance_id == waiting,
                                                          AuditEvent.action == "service.completed")) is None


def test_a_failing_remote_call_counts_one_attempt_and_keeps_the_persons_work(platform, slow, clock):
    slow.broken = True
    instance_id = _approve(platform, "DOWN")
    jobs.drain(platform, instance_id)
    with platform.Session() as session:
        job = session.scalar(select(Job).where(Job.instance_id == instance_id, Job.element_id == "reserve"))
        assert (job.state, job.attempts) == ("pending", 1)
        assert "does not answer" in job.last_error
        assert session.scalar(select(HumanTask.state).where(HumanTask.instance_id == instance_id,
                                                            HumanTask.element_id == "approve")) == "completed"
    slow.broken = False
    clock.advance(jobs.backoff(platform.retry_backoff_seconds, 1))
    jobs.drain(platform, instance_id)
    with platform.Session() as session:
        assert session.get(ProcessInstance, instance_id).variables["reservation"] == "R-DOWN"
    keys = [(key, attempt) for key, attempt, _ in slow.calls]
    assert [attempt for _, attempt in keys] == [1, 2] and keys[0][0] == keys[1][0], "the same key both times"


def test_a_handler_is_remote_only_when_its_system_has_a_url(platform, services, slow):
    seen: list[bool] = []

    def notify(params, call):
        seen.append(call.session is not None)
        return "ok"

    services.add("test.reserve", notify, remote=sends_to("crane"))
    jobs.drain(platform, _approve(platform, "NO-URL"))
    platform.settings = platform.settings.with_changes(systems={"crane": "http://127.0.0.1:9/"})
    jobs.drain(platform, _approve(platform, "WITH-URL"))
    assert seen == [True, False], "recorded inside the step without a URL, called outside with one"

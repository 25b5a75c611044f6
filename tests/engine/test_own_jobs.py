"""Where service tasks are queued as jobs (SQLite, or inline calls turned off), the request
drains its own instance's jobs in one transaction, round after round (runtime/own_jobs.py):
each handler is called once, and a failing round leaves the rounds before it done."""

from __future__ import annotations

import pytest
from helpers import deploy
from sqlalchemy import select

from engine.models import HumanTask, Job, ProcessInstance
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, jobs, tasks

CLERK = Principal("wang", frozenset({"clerk"}))


class Recorder:
    def __init__(self, answer: str) -> None:
        self.answer, self.keys, self.broken = answer, [], False

    def __call__(self, params, call):
        self.keys.append((call.idempotency_key, call.attempt))
        if self.broken:
            raise RuntimeError(f"{self.answer} is down")
        return self.answer


@pytest.fixture
def chain(platform, services):
    platform.inline_services = False
    handlers = {"reserve": Recorder("R-1"), "book": Recorder("B-1")}
    services.add("test.reserve", handlers["reserve"])
    services.add("test.book", handlers["book"])
    deploy(platform, "service_chain.bpmn")
    return handlers


def _complete_approve(platform, business_key: str) -> int:
    instance_id = instances.start(platform, SYSTEM, "service_chain", business_key)
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id))
    step = tasks.complete_step(platform, CLERK, task_id, {})
    assert step.queued, "with inline calls off the service tasks wait as jobs"
    jobs.drain(platform, instance_id)
    return instance_id


def test_a_drain_runs_a_chain_of_service_tasks_calling_each_handler_once(platform, chain):
    instance_id = _complete_approve(platform, "C-1")
    with platform.Session() as session:
        row = session.get(ProcessInstance, instance_id)
        assert (row.variables["reservation"], row.variables["booking"], row.state) == ("R-1", "B-1", "waiting")
        assert session.scalars(select(HumanTask.element_id).where(
            HumanTask.instance_id == instance_id, HumanTask.state == "open")).all() == ["check"]
        assert sorted(j.state for j in session.scalars(select(Job).where(Job.instance_id == instance_id))) == \
            ["done", "done"]
    assert [attempt for _, attempt in chain["reserve"].keys] == [1]
    assert [attempt for _, attempt in chain["book"].keys] == [1]


def test_a_failing_second_round_keeps_the_first_and_counts_one_attempt(platform, chain, clock):
    chain["book"].broken = True
    instance_id = _complete_approve(platform, "C-2")
    with platform.Session() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row.variables["reservation"] == "R-1" and "booking" not in row.variables
        by_element = {j.element_id: j for j in session.scalars(select(Job).where(Job.instance_id == instance_id))}
    assert by_element["reserve"].state == "done"
    assert (by_element["book"].state, by_element["book"].attempts) == ("pending", 1)
    assert by_element["book"].due_at > clock.now()
    assert len(chain["reserve"].keys) == 1 and len(chain["book"].keys) == 1

    chain["book"].broken = False
    clock.advance(jobs.backoff(platform.retry_backoff_seconds, 1))
    jobs.drain(platform, instance_id)
    with platform.Session() as session:
        assert session.get(ProcessInstance, instance_id).variables["booking"] == "B-1"
    assert [attempt for _, attempt in chain["book"].keys] == [1, 2]
    assert chain["book"].keys[0][0] == chain["book"].keys[1][0]

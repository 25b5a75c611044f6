"""engine.insight: the path an instance took, where it is now, incidents, and per-version
heatmap counts, on small real processes (a parallel gateway with a timer, a loop, a failing
service task)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import deploy
from sqlalchemy import select

from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from engine.principal import Principal
from engine.queries import insight
from engine.runtime import instances, jobs, tasks

WORKER = Principal("wu", frozenset({"regional_manager", "negotiator", "city_director"}))
SUPERVISOR = Principal("boss", frozenset({"supervisor"}))


@pytest.fixture
def deployed(platform, services):
    def pms(params, call):
        raise RuntimeError("PMS is down")

    services.add("test.sup_pms", pms)
    deploy(platform, "ui_sup_review.bpmn", "ui_sup_loop.bpmn", "ui_sup_fail.bpmn")
    return platform


def complete(platform, instance_id: int, element: str, **data) -> None:
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.element_id == element, HumanTask.state == "open"))
    assert task_id is not None, f"no open task {element}"
    tasks.complete(platform, WORKER, task_id, data)


def path_of(platform, instance_id: int) -> insight.InstancePath:
    with platform.Session() as session:
        return insight.instance_path(platform, session, session.get(ProcessInstance, instance_id))


def heat_of(platform, key: str, actor=SUPERVISOR) -> insight.Heatmap:
    with platform.Session() as session:
        definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key))
        return insight.heatmap(platform, session, actor, definition)


def test_a_new_instance_is_at_its_first_task(deployed):
    instance_id = instances.start(deployed, WORKER, "ui_sup_review", "B-1")
    path = path_of(deployed, instance_id)
    assert path.active == {"review": 1}
    assert path.completed == {"start": 1}
    assert path.flows == ["f1"]
    assert path.incidents == []


def test_parallel_branches_are_both_active_and_the_join_marks_both_flows(deployed, clock):
    instance_id = instances.start(deployed, WORKER, "ui_sup_review", "B-2")
    complete(deployed, instance_id, "review")
    path = path_of(deployed, instance_id)
    assert path.active == {"survey": 1, "wait": 1}
    assert set(path.completed) == {"start", "review", "split"}
    assert path.flows == ["f1", "f2", "f3", "f4"]

    complete(deployed, instance_id, "survey")
    path = path_of(deployed, instance_id)
    assert path.active == {"wait": 1, "join": 1}  # one branch waits at the join for the timer
    assert "f5" in path.flows and "f6" not in path.flows

    clock.advance(timedelta(hours=2))
    jobs.run_due_jobs(deployed)
    path = path_of(deployed, instance_id)
    assert path.active == {"approve": 1}
    assert path.completed["join"] == 1
    assert path.flows == ["f1", "f2", "f3", "f4", "f5", "f6", "f7"]


def test_a_loop_counts_every_round(deployed):
    instance_id = instances.start(deployed, WORKER, "ui_sup_loop", "L-1")
    for _ in range(3):
        complete(deployed, instance_id, "negotiate", again=True)
    complete(deployed, instance_id, "negotiate", again=False)
    path = path_of(deployed, instance_id)
    assert path.active == {}
    assert path.completed == {"start": 1, "negotiate": 4, "check": 4, "end": 1}
    assert path.flows == ["again", "done", "f1", "f2"]


def test_an_incident_marks_its_element(deployed):
    instance_id = instances.start(deployed, WORKER, "ui_sup_fail", "F-1")
    jobs.drain(deployed, instance_id)
    path = path_of(deployed, instance_id)
    assert path.incidents == ["sync"]
    assert path.active == {"sync": 1}
    assert path.flows == ["f1"]


def test_a_terminated_instance_keeps_its_path_but_is_nowhere_now(deployed):
    instance_id = instances.start(deployed, WORKER, "ui_sup_review", "B-3")
    instances.terminate(deployed, SUPERVISOR, instance_id, "duplicate demand")
    path = path_of(deployed, instance_id)
    assert "f1" in path.flows and path.completed["start"] == 1
    assert heat_of(deployed, "ui_sup_review").now == {}


def test_heatmap_counts_now_and_passed_over_a_version(deployed, clock):
    first = instances.start(deployed, WORKER, "ui_sup_review", "H-1")
    second = instances.start(deployed, WORKER, "ui_sup_review", "H-2")
    instances.start(deployed, WORKER, "ui_sup_review", "H-3")
    complete(deployed, first, "review")
    complete(deployed, second, "review")
    complete(deployed, second, "survey")
    heat = heat_of(deployed, "ui_sup_review")
    assert heat.instances == 3
    assert heat.now == {"review": 1, "survey": 1, "wait": 2, "join": 1}
    assert heat.passed == {"start": 3, "review": 2, "split": 2, "survey": 1}
    assert heat.flows == {"f1": 3, "f2": 2, "f3": 2, "f4": 2, "f5": 1}


def test_heatmap_of_a_loop_counts_passes_not_instances(deployed):
    one = instances.start(deployed, WORKER, "ui_sup_loop", "L-2")
    two = instances.start(deployed, WORKER, "ui_sup_loop", "L-3")
    complete(deployed, one, "negotiate", again=True)
    complete(deployed, one, "negotiate", again=True)
    complete(deployed, two, "negotiate", again=False)
    heat = heat_of(deployed, "ui_sup_loop")
    assert heat.now == {"negotiate": 1}
    assert heat.passed == {"start": 2, "negotiate": 3, "check": 3, "end": 1}


def test_heatmap_and_counts_follow_the_tenant_scope(deployed):
    staff = Principal("staff", frozenset({"regional_manager"}))
    instances.start(deployed, staff, "ui_sup_review", "T-1", tenant="china_mobile")
    instances.start(deployed, staff, "ui_sup_review", "T-2", tenant="china_unicom")
    operator = Principal("cm", frozenset({"supervisor"}), tenant="china_mobile")
    assert heat_of(deployed, "ui_sup_review", operator).instances == 1
    assert heat_of(deployed, "ui_sup_review").instances == 2
    with deployed.Session() as session:
        counts = insight.version_counts(session, operator)
    assert list(counts.values()) == [{"waiting": 1}]


def test_timeline_lists_tasks_with_who_and_how_long(deployed, clock):
    instance_id = instances.start(deployed, WORKER, "ui_sup_review", "T-3")
    with deployed.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id))
    clock.advance(timedelta(minutes=5))
    tasks.claim(deployed, WORKER, task_id)
    clock.advance(timedelta(minutes=10))
    complete(deployed, instance_id, "review")
    with deployed.Session() as session:
        entries = insight.timeline(session, instance_id)
    assert entries[0].title == "instance.started"
    review = next(e for e in entries if e.element_id == "review")
    assert (review.who, review.state) == ("wu", "completed")
    assert review.wait_seconds == pytest.approx(300, abs=2)
    assert review.duration_seconds == pytest.approx(900, abs=2)
    assert {e.element_id for e in entries if e.kind == "task" and e.state == "open"} == {"survey"}


def test_find_instances_filters_incidents_and_overdue(deployed, clock):
    failing = instances.start(deployed, WORKER, "ui_sup_fail", "F-2")
    jobs.drain(deployed, failing)
    late = instances.start(deployed, WORKER, "ui_sup_review", "O-1")  # review is due in an hour
    clock.advance(timedelta(hours=2))
    fresh = instances.start(deployed, WORKER, "ui_sup_review", "O-2")

    def ids(**kw):
        with deployed.Session() as session:
            rows, total = instances.list_instances(session, SUPERVISOR, instances.InstanceFilter(**kw), now=clock.now())
        assert total == len(rows)
        return [r.id for r in rows]

    assert ids(has_incident=True) == [failing]
    assert ids(has_incident=False) == [fresh, late]
    assert ids(overdue=True) == [late]
    assert ids(process_key="ui_sup_review", business_key="O-2") == [fresh]
    with deployed.Session() as session:
        flags = insight.instance_flags(session, [failing, late, fresh], clock.now())
    assert flags == {failing: {"incidents": 1, "overdue": 0}, late: {"incidents": 0, "overdue": 1},
                     fresh: {"incidents": 0, "overdue": 0}}

"""Lifecycle listeners (engine/lifecycle.py): the engine's extension point. Each hook is called
once at its moment, inside the instance's transaction, and a listener that raises stops the
change; the engine runs a process end to end with no business plug-in at all."""

from __future__ import annotations

import pytest
from helpers import deploy
from sqlalchemy import func, select

from engine.definitions import deployments
from engine.lifecycle import InstanceEvent, Lifecycle, LifecycleListener, TaskEvent
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.platform import Platform
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, jobs, tasks

DIRECTOR = Principal("qian", frozenset({"city_director"}))
ADMIN = Principal("root", frozenset({"admin"}))


class Recorder(LifecycleListener):
    def __init__(self):
        self.calls: list[tuple] = []

    def instance_saved(self, event: InstanceEvent) -> None:
        self.calls.append(("saved", event.instance.id, dict(event.changed)))

    def instance_completed(self, event: InstanceEvent) -> None:
        self.calls.append(("completed", event.instance.id, event.instance.state))

    def instance_cancelled(self, event: InstanceEvent) -> None:
        self.calls.append(("cancelled", event.instance.id, event.actor, event.reason))

    def task_created(self, event: TaskEvent) -> None:
        assert event.task.id is not None  # the row is written: listeners can refer to it
        self.calls.append(("task_created", event.task.element_id, event.task.candidate_groups))

    def task_completed(self, event: TaskEvent) -> None:
        self.calls.append(("task_completed", event.task.element_id, event.task.state, event.actor, dict(event.data)))

    def hooks(self) -> list[str]:
        return [call[0] for call in self.calls]


@pytest.fixture
def recorder(platform) -> Recorder:
    deploy(platform, "approval.bpmn")
    listener = Recorder()
    platform.lifecycle.add(listener)
    return listener


def open_task(platform, instance_id: int) -> HumanTask:
    with platform.Session() as session:
        [task] = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.state == "open"))
    return task


def test_each_hook_is_called_once_at_its_moment(platform, recorder):
    iid = instances.start(platform, DIRECTOR, "approval", "A-1", {"amount": 5})
    assert ("task_created", "review", ["city_director"]) in recorder.calls
    assert ("saved", iid, {"amount": 5}) in recorder.calls
    assert "completed" not in recorder.hooks()

    recorder.calls.clear()
    task = open_task(platform, iid)
    tasks.complete(platform, DIRECTOR, task.id, {"approved": True, "comment": "同意"})
    jobs.run_due_jobs(platform)
    [completed_task] = [c for c in recorder.calls if c[0] == "task_completed"]
    assert completed_task[1:4] == ("review", "completed", "qian")
    assert completed_task[4]["approved"] is True and completed_task[4]["comment"] == "同意"
    assert recorder.hooks().count("completed") == 1
    assert ("completed", iid, "completed") in recorder.calls
    assert recorder.hooks().index("task_completed") < recorder.hooks().index("completed")


def test_a_terminated_instance_is_reported_cancelled_with_who_and_why(platform, recorder):
    iid = instances.start(platform, DIRECTOR, "approval", "A-2")
    instances.terminate(platform, ADMIN, iid, "duplicate request")
    assert ("cancelled", iid, "root", "duplicate request") in recorder.calls
    assert "completed" not in recorder.hooks()


def test_a_listener_writes_in_the_instance_transaction(platform):
    deploy(platform, "approval.bpmn")

    class Stamp(LifecycleListener):
        def task_created(self, event: TaskEvent) -> None:
            event.session.add(AuditEvent(instance_id=event.instance.id, at=event.at, actor="listener",
                                         action="listener.saw_task", task_id=event.task.id, data={}))

    platform.lifecycle.add(Stamp())
    iid = instances.start(platform, DIRECTOR, "approval")
    with platform.Session() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "listener.saw_task"))
    assert event.instance_id == iid and event.task_id == open_task(platform, iid).id


def test_a_listener_that_raises_rolls_the_change_back(platform):
    deploy(platform, "approval.bpmn")

    class Refuse(LifecycleListener):
        def instance_saved(self, event: InstanceEvent) -> None:
            if event.changed.get("amount") == 13:
                raise RuntimeError("unlucky amount")

    platform.lifecycle.add(Refuse())
    with pytest.raises(RuntimeError, match="unlucky"):
        instances.start(platform, DIRECTOR, "approval", "A-13", {"amount": 13})
    with platform.Session() as session:
        assert session.scalar(select(func.count(ProcessInstance.id))) == 0
    assert instances.start(platform, DIRECTOR, "approval", "A-14", {"amount": 14})


def test_a_listener_without_any_hook_is_refused():
    with pytest.raises(TypeError, match="none of the lifecycle hooks"):
        Lifecycle([object()])
    assert not Lifecycle().listens("instance_saved")


def test_the_project_registers_the_demand_mirror(platform):
    assert platform.lifecycle.listens("instance_saved")
    assert [plugin.name for plugin in platform.plugins] == ["tower"]


SOLO = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="solo" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="check" name="Check">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="candidateGroups" value="clerk"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:scriptTask id="total" name="Total"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>total = amount * 2</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="total"/>
    <bpmn:sequenceFlow id="f3" sourceRef="total" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_the_engine_runs_a_process_with_no_business_plug_in(database_url):
    """A library user's platform: no forms, no handlers, no plug-in; a listener of its own."""
    recorder = Recorder()
    platform = Platform(database_url, listeners=[recorder])
    try:
        platform.init_db()
        deployments.deploy(platform, SYSTEM, {"solo.bpmn": SOLO})
        clerk = Principal("wang", frozenset({"clerk"}))
        iid = instances.start(platform, clerk, "solo", variables={"amount": 21})
        tasks.complete(platform, clerk, open_task(platform, iid).id, {})
        with platform.Session() as session:
            row = session.get(ProcessInstance, iid)
            assert (row.state, row.variables["total"]) == ("completed", 42)
        assert recorder.hooks().count("completed") == 1
    finally:
        platform.close()

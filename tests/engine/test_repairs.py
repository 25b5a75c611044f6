"""A supervisor corrects a variable of a running instance (issue 15, point 4): typed, with a
reason, audited, seen by the next step; refused for an ended instance, without a reason, for
a value of the wrong type, and for anyone but supervisors. A called process is edited inside
its root's workflow."""

from __future__ import annotations

import pytest
from helpers import deploy
from sqlalchemy import select

from engine.errors import BadRequest, Conflict, Forbidden, NotFound
from engine.models import AuditEvent, HumanTask, InstanceValue, ProcessInstance
from engine.principal import Principal
from engine.runtime import instances, repairs, tasks

CLERK = Principal("wang", frozenset({"clerk"}))
SUPERVISOR = Principal("zhao", frozenset({"supervisor"}))
OPERATOR = Principal("op", frozenset({"operator", "supervisor"}), tenant="china_mobile")


@pytest.fixture
def deployed(platform):
    deploy(platform, "repairs_check.bpmn", "repairs_order.bpmn")
    return platform


def start(platform, amount=30, tenant=None, **more) -> int:
    return instances.start(platform, CLERK, "repairs_order", "RO-1", {"amount": amount, "site": "T-1", **more},
                           tenant=tenant)


def complete(platform, instance_id: int, element: str, **data) -> None:
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.element_id == element, HumanTask.state == "open"))
    assert task_id is not None, f"no open task {element}"
    tasks.complete(platform, CLERK, task_id, data)


def row(platform, instance_id: int) -> ProcessInstance:
    with platform.Session() as session:
        return session.get(ProcessInstance, instance_id)


def open_elements(platform, instance_id: int) -> set[str]:
    with platform.Session() as session:
        return set(session.scalars(select(HumanTask.element_id).where(
            HumanTask.instance_id == instance_id, HumanTask.state == "open")))


def edits(platform, instance_id: int) -> list[AuditEvent]:
    with platform.Session() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.instance_id == instance_id, AuditEvent.action == "variable.edited")))


def test_an_edited_number_is_what_the_next_step_computes_with(deployed):
    instance_id = start(deployed, amount=30)
    edit = repairs.set_variable(deployed, SUPERVISOR, instance_id, "amount", "80", "customer corrected the amount",
                                "number")
    assert (edit.old, edit.new, edit.type, edit.created) == (30, 80, "number", False)
    assert row(deployed, instance_id).variables["amount"] == 80
    with deployed.Session() as session:
        assert session.scalar(select(InstanceValue.value).where(
            InstanceValue.instance_id == instance_id, InstanceValue.name == "amount")) == "80"
    [event] = edits(deployed, instance_id)
    assert event.actor == "zhao"
    assert event.data == {"variable": "amount", "old_value": 30, "new_value": 80, "value_type": "number",
                          "reason": "customer corrected the amount"}

    complete(deployed, instance_id, "review")
    assert row(deployed, instance_id).variables["total"] == 160  # the script saw 80, not 30
    assert open_elements(deployed, instance_id) == {"approve_big"}


def test_a_reason_is_required_and_a_wrong_value_changes_nothing(deployed):
    instance_id = start(deployed, amount=30)
    with pytest.raises(BadRequest, match="reason"):
        repairs.set_variable(deployed, SUPERVISOR, instance_id, "amount", 80, "  ", "number")
    with pytest.raises(BadRequest, match="not a number"):
        repairs.set_variable(deployed, SUPERVISOR, instance_id, "amount", "eighty", "typo", "number")
    with pytest.raises(BadRequest, match="not a variable name"):
        repairs.set_variable(deployed, SUPERVISOR, instance_id, "2nd amount", 1, "typo", "number")
    with pytest.raises(BadRequest, match="unknown value type"):
        repairs.set_variable(deployed, SUPERVISOR, instance_id, "amount", 1, "typo", "money")
    assert row(deployed, instance_id).variables["amount"] == 30
    assert edits(deployed, instance_id) == []


def test_a_type_change_is_refused_unless_asked_for(deployed):
    instance_id = start(deployed, amount=30)
    with pytest.raises(Conflict, match="holds a number"):
        repairs.set_variable(deployed, SUPERVISOR, instance_id, "amount", "thirty", "wrong field", "text")
    assert row(deployed, instance_id).variables["amount"] == 30
    repairs.set_variable(deployed, SUPERVISOR, instance_id, "amount", "thirty", "wrong field", "text",
                         allow_type_change=True)
    assert row(deployed, instance_id).variables["amount"] == "thirty"
    # a date is stored as text: text <-> date is no type change
    repairs.set_variable(deployed, SUPERVISOR, instance_id, "site", "2026-12-01", "the site is a date now", "date")


def test_each_type_is_checked_and_stored_as_json_values(deployed):
    instance_id = start(deployed)
    for name, value, type_name, stored in (
            ("urgent", "是", "boolean", True), ("urgent2", False, "boolean", False),
            ("due", "2026-12-24", "date", "2026-12-24"), ("at", "2026-12-24T09:30", "datetime", "2026-12-24T09:30:00"),
            ("extra", '{"floor": 3, "tags": ["a"]}', "json", {"floor": 3, "tags": ["a"]}),
            ("ratio", "0.75", "number", 0.75), ("note", "plain words", "text", "plain words")):
        edit = repairs.set_variable(deployed, SUPERVISOR, instance_id, name, value, "set up", type_name)
        assert edit.created and edit.new == stored
        assert row(deployed, instance_id).variables[name] == stored
    for value, type_name in (("maybe", "boolean"), ("2026-13-01", "date"), ("24.12.2026", "date"),
                             ("tomorrow", "datetime"), ("{oops", "json"), ("NaN", "number"), (5, "text")):
        with pytest.raises(BadRequest):
            repairs.set_variable(deployed, SUPERVISOR, instance_id, "x", value, "bad", type_name)
    assert "x" not in row(deployed, instance_id).variables


def test_refused_for_an_ended_instance(deployed):
    instance_id = start(deployed, amount=80)
    complete(deployed, instance_id, "review")
    complete(deployed, instance_id, "approve_big")
    assert row(deployed, instance_id).state == "completed"
    with pytest.raises(Conflict, match="can no longer be changed"):
        repairs.set_variable(deployed, SUPERVISOR, instance_id, "amount", 1, "too late", "number")
    other = start(deployed)
    instances.terminate(deployed, SUPERVISOR, other, "duplicate")
    with pytest.raises(Conflict):
        repairs.set_variable(deployed, SUPERVISOR, other, "amount", 1, "too late", "number")
    assert edits(deployed, instance_id) == [] and edits(deployed, other) == []


def test_only_supervisors_of_the_instances_tenant(deployed):
    instance_id = start(deployed, tenant="china_unicom")
    with pytest.raises(Forbidden):
        repairs.set_variable(deployed, CLERK, instance_id, "amount", 1, "I may not", "number")
    with pytest.raises(NotFound):
        repairs.set_variable(deployed, OPERATOR, instance_id, "amount", 1, "not my tenant", "number")
    assert row(deployed, instance_id).variables["amount"] == 30


def test_a_suspended_instance_may_be_repaired(deployed):
    instance_id = start(deployed)
    instances.suspend(deployed, SUPERVISOR, instance_id)
    repairs.set_variable(deployed, SUPERVISOR, instance_id, "amount", 90, "fix while held", "number")
    assert row(deployed, instance_id).state == "suspended"
    assert row(deployed, instance_id).variables["amount"] == 90


def test_a_called_process_is_edited_in_its_roots_workflow(deployed):
    instance_id = start(deployed, amount=10)
    complete(deployed, instance_id, "review")  # total 20: the small road calls repairs_check
    with deployed.Session() as session:
        called = session.scalar(select(ProcessInstance).where(ProcessInstance.parent_id == instance_id))
    assert called.process_key == "repairs_check" and called.variables["site"] == "T-1"

    repairs.set_variable(deployed, SUPERVISOR, called.id, "site", "T-2", "the site was mistyped", "text")
    assert row(deployed, called.id).variables["site"] == "T-2"
    [event] = edits(deployed, called.id)
    assert event.data["old_value"] == "T-1" and event.data["new_value"] == "T-2"
    assert edits(deployed, instance_id) == []

    complete(deployed, instance_id, "inspect")
    assert row(deployed, called.id).variables["finding"] == "site T-2"  # the called script saw it
    assert row(deployed, instance_id).state == "completed"


def test_fix_the_data_a_failed_service_call_used_then_retry(platform, services):
    from engine.models import Incident
    from engine.runtime import jobs

    def pms(params, call):
        if params["site"] == "T-BAD":
            raise ValueError(f"unknown site {params['site']}")
        return {"project": f"P-{params['site']}"}

    services.add("test.repairs_pms", pms)
    deploy(platform, "repairs_sync.bpmn")
    instance_id = instances.start(platform, CLERK, "repairs_sync", "S-1", {"site": "T-BAD"})
    jobs.drain(platform, instance_id)
    assert row(platform, instance_id).state == "error"
    repairs.set_variable(platform, SUPERVISOR, instance_id, "site", "T-7", "site code was mistyped", "text")
    with platform.Session() as session:
        incident_id = session.scalar(select(Incident.id).where(Incident.instance_id == instance_id))
    jobs.retry_incident(platform, SUPERVISOR, incident_id)
    assert row(platform, instance_id).state == "waiting"
    assert row(platform, instance_id).variables["pms"] == {"project": "P-T-7"}

"""How an instance ends, as its diagram says (engine/runtime/endings.py): an end event's endState
and endReason give the instance's state and reason; only the process's own end events count, a
called process's never; the lint refuses what cannot run and warns about what nobody reads."""

from __future__ import annotations

from datetime import timedelta

from helpers import deploy, instance, start
from sqlalchemy import select

from engine.definitions.parsing import parse_files
from engine.lifecycle import InstanceEvent, LifecycleListener
from engine.models import AuditEvent, ProcessInstance
from engine.principal import Principal
from engine.queries import stats
from engine.runtime import instances, jobs


class Ends(LifecycleListener):
    """Records which end hook ran for which instance, with the state and reason it saw."""

    def __init__(self):
        self.calls: list[tuple] = []

    def instance_completed(self, event: InstanceEvent) -> None:
        self.calls.append(("completed", event.instance.id, event.instance.state, event.reason))

    def instance_cancelled(self, event: InstanceEvent) -> None:
        self.calls.append(("cancelled", event.instance.id, event.instance.state, event.reason))


def end_audit(platform, instance_id: int) -> list[tuple]:
    with platform.Session() as session:
        rows = session.scalars(select(AuditEvent).where(
            AuditEvent.instance_id == instance_id, AuditEvent.action.like("instance.%"),
            AuditEvent.action != "instance.started").order_by(AuditEvent.id))
        return [(r.action, r.element_id, r.data) for r in rows]


def test_a_cancel_end_event_ends_the_instance_cancelled_with_its_reason(platform, api):
    deploy(platform, "end_states.bpmn")
    ends = Ends()
    platform.lifecycle.add(ends)
    admin = api("admin", ["admin"])
    done = start(admin, "end_states", "E-1", outcome="cancel", why="客户撤回需求")
    assert (done["state"], done["end_reason"]) == ("cancelled", "客户撤回需求")
    assert done["ended_at"] is not None and done["active_tasks"] == []
    assert end_audit(platform, done["id"]) == [
        ("instance.cancelled", "end_cancelled", {"reason": "客户撤回需求"})]
    assert ends.calls == [("cancelled", done["id"], "cancelled", "客户撤回需求")]


def test_a_plain_end_event_still_completes_the_instance(platform, api):
    deploy(platform, "end_states.bpmn")
    ends = Ends()
    platform.lifecycle.add(ends)
    done = start(api("admin", ["admin"]), "end_states", "E-2", outcome="deliver", why="")
    assert (done["state"], done["end_reason"]) == ("completed", None)
    assert end_audit(platform, done["id"]) == [("instance.completed", "end_done", {})]
    assert ends.calls == [("completed", done["id"], "completed", None)]


def test_an_expression_chooses_the_state_for_an_end_event_several_outcomes_reach(platform, api):
    deploy(platform, "end_states.bpmn")
    admin = api("admin", ["admin"])
    cancelled = start(admin, "end_states", "E-3", outcome="either", why="运营商预算取消")
    delivered = start(admin, "end_states", "E-4", outcome="either", why="")
    assert (cancelled["state"], cancelled["end_reason"]) == ("cancelled", "ended without a reason")
    assert (delivered["state"], delivered["end_reason"]) == ("completed", "ended without a reason")


def test_a_reason_that_cannot_be_evaluated_still_ends_the_instance_and_says_why(platform, api):
    deploy(platform, "end_states.bpmn")
    done = start(api("admin", ["admin"]), "end_states", "E-5", outcome="broken")
    assert (done["state"], done["end_reason"]) == ("cancelled", "Called off (broken reason)")  # the event's name
    [(action, element, data)] = end_audit(platform, done["id"])
    assert (action, element) == ("instance.cancelled", "end_broken")
    assert "no_such_variable" in data["error"]


def test_a_called_process_ending_cancelled_does_not_cancel_its_caller(platform, api):
    deploy(platform, "end_states.bpmn", "end_states_parent.bpmn")
    admin = api("admin", ["admin"])
    parent = start(admin, "end_states_parent", "P-1", outcome="cancel", why="子流程取消", parent_cancels=False)
    assert (parent["state"], parent["end_reason"]) == ("completed", None)
    assert [a for a, _, _ in end_audit(platform, parent["id"])] == ["instance.completed"]
    # ... and the caller's own cancel end does cancel it, even when the called process completed
    called_off = start(admin, "end_states_parent", "P-2", outcome="deliver", why="", parent_cancels=True)
    assert (called_off["state"], called_off["end_reason"]) == ("cancelled", "Parent called off")


def test_state_filter_lists_cancelled_instances_apart(platform, api):
    deploy(platform, "end_states.bpmn")
    admin = api("admin", ["admin"])
    cancelled = start(admin, "end_states", "F-1", outcome="cancel", why="撤回")["id"]
    completed = start(admin, "end_states", "F-2", outcome="deliver", why="")["id"]
    listed = {state: [i["id"] for i in admin.get("/api/v1/process-instances",
                                                  query_string={"state": state}).json["items"]]
              for state in ("cancelled", "completed")}
    assert listed == {"cancelled": [cancelled], "completed": [completed]}
    assert instance(admin, cancelled)["end_reason"] == "撤回"
    bad = admin.get("/api/v1/process-instances", query_string={"state": "canceled"})
    assert bad.status_code == 422


def test_a_cancelled_instance_cannot_be_suspended_or_terminated(platform, api):
    deploy(platform, "end_states.bpmn")
    boss = api("boss", ["supervisor"])
    iid = start(api("admin", ["admin"]), "end_states", "G-1", outcome="cancel", why="撤回")["id"]
    for action, body in (("suspend", {}), ("terminate", {"reason": "x"})):
        r = boss.post(f"/api/v1/process-instances/{iid}/{action}", json=body)
        assert r.status_code == 409, (action, r.json)
    assert instance(boss, iid)["state"] == "cancelled"


def test_the_dashboard_counts_ended_instances_by_how_they_ended(platform, api, clock):
    """Cancelled instances are counted apart and never in the completed ones' duration."""
    deploy(platform, "end_states_wait.bpmn", "end_states.bpmn")
    admin = Principal("root", frozenset({"admin"}))
    mobile = Principal("cmcc", frozenset({"supervisor"}), tenant="china_mobile")
    for outcome, tenant in (("deliver", "china_mobile"), ("cancel", "china_mobile"), ("cancel", "china_mobile"),
                            ("deliver", "china_unicom")):
        instances.start(platform, admin, "end_states_wait", variables={"outcome": outcome}, tenant=tenant)
    clock.advance(timedelta(hours=1, seconds=1))
    assert jobs.run_due_jobs(platform) == 4
    # the same process called off at once: had it counted, the median would drop to zero
    start(api("admin", ["admin"]), "end_states", "Q-1", tenant="china_mobile", outcome="cancel", why="撤回")
    running = instances.start(platform, admin, "end_states_wait", variables={"outcome": "deliver"})
    with platform.Session() as session:
        everyone = stats.ended_instances(session, admin, clock.now() - timedelta(days=30), clock.now())
        own = stats.dashboard(session, mobile, clock.now())["ended_instances"]
        row = session.get(ProcessInstance, running)
        assert row.state == "waiting"
    by_key = {row["process_key"]: row for row in everyone}
    wait = by_key["end_states_wait"]
    assert (wait["completed"], wait["cancelled"], wait["terminated"], wait["total"]) == (2, 2, 0, 4)
    assert wait["median_completed_seconds"] >= 3600
    assert (by_key["end_states"]["cancelled"], by_key["end_states"]["median_completed_seconds"]) == (1, None)
    assert [(r["process_key"], r["completed"], r["cancelled"]) for r in own] == [
        ("end_states", 0, 1), ("end_states_wait", 1, 2)]


# --- the lint ---------------------------------------------------------------------------------------

END = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {middle}
    <bpmn:endEvent id="end">
      <bpmn:extensionElements><spiffworkflow:properties>{props}</spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{first}"/>
    {flows}
  </bpmn:process>
</bpmn:definitions>"""


def lint_end(props: str) -> list:
    text = END.format(middle="", props=props, first="end", flows="").replace(
        '<bpmn:incoming>f2</bpmn:incoming>', '<bpmn:incoming>f1</bpmn:incoming>')
    return parse_files({"p.bpmn": text.encode()}, form_keys=set(), operators=set()).problems


def prop(name: str, value: str) -> str:
    return f'<spiffworkflow:property name="{name}" value="{value}"/>'


def test_the_lint_refuses_an_unknown_end_state_and_a_broken_expression():
    [unknown] = lint_end(prop("endState", "canceled"))
    assert (unknown.element_id, unknown.code, unknown.params) == ("end", "bad_end_state", {"value": "canceled"})
    assert unknown.is_error and unknown.line is not None
    [broken] = lint_end(prop("endReason", "${reason +}"))
    assert (broken.code, broken.params["name"]) == ("bad_end_expression", "endReason")
    assert lint_end(prop("endState", "cancelled") + prop("endReason", "客户撤回")) == []
    assert lint_end(prop("endState", "${'cancelled' if x else 'completed'}")) == []


def test_the_lint_warns_that_a_subprocess_end_event_does_not_end_the_instance():
    middle = """<bpmn:subProcess id="sub"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="s_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:endEvent id="s_end"><bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="endState" value="cancelled"/></spiffworkflow:properties></bpmn:extensionElements>
        <bpmn:incoming>s1</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="s1" sourceRef="s_start" targetRef="s_end"/>
    </bpmn:subProcess>"""
    text = END.format(middle=middle, props="", first="sub",
                      flows='<bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end"/>')
    result = parse_files({"p.bpmn": text.encode()}, form_keys=set(), operators=set())
    assert result.ok
    [warning] = result.warnings
    assert (warning.element_id, warning.code, warning.severity) == ("s_end", "end_state_in_subprocess", "warning")

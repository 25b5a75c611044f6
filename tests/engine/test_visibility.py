"""The customer side of an instance in the engine: the ``customerVariables`` declaration, the
diagram a customer gets, and what a tenant's user reads of variables, events, files and
incidents (engine/queries/visibility.py)."""

from __future__ import annotations

from pathlib import Path

from helpers import deploy
from sqlalchemy import select

from engine.definitions import customer_view, deployments
from engine.errors import NotFound
from engine.models import HumanTask, Incident, ProcessDefinition, ProcessInstance
from engine.principal import SYSTEM, Principal
from engine.queries import visibility
from engine.runtime import audit, files, instances, jobs, tasks

PROCESSES = Path(__file__).parents[2] / "processes"
CUSTOMER = Principal("cm_wang", frozenset({"operator"}), "china_mobile")
STAFF = Principal("li", frozenset({"dispatcher"}))
REGIONAL = Principal("zhao", frozenset({"regional_manager"}))
BOSS = Principal("boss", frozenset({"supervisor"}))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="customerVariables" value=" site_name, photos ,2bad, site_name"/>
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="dispatcher"/></bpmn:laneSet>
    <bpmn:scriptTask id="s" name="算"><bpmn:script>cost_standard = 50000</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f" sourceRef="s" targetRef="s">
      <bpmn:conditionExpression>cost_standard &gt; 1</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
  <bpmn:process id="other" isExecutable="false"/>
</bpmn:definitions>"""


def test_the_declaration_is_read_from_the_process_element():
    assert customer_view.declared_names(XML, "p") == {"site_name", "photos"}  # "2bad" is no name
    assert customer_view.bad_names(customer_view.declared_value(XML, "p")) == ["2bad"]
    assert customer_view.declared_names(XML, "other") == frozenset()
    assert customer_view.declared_value(XML, "other") is None
    assert customer_view.declared_names(b"<not xml", "p") == frozenset()


def test_every_shipped_process_declares_its_customer_variables():
    for path in sorted(PROCESSES.glob("*.bpmn")):
        names = customer_view.declared_names(path.read_bytes(), path.stem)
        assert names, path.name
        assert not names & {"cost_standard", "agreed_cost", "customer_manager_phone", "manager_phone",
                            "negotiator", "plan", "first_level_team", "rule", "ROUTING"}, path.name


def test_a_customer_diagram_keeps_the_drawing_and_drops_what_names_variables():
    mine = customer_view.diagram_for(XML, customer=True, lane_label=lambda g: {"dispatcher": "地市派单人"}[g])
    assert 'id="s"' in mine and 'name="算"' in mine and 'name="地市派单人"' in mine
    assert "cost_standard" not in mine and "customerVariables" not in mine and "<bpmn:script>" not in mine
    staff = customer_view.diagram_for(XML, customer=False)
    assert "cost_standard" in staff and 'name="dispatcher"' in staff


def test_the_list_follows_the_deployed_version(platform):
    tower = (PROCESSES / "difficult_site.bpmn").read_text(encoding="utf-8")
    deployments.deploy(platform, SYSTEM, {"difficult_site.bpmn": tower.encode()})
    changed = tower.replace('value="demand_no,site_name"', 'value="demand_no,site_name,reason"')
    deployments.deploy(platform, SYSTEM, {"difficult_site.bpmn": changed.encode()})
    with platform.Session() as session:
        v1, v2 = session.scalars(select(ProcessDefinition.id).where(ProcessDefinition.key == "difficult_site")
                                 .order_by(ProcessDefinition.version)).all()
        assert customer_view.names_of(session, v1) == {"demand_no", "site_name"}
        assert customer_view.names_of(session, v2) == {"demand_no", "site_name", "reason"}


SURVEY = {"site_name": "玄武湖站", "result": "success", "tower_height": "35.5", "survey_date": "2026-11-20",
          "next_visit": "2026-12-01T09:30", "sharing": ["china_mobile"], "power_available": "true",
          "notes": "内部：业主难沟通"}


def _survey(platform, tenant="china_mobile") -> int:
    """tests/data/ui_survey.bpmn (customerVariables="photos"): a regional manager's survey with
    internal notes done, the operator's confirmation (form "approval") open."""
    deploy(platform, "ui_survey.bpmn")
    iid = instances.start(platform, STAFF, "ui_survey", "S-1", {"site_name": "玄武湖站"}, tenant)
    jobs.drain(platform, iid)
    with platform.Session() as session:
        survey = session.scalars(select(HumanTask).where(HumanTask.instance_id == iid)).one()
    tasks.claim(platform, REGIONAL, survey.id)
    tasks.complete(platform, REGIONAL, survey.id, SURVEY)
    jobs.drain(platform, iid)
    return iid


def test_a_customer_reads_declared_variables_and_its_own_events_only(platform):
    iid = _survey(platform)  # tests/data/ui_survey.bpmn declares customerVariables="photos"
    with platform.transaction() as session:
        audit.record(session, iid, "li", "task.claimed", task_id=999)
        audit.record(session, iid, CUSTOMER.username, "message.received", data={"payload": {"x": 1}})
        audit.record(session, iid, None, "variables.changed", data={"changed": ["budget"]})
    with platform.Session() as session:
        row = session.get(ProcessInstance, iid)
        seen = visibility.sight(session, CUSTOMER, row)
        assert seen.variables({"photos": [1], "budget": 90000}) == {"photos": [1]}
        assert "notes" not in seen.variables(row.variables) and "notes" in row.variables
        events = audit.history(session, iid)
        shown = {(e.actor, e.action) for e in seen.events(events)}
        assert (CUSTOMER.username, "message.received") in shown and ("li", "instance.started") in shown
        assert ("li", "task.claimed") not in shown and (None, "variables.changed") not in shown
        assert ("zhao", "task.completed") not in shown  # the regional manager's internal survey
        staff = visibility.sight(session, STAFF, row)
        assert staff.full and staff.variables({"budget": 1}) == {"budget": 1}
        admin = visibility.sight(session, Principal("root", frozenset({"admin"}), "china_mobile"), row)
        assert admin.full


def test_a_customer_reads_the_fields_of_its_own_forms(platform):
    iid = _survey(platform)
    with platform.Session() as session:
        row = session.get(ProcessInstance, iid)
        own = visibility.sight(session, CUSTOMER, row, platform.forms)
        assert {"approved", "comment", "photos"} <= own.names  # its confirmation's form, and the declared
        assert "notes" not in own.names and "tower_height" not in own.names  # the survey's
        stranger = Principal("cm_zhao", frozenset({"viewer"}), "china_mobile")
        assert visibility.sight(session, stranger, row, platform.forms).names == {"photos"}


def test_a_file_of_an_undeclared_field_is_not_found_for_a_customer(platform):
    iid = _survey(platform)
    limits = files.Limits(1024, ("image/*",))
    declared = files.store(platform, STAFF, "photos", files.Upload("a.png", PNG), limits, instance_id=iid)
    internal = files.store(platform, STAFF, "lease_scan", files.Upload("b.png", PNG), limits, instance_id=iid)
    own = files.store(platform, CUSTOMER, "lease_scan", files.Upload("c.png", PNG), limits, instance_id=iid)
    with platform.Session() as session:
        assert files.visible_file(session, CUSTOMER, declared).id == declared
        assert files.visible_file(session, CUSTOMER, own).id == own
        try:
            files.visible_file(session, CUSTOMER, internal)
            raise AssertionError("an internal file was read")
        except NotFound:
            pass
        assert files.visible_file(session, STAFF, internal).id == internal
        seen = visibility.sight(session, CUSTOMER, session.get(ProcessInstance, iid))
        rows = files.of_instance(session, iid)
        assert [r.id for r in rows if seen.shows_file(r)] == [declared, own]


def test_an_incident_at_three_levels(platform):
    iid = _survey(platform)
    with platform.transaction() as session:
        session.add(Incident(instance_id=iid, kind="timer_failed", message="ValueError: /srv/x.py",
                             traceback="Traceback ...", state="open", created_at=platform.clock.now()))
    with platform.Session() as session:
        incident = session.scalars(select(Incident)).one()
        levels = {who: visibility.incident_detail(who) for who in (CUSTOMER, STAFF, BOSS)}
        assert levels == {CUSTOMER: "reason", STAFF: "message", BOSS: "traceback"}
        customer = visibility.incident_view(incident, "reason")
        assert customer["reason"] == "timer_failed" and "traceback" not in customer
        assert "ValueError" not in customer["message"] and "/srv/" not in customer["message"]
        assert "traceback" not in visibility.incident_view(incident, "message")
        assert visibility.incident_view(incident, "traceback")["traceback"] == "Traceback ..."
        tenant_boss = Principal("cm_boss", frozenset({"supervisor"}), "china_mobile")
        assert visibility.incident_detail(tenant_boss) == "reason"


def test_a_customer_reads_its_own_step_whole_and_others_without_candidates(platform):
    iid = _survey(platform)
    with platform.Session() as session:
        survey, confirm = session.scalars(select(HumanTask).where(HumanTask.instance_id == iid)
                                          .order_by(HumanTask.id)).all()
        assert visibility.task_view(CUSTOMER, confirm)["candidate_groups"] == ["operator"]
        view = visibility.task_view(CUSTOMER, survey)
        assert "candidate_users" not in view and "assignee" not in view and "form_key" not in view
        assert view["title"] == survey.title
        assert visibility.task_view(STAFF, survey)["assignee"] == "zhao"

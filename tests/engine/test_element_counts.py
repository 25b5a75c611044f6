"""engine.queries.element_counts: the cockpit's per-element badges and the "who is here"
list, read from instance_tokens: waiting boundary events count apart as listeners, open
incidents by element, and everything scoped to the actor's tenant."""

from __future__ import annotations

from helpers import deploy
from sqlalchemy import select

from engine.models import ProcessDefinition
from engine.principal import Principal
from engine.queries import element_counts, insight
from engine.runtime import instances, jobs

STAFF = Principal("staff", frozenset({"clerk", "regional_manager"}))
SUPERVISOR = Principal("boss", frozenset({"supervisor"}))
MOBILE = Principal("cm", frozenset({"supervisor"}), tenant="china_mobile")


def definition_id(platform, key: str) -> int:
    with platform.Session() as session:
        return session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key))


def counts(platform, key: str, actor=SUPERVISOR) -> element_counts.ElementCounts:
    with platform.Session() as session:
        return element_counts.element_counts(session, actor, definition_id(platform, key))


def test_a_waiting_boundary_timer_is_a_listener_not_an_instance_here(platform):
    deploy(platform, "jobs_reminder.bpmn")
    for n in range(3):
        instances.start(platform, STAFF, "jobs_reminder", f"R-{n}")
    found = counts(platform, "jobs_reminder")
    assert found.running == {"review": 3}
    assert found.listeners == {"remind": 3}
    assert found.incidents == {}
    with platform.Session() as session:  # the heatmap's "now" agrees: the boundary is not "at"
        definition = session.get(ProcessDefinition, definition_id(platform, "jobs_reminder"))
        assert insight.heatmap(platform, session, SUPERVISOR, definition).now == {"review": 3}


def test_counts_and_the_list_follow_the_tenant(platform):
    deploy(platform, "jobs_reminder.bpmn")
    mine = instances.start(platform, STAFF, "jobs_reminder", "M-1", tenant="china_mobile")
    instances.start(platform, STAFF, "jobs_reminder", "U-1", tenant="china_unicom")
    assert counts(platform, "jobs_reminder", MOBILE).running == {"review": 1}
    assert counts(platform, "jobs_reminder").running == {"review": 2}
    with platform.Session() as session:
        found, total = element_counts.instances_at(session, MOBILE, definition_id(platform, "jobs_reminder"), "review")
        assert (total, [item.id for item in found]) == (1, [mine])
        assert found[0].business_key == "M-1" and found[0].kind == "active"
        found, total = element_counts.instances_at(session, SUPERVISOR, definition_id(platform, "jobs_reminder"),
                                                   "remind")
        assert total == 2 and {item.kind for item in found} == {"listener"}
        assert element_counts.instances_at(session, SUPERVISOR, definition_id(platform, "jobs_reminder"),
                                           "start")[1] == 0


def test_an_open_incident_is_counted_at_its_element(platform, services):
    def pms(params, call):
        raise RuntimeError("PMS is down")

    services.add("test.sup_pms", pms)
    deploy(platform, "ui_sup_fail.bpmn")
    failing = instances.start(platform, STAFF, "ui_sup_fail", "F-1")
    jobs.drain(platform, failing)
    found = counts(platform, "ui_sup_fail")
    assert found.incidents == {"sync": 1}
    assert found.running == {"sync": 1}
    assert counts(platform, "ui_sup_fail", MOBILE).incidents == {}  # not their tenant's

"""Open incidents grouped by error (issue 15, point 4): messages that differ only in numbers
and ids are one group, with count and first/last seen; a group is retried as one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import deploy
from sqlalchemy import select

from engine.errors import Forbidden, NotFound
from engine.models import HumanTask, Incident, ProcessInstance
from engine.principal import Principal
from engine.queries import incident_groups
from engine.runtime import instances, jobs

CLERK = Principal("wang", frozenset({"clerk"}))
SUPERVISOR = Principal("zhao", frozenset({"supervisor"}))


class Pms:
    def __init__(self):
        self.answer = "500"

    def __call__(self, params, call):
        if self.answer == "500":
            raise RuntimeError(f"order {call.instance_id} failed: PMS at 10.0.0.7:8080 answered 500")
        if self.answer == "auth":
            raise PermissionError(f"token for site {params['site']} was refused")
        return {"project": "P-1"}


@pytest.fixture
def pms(platform, services):
    handler = Pms()
    services.add("test.repairs_pms", handler)
    deploy(platform, "repairs_sync.bpmn")
    return handler


def start(platform, tenant=None, site="T-1") -> int:
    instance_id = instances.start(platform, CLERK, "repairs_sync", f"S-{site}", {"site": site}, tenant=tenant)
    jobs.drain(platform, instance_id)
    return instance_id


def groups(platform, actor=SUPERVISOR):
    with platform.Session() as session:
        return incident_groups.incident_groups(platform, session, actor)


def test_messages_differing_in_numbers_and_ids_are_one_group():
    assert incident_groups.normalise("order 123 failed") == incident_groups.normalise("order 456 failed")
    assert incident_groups.normalise("site T-0042 refused (3a7f9c2e-1111-2222-3333-444455556666)") == \
        incident_groups.normalise("site T-0099 refused (0b1c2d3e-aaaa-bbbb-cccc-ddddeeeeffff)")
    assert incident_groups.normalise("order 1 failed") != incident_groups.normalise("order 1 refused")


def test_groups_count_first_and_last_seen_and_name_the_element(platform, pms, clock):
    first = [start(platform, site=f"T-{n}") for n in range(3)]
    clock.advance(timedelta(hours=1))
    later = start(platform, site="T-9")
    pms.answer = "auth"
    other = start(platform, site="T-5")
    [big, small] = groups(platform)
    assert (big.count, big.process_key, big.element_id, big.element_name) == (4, "repairs_sync", "register",
                                                                              "Register in PMS")
    assert big.kind == "service_failed"
    assert "PMS at <n> answered <n>" in big.pattern and "RuntimeError" in big.sample
    assert big.last_seen - big.first_seen >= timedelta(hours=1)
    assert sorted(big.instance_ids) == sorted([*first, later])
    assert small.count == 1 and small.instance_ids == [other] and "PermissionError" in small.sample
    assert big.key != small.key and len(big.as_dict()["incidents"]) == 4


def test_a_tenant_sees_only_its_own_incidents_as_one_line_reasons(platform, pms):
    start(platform, tenant="china_mobile")
    start(platform, tenant="china_unicom")
    start(platform, tenant="china_unicom")
    customer = Principal("cm", frozenset({"operator"}), tenant="china_mobile")
    [group] = groups(platform, customer)
    assert group.count == 1 and "PMS" not in group.sample
    assert [g.count for g in groups(platform)] == [3]


def test_retry_a_group_retries_each_incident_and_the_instances_go_on(platform, pms):
    ids = [start(platform, site=f"T-{n}") for n in range(3)]
    pms.answer = "auth"
    stays = start(platform)
    [big, small] = groups(platform)
    with pytest.raises(Forbidden):
        incident_groups.retry_group(platform, CLERK, big.key)
    with pytest.raises(NotFound):
        incident_groups.retry_group(platform, SUPERVISOR, "0" * 16)

    pms.answer = "ok"
    result = incident_groups.retry_group(platform, SUPERVISOR, big.key)
    assert len(result.retried) == 3 and result.failed == []
    assert [g.key for g in groups(platform)] == [small.key]
    with platform.Session() as session:
        assert [session.get(ProcessInstance, i).state for i in ids] == ["waiting"] * 3
        assert session.get(ProcessInstance, stays).state == "error"
        assert len(session.scalars(select(HumanTask).where(HumanTask.element_id == "follow_up")).all()) == 3
        assert session.scalar(select(Incident).where(Incident.instance_id == ids[0])).resolved_by == "zhao"


def test_an_incident_retried_meanwhile_is_reported_and_the_rest_still_go(platform, pms, monkeypatch):
    ids = [start(platform, site=f"T-{n}") for n in range(3)]
    [group] = groups(platform)
    pms.answer = "ok"
    real_find = incident_groups.find_group

    def stale_then_retry(*args):  # another supervisor retries the first incident after the page was read
        found = real_find(*args)
        jobs.retry_incident(platform, SUPERVISOR, found.incidents[0].id)
        return found

    monkeypatch.setattr(incident_groups, "find_group", stale_then_retry)
    result = incident_groups.retry_group(platform, SUPERVISOR, group.key)
    assert len(result.retried) == 2
    [(incident_id, instance_id, reason)] = result.failed
    assert instance_id == ids[0] and "already resolved" in reason

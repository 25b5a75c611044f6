"""Bulk retry, suspend, resume and terminate (issue 15, point 4): over ids or a filter, in
batches, each instance on its own, so one refusal is reported and the rest still happen."""

from __future__ import annotations

import pytest
from repairs_world import BrokenPms, install_pms
from sqlalchemy import select

from engine.errors import BadRequest, Forbidden
from engine.models import AuditEvent, HumanTask, Incident, ProcessInstance
from engine.principal import Principal
from engine.runtime import bulk, instances, jobs, tasks

CLERK = Principal("wang", frozenset({"clerk"}))
SUPERVISOR = Principal("zhao", frozenset({"supervisor"}))


@pytest.fixture
def pms(platform, services) -> BrokenPms:
    return install_pms(platform, services)


def start(platform, key="repairs_order", tenant=None, **variables) -> int:
    instance_id = instances.start(platform, CLERK, key, "B-1", {"amount": 30, "site": "T-1", **variables},
                                  tenant=tenant)
    jobs.drain(platform, instance_id)
    return instance_id


def states(platform, ids) -> list[str]:
    with platform.Session() as session:
        return [session.get(ProcessInstance, i).state for i in ids]


def test_suspend_by_filter_in_batches_reports_the_one_it_could_not(platform, pms):
    ids = [start(platform) for _ in range(5)]
    instances.terminate(platform, SUPERVISOR, ids[2], "duplicate")
    result = bulk.bulk(platform, SUPERVISOR, "suspend", flt=instances.InstanceFilter(process_key="repairs_order"),
                       reason="PMS maintenance tonight", batch_size=2)
    assert (result.total, result.done, result.batches) == (5, 4, 3)
    [failure] = result.failed
    assert failure.instance_id == ids[2] and "terminated" in failure.message
    assert states(platform, ids) == ["suspended", "suspended", "terminated", "suspended", "suspended"]
    with platform.Session() as session:
        reasons = [e.data.get("reason") for e in session.scalars(select(AuditEvent).where(
            AuditEvent.action == "instance.suspended"))]
    assert reasons == ["PMS maintenance tonight"] * 4

    result = bulk.bulk(platform, SUPERVISOR, "resume", instance_ids=[ids[0], ids[1]])
    assert result.done == 2 and not result.failed
    assert states(platform, ids[:2]) == ["waiting", "waiting"]


def test_terminate_needs_a_reason_and_the_list_filter_decides_which(platform, pms):
    mine = [start(platform, amount=n) for n in (1, 2)]
    other = start(platform, key="repairs_sync")  # in error: PMS is down
    with pytest.raises(BadRequest, match="reason"):
        bulk.bulk(platform, SUPERVISOR, "terminate", instance_ids=mine)
    assert states(platform, mine) == ["waiting", "waiting"]
    result = bulk.bulk(platform, SUPERVISOR, "terminate", flt=instances.InstanceFilter(process_key="repairs_order"),
                       reason="cancelled by the customer")
    assert result.done == 2
    assert states(platform, [*mine, other]) == ["terminated", "terminated", "error"]


def test_retry_retries_every_open_incident_and_the_instances_go_on(platform, pms):
    failing = [start(platform, key="repairs_sync", site=f"T-{n}") for n in range(3)]
    healthy = start(platform)
    assert states(platform, failing) == ["error"] * 3
    pms.broken = False
    result = bulk.bulk(platform, SUPERVISOR, "retry", instance_ids=[*failing, healthy])
    assert result.done == 3 and result.retried_incidents == 3
    [failure] = result.failed
    assert failure.instance_id == healthy and "no open incident" in failure.message
    assert states(platform, failing) == ["waiting"] * 3
    with platform.Session() as session:
        assert session.scalar(select(Incident.id).where(Incident.state == "open")) is None
        assert len(session.scalars(select(HumanTask).where(HumanTask.element_id == "follow_up")).all()) == 3


def test_a_called_process_is_reported_not_changed(platform, pms):
    root = start(platform, amount=10)
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == root))
    tasks.complete(platform, CLERK, task_id, {})
    with platform.Session() as session:
        called = session.scalar(select(ProcessInstance.id).where(ProcessInstance.parent_id == root))
    result = bulk.bulk(platform, SUPERVISOR, "suspend", instance_ids=[called, root], reason="hold")
    assert result.done == 1
    [failure] = result.failed
    assert failure.instance_id == called and "act on that instance" in failure.message
    assert states(platform, [root, called]) == ["suspended", "suspended"]  # the called row follows its root


def test_refusals_before_anything_changes(platform, pms, monkeypatch):
    ids = [start(platform) for _ in range(3)]
    with pytest.raises(Forbidden):
        bulk.bulk(platform, CLERK, "suspend", instance_ids=ids)
    with pytest.raises(BadRequest, match="unknown bulk action"):
        bulk.bulk(platform, SUPERVISOR, "delete", instance_ids=ids)
    with pytest.raises(BadRequest, match="no instance matches"):
        bulk.bulk(platform, SUPERVISOR, "suspend", flt=instances.InstanceFilter(process_key="nothing"))
    monkeypatch.setattr(bulk, "MAX_INSTANCES", 2)
    with pytest.raises(BadRequest, match="at most 2"):
        bulk.bulk(platform, SUPERVISOR, "suspend", flt=instances.InstanceFilter(process_key="repairs_order"))
    assert states(platform, ids) == ["waiting"] * 3


def test_an_operator_reaches_only_its_own_tenant(platform, pms):
    mine = start(platform, tenant="china_mobile")
    theirs = start(platform, tenant="china_unicom")
    boss = Principal("op", frozenset({"supervisor"}), tenant="china_mobile")
    result = bulk.bulk(platform, boss, "suspend", flt=instances.InstanceFilter())
    assert result.total == 1 and result.done == 1
    result = bulk.bulk(platform, boss, "suspend", instance_ids=[theirs])
    assert result.done == 0 and "does not exist" in result.failed[0].message
    assert states(platform, [mine, theirs]) == ["suspended", "waiting"]


def test_retry_over_a_filter_takes_only_the_instances_with_an_open_incident(platform, pms):
    failing = [start(platform, key="repairs_sync", site=f"T-{n}") for n in range(2)]
    start(platform)  # a waiting order, in no trouble
    pms.broken = False
    result = bulk.bulk(platform, SUPERVISOR, "retry", flt=instances.InstanceFilter())
    assert (result.total, result.done, result.failed) == (2, 2, [])
    assert states(platform, failing) == ["waiting", "waiting"]

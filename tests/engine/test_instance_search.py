"""Find any instance (issue 15, point 5): filters by variable value (equal, contains, number
above / below), by the element an instance is at now, by the process that called it, on real
tower orders of Flow 1 and the negotiations they call; tenant scoping holds for all of them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parents[1] / "flows"))  # Flow 1's drivers, when run on its own
from test_flow_tower_order import deployed, failed_screening, people, to_screening  # noqa: E402, F401

from engine.errors import BadRequest  # noqa: E402
from engine.models import ProcessInstance  # noqa: E402
from engine.principal import Principal  # noqa: E402
from engine.runtime import instances  # noqa: E402
from engine.runtime.instances import InstanceFilter  # noqa: E402

SUPERVISOR = Principal("zhou", frozenset({"supervisor"}))
MOBILE = Principal("cmcc_wang", frozenset({"operator"}), tenant="china_mobile")
UNICOM = Principal("cucc_zhang", frozenset({"operator"}), tenant="china_unicom")


def found(platform, flt: InstanceFilter, actor: Principal = SUPERVISOR) -> list[int]:
    with platform.Session() as session:
        rows, total = instances.list_instances(session, actor, flt, now=platform.clock.now())
    assert total == len(rows)
    return sorted(r.id for r in rows)


@pytest.fixture
def world(platform, deployed, people):  # noqa: F811
    """Three tower orders: two at the screening (one with a taller antenna), one negotiating."""
    at_screening = to_screening(people, "XQ-001")
    tall = to_screening(people, "XQ-002", antenna_height=50, site_name="东湖高塔站")
    negotiating = failed_screening(people, "XQ-003")
    with platform.Session() as session:
        [called] = session.scalars(select(ProcessInstance.id).where(ProcessInstance.parent_id == negotiating))
    return {"at_screening": at_screening, "tall": tall, "negotiating": negotiating, "called": called}


def test_variable_equal_contains_and_numbers(platform, world):
    w = world
    assert found(platform, InstanceFilter(variables=[("demand_no", "eq", "XQ-002")])) == [w["tall"]]
    assert found(platform, InstanceFilter(variables=[("site_name", "contains", "东湖")])) == [w["tall"]]
    assert found(platform, InstanceFilter(process_key="tower_order",
                                          variables=[("site_name", "contains", "玄武湖站")])) == sorted(
        [w["at_screening"], w["negotiating"]])
    assert found(platform, InstanceFilter(variables=[("antenna_height", "gt", "40")])) == [w["tall"]]
    assert found(platform, InstanceFilter(process_key="tower_order",
                                          variables=[("antenna_height", "lt", "40")])) == sorted(
        [w["at_screening"], w["negotiating"]])
    # conditions combine with AND
    assert found(platform, InstanceFilter(variables=[("antenna_height", "gt", "40"),
                                                     ("demand_no", "eq", "XQ-001")])) == []
    # a text is never a number: comparing a text variable finds nothing and breaks nothing
    assert found(platform, InstanceFilter(variables=[("site_name", "gt", "1")])) == []


def test_element_finds_the_instances_now_there(platform, world):
    w = world
    assert found(platform, InstanceFilter(process_key="tower_order", element="screening")) == sorted(
        [w["at_screening"], w["tall"]])
    # the call activity holds the token of the negotiation it called
    assert found(platform, InstanceFilter(process_key="tower_order", element="negotiation")) == [w["negotiating"]]
    # the negotiation's own step is on the called row
    assert found(platform, InstanceFilter(element="report")) == [w["called"]]


def test_called_negotiations_are_found_by_their_own_key_with_their_parent(platform, world):
    w = world
    assert found(platform, InstanceFilter(process_key="site_negotiation")) == [w["called"]]
    assert found(platform, InstanceFilter(parent_key="tower_order")) == [w["called"]]
    assert found(platform, InstanceFilter(process_key="site_negotiation", top_level=True)) == []
    assert w["called"] not in found(platform, InstanceFilter(top_level=True))
    with platform.Session() as session:
        called = session.get(ProcessInstance, w["called"])
        assert (called.parent_id, called.state, called.business_key) == (w["negotiating"], "waiting", "XQ-003")


def test_tenants_see_only_their_own(platform, world):
    flt = InstanceFilter(variables=[("site_name", "contains", "站")])
    everything = found(platform, flt)
    assert len(everything) == 4  # three orders and the called negotiation carry a site name
    assert found(platform, flt, MOBILE) == everything  # the demands are China Mobile's
    assert found(platform, flt, UNICOM) == []
    assert found(platform, InstanceFilter(process_key="site_negotiation"), UNICOM) == []


@pytest.mark.parametrize("condition", [("antenna_height", "gt", "高"), ("site_name", "like", "x"), ("", "eq", "x")])
def test_a_malformed_condition_is_refused(platform, world, condition):
    with pytest.raises(BadRequest):
        found(platform, InstanceFilter(variables=[condition]))


def test_the_api_filters_the_same_way(world, people):  # noqa: F811
    w = world
    api = people.supervisor
    r = api.get("/api/v1/process-instances?var=site_name:contains:东湖")
    assert r.status_code == 200, r.json
    assert [i["id"] for i in r.json["items"]] == [w["tall"]]
    r = api.get("/api/v1/process-instances?process_key=tower_order&element=screening&var=antenna_height:lt:40")
    assert [i["id"] for i in r.json["items"]] == [w["at_screening"]]
    r = api.get("/api/v1/process-instances?process_key=site_negotiation&parent_key=tower_order")
    [item] = r.json["items"]
    assert (item["id"], item["parent_id"], item["root_id"], item["parent_business_key"]) == (
        w["called"], w["negotiating"], w["negotiating"], "XQ-003")
    r = api.get(f"/api/v1/process-instances/{w['negotiating']}")
    assert [(c["id"], c["process_key"], c["state"]) for c in r.json["called"]] == [
        (w["called"], "site_negotiation", "waiting")]
    assert r.json["parent_id"] is None
    bad = api.get("/api/v1/process-instances?var=antenna_height:gt:tall")
    assert bad.status_code == 400
    bad = api.get("/api/v1/process-instances?var=site_name")
    assert bad.status_code in (400, 422)


def test_tasks_of_a_called_negotiation_name_it_and_their_caller(world, people):  # noqa: F811
    r = people.supervisor.get("/api/v1/tasks?process_key=site_negotiation")
    assert r.status_code == 200, r.json
    [task] = r.json["items"]
    assert (task["process_key"], task["element_id"], task["called_instance_id"]) == (
        "site_negotiation", "report", world["called"])
    assert (task["parent_process_key"], task["parent_business_key"]) == ("tower_order", "XQ-003")
    detail = people.supervisor.get(f"/api/v1/tasks/{task['id']}").json
    assert (detail["called_instance_id"], detail["parent_business_key"]) == (world["called"], "XQ-003")
    plain = people.supervisor.get("/api/v1/tasks?process_key=tower_order").json["items"]
    assert plain and all(t["called_instance_id"] is None and t["parent_business_key"] is None for t in plain)

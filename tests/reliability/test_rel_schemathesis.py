"""Schemathesis against /api/v1/openapi.json: generated requests to every operation, as a user
who may do everything, over a database with instances, tasks, incidents and messages in it.
No answer may be a server error or break the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from helpers import deploy
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from engine.principal import SYSTEM
from engine.runtime import instances, jobs

EXAMPLES_PER_OPERATION = 12


def billing_down(params, call):
    raise ConnectionError("billing system unreachable")


@pytest.fixture
def world(platform, services, api):
    """Something behind every id: instances waiting, one with an incident, tasks, a message."""
    services.add("test.billing_down", billing_down)
    deploy(platform, "tasks_inbox.bpmn", "tasks_tenant.bpmn", "msg_wait.bpmn")
    for n in range(3):
        instances.start(platform, SYSTEM, "tasks_inbox", f"SITE-{n}")
        instances.start(platform, SYSTEM, "msg_wait", f"D-{n}")
    failing = instances.start(platform, SYSTEM, "tasks_tenant", "ORDER-1", {"site": "S-1"}, tenant="china_mobile")
    jobs.drain(platform, failing)  # its billing call fails: an incident
    return api("root", ["admin"])


def test_no_generated_request_gets_a_server_error_or_a_response_breaking_the_schema(app, world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = dict(world.headers)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        strategy = operation.as_strategy()

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def check(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()  # noqa: B023
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    print(f"schemathesis: {operations} operations, up to {EXAMPLES_PER_OPERATION} generated requests each")
    assert operations >= 20
    assert failures == [], "\n\n".join(failures)


def test_a_demand_whose_operator_is_an_object_is_a_422_not_a_500(world, api):
    manager = api("cm", ["customer_manager"])
    demand = {"demand_no": "D-1", "province": "浙江", "city": "杭州", "county": "西湖", "site_name": "文三路",
              "longitude": 120.1, "latitude": 30.2, "tower_type": "ground", "antenna_height": 30,
              "demand_type": "new", "expected_delivery": "2026-12-31", "operator": {"name": "china_mobile"}}
    response = manager.post("/api/v1/demands", json=demand)
    assert response.status_code == 422, (response.status_code, response.json)

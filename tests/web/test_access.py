"""Users and access through the REST API: tokens, roles and tenant isolation.

Tenant isolation: the same process runs for two operator tenants, China Mobile (A) and
China Unicom (B). Each instance has an open user task for the ``operator`` group, waits for the
message ``site_ready`` and has an incident (its billing handler is down). A's users must not
see or touch anything of B's: every such request answers 404, exactly as for an id that does
not exist.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from helpers import UserClient, deploy, read

from engine import identity

TENANT_A, TENANT_B = "china_mobile", "china_unicom"


# --- helpers -----------------------------------------------------------------------------------

def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.json)
    body = response.json
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.json)
    return response.json


def login(client, username: str, password: str):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def bearer(client, token: str) -> UserClient:
    return UserClient(client, token)


def with_session(platform, fn, *args):
    with platform.transaction() as session:
        return fn(session, *args)


def upload(*names: str) -> dict:
    return {"data": {"files": [(io.BytesIO(read(n)), n) for n in names]},
            "content_type": "multipart/form-data"}


# --- tokens --------------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/1"),
    ("post", "/api/v1/tasks/1/claim"),
    ("post", "/api/v1/tasks/1/complete"),
    ("get", "/api/v1/process-instances"),
    ("post", "/api/v1/process-instances"),
    ("get", "/api/v1/process-instances/1"),
    ("get", "/api/v1/process-instances/1/history"),
    ("post", "/api/v1/process-instances/1/suspend"),
    ("get", "/api/v1/incidents"),
    ("post", "/api/v1/incidents/1/retry"),
    ("post", "/api/v1/messages"),
    ("get", "/api/v1/deployments"),
    ("post", "/api/v1/deployments"),
    ("get", "/api/v1/process-definitions"),
]


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_no_token_answers_401_with_a_json_error(api, method, url):
    response = getattr(api.anonymous, method)(url)
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("header", [
    "Bearer not-a-real-token",
    "Bearer ",
    "Basic bGk6cGFzc3dvcmQxMjM=",
    "not-a-real-token",
])
def test_a_wrong_token_answers_401(api, header):
    api("li", ["city_director"])  # a user exists, with a token of its own
    for method, url in ENDPOINTS:
        response = getattr(api.anonymous, method)(url, headers={"Authorization": header})
        assert_error(response, 401, "unauthorized")


def test_login_with_username_and_password_answers_a_working_token(api):
    api("li", ["city_director"])  # password123
    response = login(api.anonymous, "li", "password123")
    assert response.status_code in (200, 201), response.json
    assert set(response.json) == {"token", "id", "expires_at"}

    li = bearer(api.anonymous, response.json["token"])
    assert ok(li.get("/api/v1/tasks"))["total"] == 0


@pytest.mark.parametrize("username, password", [
    ("li", "wrong-password"),
    ("li", ""),
    ("nobody", "password123"),
    ("LI", "password123"),
])
def test_login_with_wrong_credentials_answers_401(api, username, password):
    api("li", ["city_director"])
    assert_error(login(api.anonymous, username, password), 401, "unauthorized")


def test_login_without_username_or_password_is_refused(api):
    response = api.anonymous.post("/api/v1/auth/token", json={"username": "li"})
    assert_error(response, 422, "validation_failed")


def test_a_revoked_token_stops_working_at_once(api, platform):
    api("li", ["city_director"])
    token = login(api.anonymous, "li", "password123").json["token"]
    li = bearer(api.anonymous, token)
    ok(li.get("/api/v1/tasks"))

    with_session(platform, identity.revoke_token, token)

    assert_error(li.get("/api/v1/tasks"), 401, "unauthorized")
    assert_error(li.get("/api/v1/process-instances"), 401, "unauthorized")


def test_revoking_one_token_leaves_the_others_working(api, platform):
    first = api("li", ["city_director"])
    token = login(api.anonymous, "li", "password123").json["token"]
    with_session(platform, identity.revoke_token, token)
    ok(first.get("/api/v1/tasks"))


def test_a_disabled_users_token_stops_working(api, platform):
    li = api("li", ["city_director"])
    ok(li.get("/api/v1/tasks"))

    with_session(platform, identity.set_disabled, "li", True)
    assert_error(li.get("/api/v1/tasks"), 401, "unauthorized")
    assert_error(login(api.anonymous, "li", "password123"), 401, "unauthorized")

    with_session(platform, identity.set_disabled, "li", False)
    ok(li.get("/api/v1/tasks"))


# --- roles ---------------------------------------------------------------------------------------

def count_definitions(client) -> int:
    return ok(client.get("/api/v1/process-definitions"))["total"]


@pytest.mark.parametrize("groups, tenant", [
    (["city_director"], None),
    (["supervisor"], None),
    (["operator"], TENANT_A),
])
def test_only_designers_and_admins_may_deploy(api, groups, tenant):
    someone = api("someone", groups, tenant)
    assert_error(someone.post("/api/v1/deployments", **upload("tasks_inbox.bpmn")), 403, "forbidden")
    assert count_definitions(someone) == 0


@pytest.mark.parametrize("groups", [["designer"], ["admin"]])
def test_designers_and_admins_may_deploy(api, groups):
    someone = api("someone", groups)
    result = ok(someone.post("/api/v1/deployments", **upload("tasks_inbox.bpmn")), 201)
    assert [p["key"] for p in result["processes"]] == ["tasks_inbox"]
    assert count_definitions(someone) == 1


# --- two tenants -----------------------------------------------------------------------------------

@dataclass
class Tenants:
    admin: UserClient
    instance_a: dict
    instance_b: dict

    @property
    def task_a(self) -> dict:
        return self.instance_a["active_tasks"][0]

    @property
    def task_b(self) -> dict:
        return self.instance_b["active_tasks"][0]

    @property
    def incident_a(self) -> dict:
        return self.instance_a["incidents"][0]

    @property
    def incident_b(self) -> dict:
        return self.instance_b["incidents"][0]

    def instance(self, instance_id: int) -> dict:
        return ok(self.admin.get(f"/api/v1/process-instances/{instance_id}"))

    def task(self, task_id: int) -> dict:
        return ok(self.admin.get(f"/api/v1/tasks/{task_id}"))


def billing_down(params, call):
    raise ConnectionError("billing system unreachable")


def start_order(client, business_key: str, tenant: str | None = None) -> dict:
    body = {"process_key": "tasks_tenant", "business_key": business_key, "variables": {"site": business_key}}
    if tenant is not None:
        body["tenant"] = tenant
    return ok(client.post("/api/v1/process-instances", json=body), 201)


@pytest.fixture
def tenants(platform, services, api) -> Tenants:
    services.add("test.billing_down", billing_down)
    deploy(platform, "tasks_tenant.bpmn")
    admin = api("admin", ["admin"])
    first = start_order(admin, "ORDER-A", TENANT_A)
    second = start_order(admin, "ORDER-B", TENANT_B)
    world = Tenants(admin, admin_view(admin, first), admin_view(admin, second))
    for instance, tenant in ((world.instance_a, TENANT_A), (world.instance_b, TENANT_B)):
        assert instance["tenant"] == tenant
        assert instance["state"] == "error"
        assert [t["title"] for t in instance["active_tasks"]] == ["Confirm the site order"]
        assert len(instance["incidents"]) == 1
    return world


def admin_view(admin, instance: dict) -> dict:
    return ok(admin.get(f"/api/v1/process-instances/{instance['id']}"))


@pytest.fixture
def operator_a(api) -> UserClient:
    return api("op_a", ["operator"], TENANT_A)


@pytest.fixture
def supervisor_a(api) -> UserClient:
    return api("sup_a", ["operator", "supervisor"], TENANT_A)


@pytest.fixture
def operator_b(api) -> UserClient:
    return api("op_b", ["operator"], TENANT_B)


def test_an_operator_sees_its_own_tenants_work(tenants, operator_a):
    """The positive side of every 404 below: the same requests work on A's own resources."""
    instance_id, task_id = tenants.instance_a["id"], tenants.task_a["id"]
    assert ok(operator_a.get(f"/api/v1/process-instances/{instance_id}"))["tenant"] == TENANT_A
    assert ok(operator_a.get(f"/api/v1/process-instances/{instance_id}/history"))["total"] > 0
    assert ok(operator_a.get(f"/api/v1/tasks/{task_id}"))["tenant"] == TENANT_A
    assert ok(operator_a.post(f"/api/v1/tasks/{task_id}/claim"))["assignee"] == "op_a"
    assert ok(operator_a.post(f"/api/v1/tasks/{task_id}/unclaim"))["assignee"] is None
    done = ok(operator_a.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"comment": "confirmed"}}))
    assert done["variables"]["comment"] == "confirmed"


@pytest.mark.parametrize("user", ["operator_a", "supervisor_a"])
def test_another_tenants_instance_answers_404(tenants, request, user):
    client = request.getfixturevalue(user)
    instance_id = tenants.instance_b["id"]
    assert_error(client.get(f"/api/v1/process-instances/{instance_id}"), 404, "not_found")
    assert_error(client.get(f"/api/v1/process-instances/{instance_id}/history"), 404, "not_found")


def test_a_supervisor_cannot_suspend_resume_or_terminate_another_tenants_instance(tenants, supervisor_a):
    url = f"/api/v1/process-instances/{tenants.instance_b['id']}"
    before = tenants.instance(tenants.instance_b["id"])

    assert_error(supervisor_a.post(f"{url}/suspend"), 404, "not_found")
    assert_error(supervisor_a.post(f"{url}/terminate", json={"reason": "not mine"}), 404, "not_found")
    assert tenants.instance(tenants.instance_b["id"]) == before

    ok(tenants.admin.post(f"{url}/suspend"))
    assert_error(supervisor_a.post(f"{url}/resume"), 404, "not_found")
    assert tenants.instance(tenants.instance_b["id"])["state"] == "suspended"

    # while the same supervisor may act on its own tenant's instance
    own = f"/api/v1/process-instances/{tenants.instance_a['id']}"
    assert ok(supervisor_a.post(f"{own}/suspend"))["state"] == "suspended"
    assert ok(supervisor_a.post(f"{own}/resume"))["state"] == "error"
    assert ok(supervisor_a.post(f"{own}/terminate", json={"reason": "cancelled order"}))["state"] == "terminated"


def test_another_tenants_task_answers_404_on_every_action(tenants, operator_a, operator_b):
    task_id = tenants.task_b["id"]
    url = f"/api/v1/tasks/{task_id}"
    assert_error(operator_a.get(url), 404, "not_found")
    assert_error(operator_a.post(f"{url}/claim"), 404, "not_found")
    assert_error(operator_a.post(f"{url}/complete", json={"data": {"comment": "mine now"}}), 404, "not_found")
    assert tenants.task(task_id)["assignee"] is None

    ok(operator_b.post(f"{url}/claim"))
    assert_error(operator_a.post(f"{url}/unclaim"), 404, "not_found")
    assert_error(operator_a.post(f"{url}/assign", json={"user": "op_a"}), 404, "not_found")
    assert_error(operator_a.post(f"{url}/complete", json={"data": {"comment": "mine now"}}), 404, "not_found")

    task = tenants.task(task_id)
    assert (task["state"], task["assignee"]) == ("open", "op_b")
    assert "comment" not in tenants.instance(tenants.instance_b["id"])["variables"]


def test_an_admin_cannot_hand_a_task_to_another_tenants_user(tenants, operator_a):
    """Handing B's task to A's operator would show A nothing (404) yet block B's work."""
    url = f"/api/v1/tasks/{tenants.task_b['id']}"
    assert_error(tenants.admin.post(f"{url}/assign", json={"user": "op_a"}), 422, "validation_failed")
    assert tenants.task(tenants.task_b["id"])["assignee"] is None


@pytest.mark.parametrize("user", ["operator_a", "supervisor_a"])
def test_lists_never_show_another_tenants_rows(tenants, request, user):
    client = request.getfixturevalue(user)
    a, b = tenants.instance_a, tenants.instance_b

    instances = ok(client.get("/api/v1/process-instances"))
    assert [i["id"] for i in instances["items"]] == [a["id"]]
    assert instances["total"] == 1
    for query in ({"tenant": TENANT_B}, {"business_key": "ORDER-B"},
                  {"process_key": "tasks_tenant", "tenant": TENANT_B}):
        assert ok(client.get("/api/v1/process-instances", query_string=query))["total"] == 0

    tasks = ok(client.get("/api/v1/tasks"))
    assert [t["id"] for t in tasks["items"]] == [tenants.task_a["id"]]
    assert tasks["total"] == 1
    for query in ({"business_key": "ORDER-B"}, {"candidate": "me", "business_key": "ORDER-B"}, {"overdue": "false"}):
        listed = ok(client.get("/api/v1/tasks", query_string=query))
        assert b["id"] not in [t["process_instance_id"] for t in listed["items"]]

    incidents = ok(client.get("/api/v1/incidents", query_string={"state": "all"}))
    assert [i["process_instance_id"] for i in incidents["items"]] == [a["id"]]
    assert incidents["total"] == 1
    assert ok(client.get("/api/v1/incidents", query_string={"process_instance_id": b["id"]}))["total"] == 0


def test_staff_without_a_tenant_see_every_tenant(tenants, api):
    supervisor = api("sup", ["supervisor"])
    assert ok(supervisor.get("/api/v1/process-instances"))["total"] == 2
    assert ok(supervisor.get("/api/v1/tasks"))["total"] == 2
    assert ok(supervisor.get("/api/v1/incidents"))["total"] == 2


def test_a_supervisor_cannot_retry_another_tenants_incident(tenants, supervisor_a):
    incident_b = tenants.incident_b["id"]
    assert_error(supervisor_a.post(f"/api/v1/incidents/{incident_b}/retry"), 404, "not_found")
    assert [i["id"] for i in tenants.instance(tenants.instance_b["id"])["incidents"]] == [incident_b]

    retried = ok(supervisor_a.post(f"/api/v1/incidents/{tenants.incident_a['id']}/retry"))
    assert retried["state"] == "resolved"
    assert retried["resolved_by"] == "sup_a"


def deliver(client, business_key: str | None, message_id: str):
    return client.post("/api/v1/messages", json={
        "name": "site_ready", "business_key": business_key, "payload": {"ready": True}, "message_id": message_id})


def test_a_message_cannot_reach_another_tenants_instance(tenants, operator_a, operator_b):
    assert_error(deliver(operator_a, "ORDER-B", "m-1"), 404, "not_found")
    assert "ready" not in tenants.instance(tenants.instance_b["id"])["variables"]

    # without a business key it reaches only A's own instance
    assert ok(deliver(operator_a, None, "m-2"))["delivered_to"] == [tenants.instance_a["id"]]
    # B's instance is still waiting: B's own operator reaches it
    assert ok(deliver(operator_b, "ORDER-B", "m-3"))["delivered_to"] == [tenants.instance_b["id"]]


def test_the_same_business_key_in_two_tenants_stays_apart(tenants, operator_a, operator_b):
    mine, theirs = start_order(tenants.admin, "ORDER-1", TENANT_A), start_order(tenants.admin, "ORDER-1", TENANT_B)
    assert ok(deliver(operator_a, "ORDER-1", "m-1"))["delivered_to"] == [mine["id"]]
    assert ok(deliver(operator_b, "ORDER-1", "m-2"))["delivered_to"] == [theirs["id"]]


def test_an_operator_starts_only_in_its_own_tenant(tenants, operator_a):
    assert_error(operator_a.post("/api/v1/process-instances", json={
        "process_key": "tasks_tenant", "business_key": "ORDER-X", "tenant": TENANT_B}), 403, "forbidden")
    assert start_order(operator_a, "ORDER-X")["tenant"] == TENANT_A
    assert start_order(operator_a, "ORDER-Y", TENANT_A)["tenant"] == TENANT_A


# --- who may suspend, resume, terminate, retry -------------------------------------------------------

@pytest.mark.parametrize("groups, tenant", [
    (["city_director"], None),
    (["designer"], None),
    (["operator"], TENANT_A),
])
def test_only_supervisors_and_admins_may_suspend_resume_terminate_and_retry(tenants, api, groups, tenant):
    someone = api("someone", groups, tenant)
    url = f"/api/v1/process-instances/{tenants.instance_a['id']}"
    assert_error(someone.post(f"{url}/suspend"), 403, "forbidden")
    assert_error(someone.post(f"{url}/terminate", json={"reason": "why not"}), 403, "forbidden")
    ok(tenants.admin.post(f"{url}/suspend"))
    assert_error(someone.post(f"{url}/resume"), 403, "forbidden")
    assert_error(someone.post(f"/api/v1/incidents/{tenants.incident_a['id']}/retry"), 403, "forbidden")

    instance = tenants.instance(tenants.instance_a["id"])
    assert instance["state"] == "suspended"
    assert [i["id"] for i in instance["incidents"]] == [tenants.incident_a["id"]]


@pytest.mark.parametrize("groups", [["supervisor"], ["admin"]])
def test_supervisors_and_admins_may_suspend_resume_terminate_and_retry(tenants, api, groups):
    boss = api("boss", groups)
    url = f"/api/v1/process-instances/{tenants.instance_a['id']}"
    assert ok(boss.post(f"{url}/suspend"))["state"] == "suspended"
    assert ok(boss.post(f"{url}/resume"))["state"] == "error"
    assert ok(boss.post(f"/api/v1/incidents/{tenants.incident_a['id']}/retry"))["resolved_by"] == "boss"
    ended = ok(boss.post(f"{url}/terminate", json={"reason": "customer withdrew"}))
    assert (ended["state"], ended["end_reason"]) == ("terminated", "customer withdrew")

"""Access: tenant isolation on every endpoint and page with an id in its path, candidates only,
deploy roles, CSRF on every form, hashed passwords, slowed failed sign-ins, revoked tokens."""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta

import pytest
from helpers import deploy, read
from relhelp import call
from sqlalchemy import select

from engine import identity
from engine.models import HumanTask, Incident, LoginFailure, User
from engine.principal import SYSTEM
from engine.runtime import files, instances, jobs

TENANT_A, TENANT_B = "china_mobile", "china_unicom"
# Every group but admin: a tenant user with all of them passes every role check, so only the
# tenant check can stop it.
ALL_GROUPS = ["operator", "supervisor", "designer", "customer_manager", "clerk", "city_director", "dispatcher"]
ID_PARAMS = {"instance_id", "task_id", "file_id", "incident_id"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def billing_down(params, call):
    raise ConnectionError("billing system unreachable")


@pytest.fixture
def world(platform, services, api):
    """Tenant B's instance with an open task, a waiting message, an incident and a file."""
    services.add("test.billing_down", billing_down)
    deploy(platform, "tasks_tenant.bpmn")
    ids = {}
    for tenant, key in ((TENANT_A, "ORDER-A"), (TENANT_B, "ORDER-B")):
        instance_id = instances.start(platform, SYSTEM, "tasks_tenant", key, {"site": key}, tenant=tenant)
        jobs.drain(platform, instance_id)
        with platform.Session() as session:
            task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id))
            incident_id = session.scalar(select(Incident.id).where(Incident.instance_id == instance_id))
        file_id = files.store(platform, SYSTEM, "scan", files.Upload("scan.png", PNG),
                              files.Limits(10**6, ("image/png",)), instance_id=instance_id, task_id=task_id)
        ids[tenant] = {"instance_id": instance_id, "task_id": task_id, "incident_id": incident_id, "file_id": file_id}
        assert incident_id is not None
    return ids


def signed_in(app, platform, username: str, groups: list[str], tenant: str | None = None):
    with platform.transaction() as session:
        identity.add_user(session, username, "password123", groups, tenant)
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": "password123", "csrf_token": csrf(client)})
    assert r.status_code == 302
    return client


def csrf(client, url: str = "/login") -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(url).get_data(as_text=True))[1]


def id_routes(app) -> list[tuple[str, str, dict]]:
    """(method, url, rule) for every route with an instance, task, file or incident id in its path."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not set(rule.arguments) & ID_PARAMS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, rule))
    return routes


def url_for_rule(rule, ids: dict) -> str:
    values = {name: ids[name] for name in rule.arguments if name in ids}
    values.update({name: "suspend" for name in rule.arguments if name == "action"})
    values.update({name: "comment" for name in rule.arguments if name == "name"})  # a variable's name
    values.update({name: "review" for name in rule.arguments if name == "element_id"})
    missing = set(rule.arguments) - set(values)
    assert not missing, f"{rule.rule}: no value for {missing}; teach this test about it"
    return rule.build(values)[1]


def test_tenant_a_gets_404_on_every_route_with_tenant_b_ids(app, platform, api, world):
    routes = id_routes(app)
    api_user = api("op_a", ALL_GROUPS, TENANT_A)
    page_user = signed_in(app, platform, "page_a", ALL_GROUPS, TENANT_A)
    token = csrf(page_user, "/inbox")
    tried = 0
    for method, rule in routes:
        url = url_for_rule(rule, world[TENANT_B])
        if url.startswith("/api/"):
            body = {"terminate": {"reason": "x"}, "assign": {"user": "op_a"},
                    "complete": {"data": {"comment": "x"}},
                    "comment": {"value": "x", "type": "text", "reason": "x"}}.get(url.rsplit("/", 1)[-1])
            sends = method in ("POST", "PUT")
            r = getattr(api_user, method.lower())(url, json=body) if sends else api_user.get(url)
        else:
            data = {"csrf_token": token, "action": "complete", "comment": "x", "reason": "x", "confirmed": "yes"}
            r = page_user.open(url, method=method, data=data if method == "POST" else None)
        assert r.status_code == 404, (method, url, r.status_code)
        tried += 1
    # nothing of B's changed
    with platform.Session() as session:
        task = session.get(HumanTask, world[TENANT_B]["task_id"])
        assert (task.state, task.assignee) == ("open", None)
        assert session.get(Incident, world[TENANT_B]["incident_id"]).state == "open"
    # and the same ids are real: B's own operator reaches them
    op_b = api("op_b", ["operator"], TENANT_B)
    assert op_b.get(f"/api/v1/process-instances/{world[TENANT_B]['instance_id']}").status_code == 200
    assert op_b.get(f"/api/v1/tasks/{world[TENANT_B]['task_id']}").status_code == 200
    assert tried >= 20
    print(f"routes with ids tried by tenant A on tenant B's data: {tried}, every one 404")


def test_tenant_a_cannot_reach_tenant_b_with_a_message_or_in_lists(api, world):
    op_a = api("op_a", ALL_GROUPS, TENANT_A)
    r = op_a.post("/api/v1/messages", json={"name": "site_ready", "business_key": "ORDER-B", "message_id": "m1",
                                            "payload": {"ready": True}})
    assert r.status_code == 404
    for url in ("/api/v1/process-instances", "/api/v1/tasks", "/api/v1/incidents?state=all"):
        listed = op_a.get(url).json["items"]
        assert {i.get("tenant", TENANT_A) for i in listed} <= {TENANT_A}
        assert world[TENANT_B]["instance_id"] not in {i.get("process_instance_id", i.get("id")) for i in listed}


def test_a_user_outside_the_candidates_can_neither_claim_nor_complete(app, platform, api, world):
    task_id = world[TENANT_A]["task_id"]
    outsider = api("planner", ["planning"], TENANT_A)
    assert outsider.post(f"/api/v1/tasks/{task_id}/claim").status_code == 403
    assert outsider.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"comment": "x"}}).status_code == 403
    page = signed_in(app, platform, "planner2", ["planning"], TENANT_A)
    token = csrf(page, "/inbox")
    page.post(f"/tasks/{task_id}/claim", data={"csrf_token": token})
    page.post(f"/tasks/{task_id}", data={"csrf_token": token, "action": "complete", "comment": "x"})
    with platform.Session() as session:
        task = session.get(HumanTask, task_id)
        assert (task.state, task.assignee) == ("open", None)


@pytest.mark.parametrize("groups", [["operator"], ["supervisor"], ["customer_manager"], ["clerk"]])
def test_only_designers_and_admins_deploy_through_the_pages(app, platform, groups):
    from engine.models import Deployment

    page = signed_in(app, platform, "someone", groups)
    token = csrf(page, "/inbox")
    xml = read("tasks_inbox.bpmn")
    assert page.post("/designer/deploy", json={"filename": "a.bpmn", "xml": xml.decode()},
                     headers={"X-CSRFToken": token}).status_code == 403
    r = page.post("/designer/upload", data={"files": (io.BytesIO(xml), "a.bpmn"), "csrf_token": token},
                  content_type="multipart/form-data")
    assert r.status_code == 403
    with platform.Session() as session:
        assert session.scalars(select(Deployment)).all() == []


def test_every_form_needs_its_csrf_token(app, platform, world):
    admin = signed_in(app, platform, "root", ["admin"])
    posts = [rule for rule in app.url_map.iter_rules()
             if "POST" in rule.methods and not rule.rule.startswith("/api/")]
    ids = {**world[TENANT_A], "username": "root", "key": "tasks_tenant", "token": "x", "action": "suspend",
           "filter_id": 1, "demand_no": "XQ-2026-0001", "name": "comment",
           "source_id": 1, "token_id": 1}
    for rule in posts:
        url = rule.build({name: ids[name] for name in rule.arguments})[1]
        r = admin.post(url, data={"comment": "x", "reason": "x"})
        assert r.status_code == 400, (url, r.status_code)
        assert "csrf" in r.get_data(as_text=True).lower(), url
    with platform.Session() as session:
        task = session.get(HumanTask, world[TENANT_A]["task_id"])
        assert (task.state, task.assignee) == ("open", None)
    assert len(posts) >= 15
    print(f"forms refused without their CSRF token: {len(posts)}")


def test_every_post_form_on_the_pages_carries_a_csrf_token(app, platform, world):
    admin = signed_in(app, platform, "root", ["admin"])
    pages = ["/inbox", f"/tasks/{world[TENANT_A]['task_id']}", "/instances",
             f"/instances/{world[TENANT_A]['instance_id']}", "/start", "/designer/", "/admin/users",
             "/admin/users/new", "/admin/users/root", "/definitions", "/dashboard"]
    forms = 0
    for url in pages:
        html = admin.get(url).get_data(as_text=True)
        for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, flags=re.S | re.I):
            forms += 1
            assert 'name="csrf_token"' in form, (url, form[:200])
    assert forms >= 5


def test_passwords_are_stored_only_as_argon2id_hashes(platform, api):
    api("li", ["clerk"])
    with platform.Session() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "li"))
    assert stored.startswith("$argon2id$") and "password123" not in stored


# --- failed sign-ins -------------------------------------------------------------------------------

def login(client, username, password):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_repeated_failed_sign_ins_are_slowed_down_then_let_through(api, clock):
    api("li", ["clerk"])
    client = api.anonymous
    for _ in range(identity.FREE_LOGIN_FAILURES):
        assert login(client, "li", "wrong-password").status_code == 401
    locked = login(client, "li", "password123")  # even the right password waits now
    assert locked.status_code == 429
    assert locked.json["error"]["code"] == "too_many_attempts"
    assert int(locked.headers["Retry-After"]) >= 1
    assert login(client, "LI", "password123").status_code == 429, "the count is per username, any case"
    clock.advance(timedelta(seconds=1))
    assert login(client, "li", "wrong-again").status_code == 401
    assert int(login(client, "li", "password123").headers["Retry-After"]) >= 2, "each failure doubles the wait"
    clock.advance(timedelta(minutes=15))
    assert login(client, "li", "password123").status_code == 201
    assert login(client, "li", "wrong-password").status_code == 401, "a success starts the count afresh"
    assert login(client, "li", "password123").status_code == 201


def test_the_wait_doubles_from_one_second_to_at_most_fifteen_minutes():
    free = identity.FREE_LOGIN_FAILURES
    waits = [identity.login_delay(free + n).total_seconds() for n in range(12)]
    assert waits[:4] == [1, 2, 4, 8] and max(waits) == 900 and waits == sorted(waits)
    assert identity.login_delay(10**6) == timedelta(minutes=15)


def test_counts_of_names_nobody_tried_for_a_day_are_forgotten(platform, api, clock):
    """An attacker spraying made-up names must not fill the table."""
    client = api.anonymous
    for n in range(20):
        assert login(client, f"made-up-{n}", "guess").status_code == 401
    clock.advance(timedelta(days=2))
    assert login(client, "li", "guess").status_code == 401
    with platform.Session() as session:
        assert session.scalars(select(LoginFailure.key)).all() == ["li"]


def test_the_sign_in_page_is_slowed_down_too(app, platform, clock):
    with platform.transaction() as session:
        identity.add_user(session, "li", "password123", ["clerk"])
    client = app.test_client()
    for _ in range(identity.FREE_LOGIN_FAILURES):
        r = client.post("/login", data={"username": "li", "password": "nope", "csrf_token": csrf(client)})
        assert r.status_code == 200
    r = client.post("/login", data={"username": "li", "password": "password123", "csrf_token": csrf(client)})
    assert r.status_code == 429 and "Retry-After" in r.headers
    clock.advance(timedelta(minutes=15))
    r = client.post("/login", data={"username": "li", "password": "password123", "csrf_token": csrf(client)})
    assert r.status_code == 302


def test_failed_sign_ins_on_two_server_processes_add_up(platform, api, spawn):
    api("li", ["clerk"])
    servers = [spawn.server(), spawn.server()]
    for n in range(identity.FREE_LOGIN_FAILURES):
        status, _ = call("POST", f"{servers[n % 2].base}/api/v1/auth/token", body={"username": "li", "password": "x"})
        assert status in (401, 429)
    with platform.Session() as session:
        record = session.get(LoginFailure, "li")
    assert record.failures == identity.FREE_LOGIN_FAILURES and record.locked_until is not None


def test_a_revoked_token_stops_at_once_on_another_server_process(platform, api, spawn):
    """At once when that process keeps no token cache (TOWERFLOW_TOKEN_CACHE_SECONDS=0)."""
    api("li", ["clerk"])
    with platform.transaction() as session:
        token = identity.create_token(session, "li")
    server = spawn.server(extra_env={"TOWERFLOW_TOKEN_CACHE_SECONDS": "0"})
    assert call("GET", f"{server.base}/api/v1/tasks", token)[0] == 200
    with platform.transaction() as session:
        identity.revoke_token(session, token)
    assert call("GET", f"{server.base}/api/v1/tasks", token)[0] == 401


def test_a_revoked_token_stops_on_another_server_process_once_its_cache_entry_expires(platform, api, spawn):
    """With a token cache, another process obeys a revocation when its entry runs out (here 1 s)."""
    api("li", ["clerk"])
    with platform.transaction() as session:
        token = identity.create_token(session, "li")
    server = spawn.server(extra_env={"TOWERFLOW_TOKEN_CACHE_SECONDS": "1"})
    assert call("GET", f"{server.base}/api/v1/tasks", token)[0] == 200
    with platform.transaction() as session:
        identity.revoke_token(session, token)
    give_up = time.monotonic() + 60  # a generous bound for a busy machine, not a timing target
    while call("GET", f"{server.base}/api/v1/tasks", token)[0] != 401:
        assert time.monotonic() < give_up, "the revoked token still works a minute later"
        time.sleep(0.2)

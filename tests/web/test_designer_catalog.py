"""The modeler's catalog (GET /designer/catalog.json): what its pickers offer, to designers only."""

from __future__ import annotations

import re

import pytest
from helpers import deploy, read

from engine import identity
from engine.definitions import deployments
from engine.principal import SYSTEM

PASSWORD = "password123"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def signed_in(app, platform):
    """``signed_in("li", ["designer"])``: a test client of a new user, signed in."""

    def make(username: str, groups: list[str], tenant: str | None = None, display_name: str = ""):
        with platform.transaction() as session:
            identity.add_user(session, username, PASSWORD, groups, tenant, display_name=display_name)
        client = app.test_client()
        token = CSRF.search(client.get("/login").text).group(1)
        r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 302, r.text
        return client

    return make


def test_the_catalog_lists_what_the_pickers_need(signed_in, platform):
    deploy(platform, "ui_des_order.bpmn", "lint/good/site_fee.dmn")
    signed_in("li", ["city_director", "ops"], display_name="李主管")
    des = signed_in("des", ["designer"])
    r = des.get("/designer/catalog.json")
    assert r.status_code == 200 and r.is_json
    body = r.json
    assert set(body) == {"forms", "groups", "users", "operators", "processes", "decisions"}

    forms = {f["key"]: f for f in body["forms"]}
    assert "approval" in forms and "comment" in forms
    approved = next(f for f in forms["approval"]["fields"] if f["name"] == "approved")
    assert approved == {"name": "approved", "label": "是否同意", "type": "Boolean", "required": True}

    groups = {g["id"]: g for g in body["groups"]}
    assert groups["city_director"]["known"] and groups["city_director"]["label"] == "地市建维主任"
    assert groups["ops"] == {"id": "ops", "label": "", "known": False}  # a group only some user has
    assert "designer" in groups

    users = {u["username"]: u for u in body["users"]}
    assert users["li"] == {"username": "li", "display_name": "李主管", "groups": ["city_director", "ops"]}
    assert "sms.send" in body["operators"] and body["operators"] == sorted(body["operators"])
    assert {"key": "ui_des_order", "name": "Site order review", "version": 1} in body["processes"]
    assert [d["key"] for d in body["decisions"]] == ["site_fee"]


def test_labels_follow_the_page_language(signed_in, platform):
    des = signed_in("des", ["designer"])
    des.get("/lang/en")
    body = des.get("/designer/catalog.json").json
    approval = next(f for f in body["forms"] if f["key"] == "approval")
    assert approval["fields"][0]["label"] == "Approved"
    director = next(g for g in body["groups"] if g["id"] == "city_director")
    assert director["label"] == "City construction and maintenance director"


def test_processes_show_their_latest_version(signed_in, platform):
    deploy(platform, "ui_des_order.bpmn")
    changed = read("ui_des_order.bpmn").replace(b'name="Site order review"', b'name="Order review"')
    deployments.deploy(platform, SYSTEM, {"ui_des_order.bpmn": changed})
    body = signed_in("des", ["designer"]).get("/designer/catalog.json").json
    assert [p for p in body["processes"] if p["key"] == "ui_des_order"] == [
        {"key": "ui_des_order", "name": "Order review", "version": 2}]


def test_the_catalog_shows_no_secrets(signed_in, platform):
    signed_in("li", ["ops"])
    with platform.transaction() as session:
        token = identity.create_token(session, "li", "ci")
        stored_hash = identity.get_user(session, "li").password_hash
    text = signed_in("des", ["designer"]).get("/designer/catalog.json").get_data(as_text=True)
    assert stored_hash not in text and token not in text
    assert "password" not in text and "scrypt" not in text and "argon2" not in text and "token" not in text


def test_disabled_users_are_left_out_and_tenants_see_their_own(signed_in, platform):
    signed_in("gone", ["ops"])
    with platform.transaction() as session:
        identity.set_disabled(session, "gone")
    signed_in("a_user", ["ops"], tenant="tenant_a")
    signed_in("b_user", ["ops"], tenant="tenant_b")
    staff = signed_in("des", ["designer"]).get("/designer/catalog.json").json
    assert {"a_user", "b_user", "des"} <= {u["username"] for u in staff["users"]}
    assert "gone" not in {u["username"] for u in staff["users"]}
    tenant = signed_in("des_a", ["designer"], tenant="tenant_a").get("/designer/catalog.json").json
    assert {u["username"] for u in tenant["users"]} == {"a_user", "des_a"}


def test_admins_may_read_the_catalog(signed_in):
    assert signed_in("root", ["admin"]).get("/designer/catalog.json").status_code == 200


@pytest.mark.parametrize("groups", [["supervisor"], ["city_director"], []])
def test_others_are_refused(signed_in, groups):
    r = signed_in("sup", groups).get("/designer/catalog.json")
    assert r.status_code == 403
    assert "approval" not in r.get_data(as_text=True)


def test_anonymous_users_are_sent_to_sign_in(app):
    r = app.test_client().get("/designer/catalog.json")
    assert r.status_code in (302, 401)
    assert "approval" not in r.get_data(as_text=True)

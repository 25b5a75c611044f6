"""Security policy of every request and response (web/security.py, docs/security.md): values no
database stores are refused with 422 on both databases and nothing is stored; cookies and headers;
no page carries inline script."""

from __future__ import annotations

import json
import re

import pytest
from helpers import deploy
from sqlalchemy import func, select

from engine import identity
from engine.models import AdminEvent, ProcessInstance
from web.app import create_app
from web.security import CONTENT_SECURITY_POLICY


@pytest.fixture
def admin(api, platform):
    deploy(platform, "approval.bpmn")
    return api("root", ["admin"])


def instances(platform) -> int:
    with platform.Session() as session:
        return session.scalar(select(func.count()).select_from(ProcessInstance))


def assert_refused(response) -> dict:
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True)[:300])
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "validation_failed"
    assert "NUL" in error["message"]
    return error


@pytest.mark.parametrize("variables", [
    {"site_name": "文三路\u0000站"},
    {"nested": {"list": ["ok", "a\x00b"]}},
    {"key\u0000": "value"},
    {"site_name": "\ud800"},  # a lone surrogate: no UTF-8 database column holds it
])
def test_a_start_carrying_a_value_no_database_stores_is_422_and_stores_nothing(platform, admin, variables):
    answer = admin.post("/api/v1/process-instances",
                        json={"process_key": "approval", "business_key": "B-1", "variables": variables})
    error = assert_refused(answer)
    assert error["details"]["where"].startswith("body:variables")
    assert instances(platform) == 0
    good = admin.post("/api/v1/process-instances",
                      json={"process_key": "approval", "business_key": "B-1", "variables": {"site_name": "文三路站"}})
    assert good.status_code == 201, good.json
    assert instances(platform) == 1


@pytest.mark.parametrize("raw", ['{"process_key": "approval", "variables": {"x": NaN}}',
                                 '{"process_key": "approval", "variables": {"x": -Infinity}}',
                                 '{"process_key": "approval", "variables": {"x": "\\u0000"}}'])
def test_json_that_only_python_reads_is_refused_too(platform, admin, raw):
    answer = admin.post("/api/v1/process-instances", data=raw, content_type="application/json")
    assert_refused(answer)
    assert instances(platform) == 0


def test_query_strings_and_form_fields_are_checked(admin, app):
    assert assert_refused(admin.get("/api/v1/process-instances?business_key=a%00b"))["details"] == \
        {"where": "query:business_key"}
    # a page's form (the sign-in) and query string: the error page, in Chinese, nothing signed in
    client = app.test_client()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
    page = client.post("/login", data={"username": "root\x00", "password": "password123", "csrf_token": csrf},
                       headers={"Accept": "text/html"})
    assert page.status_code == 422
    assert "请求中有无法保存或查询的值" in page.get_data(as_text=True)
    assert "NUL" not in page.get_data(as_text=True)
    assert client.get("/inbox", headers={"Accept": "text/html"}).status_code == 302  # not signed in
    assert client.get("/inbox?q=%00", headers={"Accept": "text/html"}).status_code == 422


def test_without_a_token_the_answer_is_401_before_any_value_is_looked_at(platform, app):
    answer = app.test_client().post("/api/v1/process-instances",
                                    json={"process_key": "approval", "variables": {"x": "\x00"}})
    assert answer.status_code == 401


def test_the_chinese_api_message_is_chinese(admin):
    answer = admin.get("/api/v1/tasks?q=%00", headers={"Accept-Language": "zh"})
    assert re.search(r"[\u4e00-\u9fff]", assert_refused_zh(answer))


def assert_refused_zh(response) -> str:
    assert response.status_code == 422
    return response.json["error"]["message"]


# --------------------------------------------------------------------------------------------
# Headers and cookies


HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Frame-Options": "DENY",
           "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff"}


def test_every_kind_of_response_carries_the_security_headers(admin, app):
    client = app.test_client()
    for response in (client.get("/login"), client.get("/static/app.css"), client.get("/no-such-page"),
                     admin.get("/api/v1/tasks"), client.get("/api/v1/tasks"), client.get("/api/v1/openapi.json")):
        for name, value in HEADERS.items():
            assert response.headers.get(name) == value, (response.request.path, name)
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP: HSTS would lock users out
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"


def sign_in(client, username: str, password: str = "password123"):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)[1]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf})


def session_cookie(response) -> str:
    [cookie] = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    return cookie


def test_the_session_cookie_is_http_only_and_same_site_lax(platform, api):
    api("root", ["admin"])
    app = create_app({"TESTING": True}, platform=platform)
    response = sign_in(app.test_client(), "root")
    assert response.status_code == 302
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_behind_https_the_cookie_is_secure_and_hsts_is_sent(platform, api):
    api("root", ["admin"])
    platform.settings = type(platform.settings).from_env({**platform.settings.as_environ(),
                                                          "TOWERFLOW_COOKIE_SECURE": "true"})
    app = create_app({"TESTING": True}, platform=platform)
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    response = sign_in(app.test_client(), "root")
    cookie = session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


# --------------------------------------------------------------------------------------------
# No inline script: what the CSP forbids, no template may hold


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def test_no_template_holds_inline_script_or_event_handlers():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "web" / "templates"
    offenders = []
    for template in root.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        offenders += [f"{template.relative_to(root)}: {m[0]}" for m in INLINE_SCRIPT.finditer(text)]
        offenders += [f"{template.relative_to(root)}: {m[0][:60]}" for m in INLINE_HANDLER.finditer(text)]
    assert offenders == []


def test_pages_as_served_hold_no_inline_script(platform, api):
    api("root", ["admin"])
    client = create_app({"TESTING": True}, platform=platform).test_client()
    assert sign_in(client, "root").status_code == 302
    for url in ("/inbox", "/instances", "/admin/users", "/admin/events", "/dashboard", "/designer/"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert INLINE_SCRIPT.findall(page.get_data(as_text=True)) == [], url


def test_a_refused_request_leaves_no_token_and_no_admin_event(platform, admin):
    def counts():
        with platform.Session() as session:
            return (session.scalar(select(func.count()).select_from(AdminEvent)),
                    len(identity.list_tokens(session, "root")))

    before = counts()
    answer = admin.post("/api/v1/auth/token", json={"username": "root", "password": "password123\x00"})
    assert answer.status_code == 422
    assert json.loads(answer.get_data())["error"]["code"] == "validation_failed"
    assert counts() == before
    assert admin.post("/api/v1/auth/token", json={"username": "root", "password": "password123"}).status_code == 201
    assert counts() == (before[0] + 1, before[1] + 1)

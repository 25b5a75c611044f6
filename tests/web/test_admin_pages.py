"""User administration pages: admins only, errors next to their fields with typed values kept,
disabling ends a session at once, password reset, groups and tenant changes, both languages."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest

from engine import identity

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def add(platform):
    def make(username: str, groups: list[str], tenant: str | None = None, display_name: str = "") -> None:
        with platform.transaction() as session:
            identity.add_user(session, username, "password123", groups, tenant, display_name=display_name)

    return make


@pytest.fixture
def client_for(app):
    """``client_for("root")`` signs that user in on a fresh client (CSRF on, as in production)."""

    def make(username: str, password: str = "password123", lang: str = "zh"):
        client = app.test_client()
        client.get(f"/lang/{lang}")
        response = client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": token(client, "/login")})
        client.signed_in = response.status_code == 302
        return client

    return make


@pytest.fixture
def admin(add, client_for):
    add("root", ["admin"], display_name="管理员甲")
    return client_for("root")


def token(client, url: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(url).get_data(as_text=True))[1]


def post(client, url: str, data: dict, page: str = "/admin/users"):
    return client.post(url, data={**data, "csrf_token": token(client, page)})


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def user(platform, username: str):
    with platform.Session() as session:
        found = identity.get_user(session, username)
        return found.group_ids, found.tenant, found.disabled


def test_only_admins_reach_the_user_pages(add, client_for, app):
    add("wang", ["supervisor"])
    add("root", ["admin"])
    supervisor = client_for("wang")
    for url in ("/admin/users", "/admin/users/new", "/admin/users/root"):
        assert supervisor.get(url).status_code == 403
    for url in ("/admin/users/new", "/admin/users/root/disabled", "/admin/users/root/password",
                "/admin/users/root/access"):
        assert post(supervisor, url, {"username": "x", "password": "password123", "disabled": "1"},
                    page="/dashboard").status_code == 403
    anonymous = app.test_client().get("/admin/users")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert 'href="/admin/users"' not in supervisor.get("/dashboard").get_data(as_text=True)
    assert 'href="/admin/users"' in client_for("root").get("/admin/users").get_data(as_text=True)


def test_the_list_shows_every_user(admin, add):
    add("li", ["operator"], tenant="china_mobile", display_name="李明")
    add("zhou", ["maintenance", "field_team"])
    page = text(admin.get("/admin/users"))
    assert "李明" in page and "中国移动" in page and "运营商客户" in page and "field_team" in page
    assert "全部租户" in page  # zhou has no tenant
    filtered = text(admin.get("/admin/users?q=mobile"))
    assert "李明" in filtered and "zhou" not in filtered


def test_a_refused_user_shows_each_error_by_its_field_and_keeps_what_was_typed(admin, platform):
    response = post(admin, "/admin/users/new", {
        "username": "bad name", "display_name": "王五", "password": "short", "groups": ["maintenance", "supervisor"],
        "other_groups": "field_team, 9lives", "tenant": "china mobile"}, page="/admin/users/new")
    assert response.status_code == 422
    page = text(response)
    errors = dict(re.findall(r'data-testid="error-(\w+)">([^<]*)<', page))
    assert errors["username"] == "用户名只能包含字母、数字、“.”、“_”和“-”。"
    assert errors["password"] == "密码至少需要 8 个字符。"
    assert "9lives" in errors["groups"] and "china mobile" in errors["tenant"]
    assert 'value="bad name"' in page and 'value="王五"' in page and 'value="field_team, 9lives"' in page
    assert 'value="china mobile"' in page
    assert re.search(r'value="maintenance"\s+checked', page) and re.search(r'value="supervisor"\s+checked', page)
    assert not re.search(r'value="operator"\s+checked', page)
    assert 'name="password" autocomplete="new-password" required>' in page  # never echoed back
    with platform.Session() as session:
        assert [u.username for u in identity.list_users(session)] == ["root"]


def test_a_taken_username_is_refused_in_english_too(admin, add, client_for):
    add("li", ["operator"], tenant="china_mobile")
    response = post(admin, "/admin/users/new", {"username": "li", "password": "password123"}, page="/admin/users/new")
    assert response.status_code == 422 and "用户名 li 已被占用。" in text(response)
    english = client_for("root", lang="en")
    response = post(english, "/admin/users/new", {"username": "LI", "password": "password123"}, page="/admin/users/new")
    assert "The username LI differs from the existing user li only in upper and lower case." in text(response)


def test_an_added_user_can_sign_in_with_the_groups_and_tenant_given(admin, client_for, platform):
    response = post(admin, "/admin/users/new", {
        "username": "cmcc_zhang", "display_name": "张三", "password": "secret-pass", "groups": ["operator"],
        "other_groups": "province_team", "tenant": "china_mobile"}, page="/admin/users/new")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/users")
    assert "已添加用户 cmcc_zhang。" in text(admin.get("/admin/users"))
    assert user(platform, "cmcc_zhang") == (["operator", "province_team"], "china_mobile", False)
    new = client_for("cmcc_zhang", "secret-pass")
    assert new.signed_in and "张三" in text(new.get("/login"))


def test_disabling_a_user_ends_their_session_at_once_and_enabling_lets_them_back(admin, add, client_for, platform):
    add("wang", ["supervisor"])
    wang = client_for("wang")
    assert wang.get("/dashboard").status_code == 200
    with platform.transaction() as session:
        api_token = identity.create_token(session, "wang")
    api_headers = {"Authorization": f"Bearer {api_token}"}
    assert wang.get("/api/v1/tasks", headers=api_headers).status_code == 200
    response = post(admin, "/admin/users/wang/disabled", {"disabled": "1", "next": "/admin/users"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users"
    assert user(platform, "wang")[2] is True
    assert "已停用 wang，并使其退出登录。" in text(admin.get("/admin/users"))
    after = wang.get("/dashboard")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    assert not client_for("wang").signed_in
    assert wang.get("/api/v1/tasks", headers=api_headers).status_code == 401
    post(admin, "/admin/users/wang/disabled", {"disabled": "0"})
    assert user(platform, "wang")[2] is False
    assert client_for("wang").signed_in


def test_an_admin_cannot_disable_or_demote_themself(admin, platform):
    post(admin, "/admin/users/root/disabled", {"disabled": "1"})
    assert user(platform, "root")[2] is False
    assert "不能停用自己的账号。" in text(admin.get("/admin/users/root"))
    response = post(admin, "/admin/users/root/access", {"groups": ["supervisor"]}, page="/admin/users/root")
    assert response.status_code == 422 and "不能从自己的账号移除管理员组。" in text(response)
    assert user(platform, "root")[0] == ["admin"]


def test_reset_password(admin, add, client_for):
    add("wang", ["supervisor"])
    response = post(admin, "/admin/users/wang/password", {"password": "short"}, page="/admin/users/wang")
    assert response.status_code == 422 and "密码至少需要 8 个字符。" in text(response)
    assert client_for("wang").signed_in
    response = post(admin, "/admin/users/wang/password", {"password": "a-new-secret"}, page="/admin/users/wang")
    assert response.status_code == 302
    assert "已重置 wang 的密码。" in text(admin.get("/admin/users/wang"))
    assert not client_for("wang").signed_in
    assert client_for("wang", "a-new-secret").signed_in


def test_set_groups_and_tenant(admin, add, client_for, platform):
    add("li", ["operator"], tenant="china_mobile")
    li = client_for("li")
    response = post(admin, "/admin/users/li/access", {"groups": ["operator", "customer_manager"],
                                                      "other_groups": "vip_desk", "tenant": "china_unicom"},
                    page="/admin/users/li")
    assert response.status_code == 302
    assert user(platform, "li") == (["customer_manager", "operator", "vip_desk"], "china_unicom", False)
    header = text(li.get("/login"))  # the signed-in user sees the change on the next request
    assert "中国联通" in header and "客户经理" in header  # the tenant and groups in words
    page = text(admin.get("/admin/users/li"))
    assert "已保存 li 的组和租户。" in page and 'value="vip_desk"' in page
    response = post(admin, "/admin/users/li/access", {"groups": ["operator"], "tenant": ""}, page="/admin/users/li")
    assert user(platform, "li") == (["operator"], None, False)


def test_a_refused_change_keeps_what_was_typed_and_changes_nothing(admin, add, platform):
    add("li", ["operator"], tenant="china_mobile")
    response = post(admin, "/admin/users/li/access", {"groups": ["maintenance"], "other_groups": "-x",
                                                      "tenant": "china_unicom"}, page="/admin/users/li")
    assert response.status_code == 422
    page = text(response)
    assert "组标识 -x 必须以字母开头" in page and 'value="-x"' in page and 'value="china_unicom"' in page
    assert re.search(r'value="maintenance"\s+checked', page)
    assert user(platform, "li") == (["operator"], "china_mobile", False)


def test_unknown_users_are_404(admin):
    assert admin.get("/admin/users/nobody").status_code == 404
    assert post(admin, "/admin/users/nobody/password", {"password": "password123"}).status_code == 404


def test_a_form_without_its_csrf_token_is_refused(admin, platform):
    response = admin.post("/admin/users/new", data={"username": "sneaky", "password": "password123"})
    assert response.status_code == 400
    with platform.Session() as session:
        assert [u.username for u in identity.list_users(session)] == ["root"]


def test_english_labels(add, client_for):
    add("root", ["admin"])
    page = text(client_for("root", lang="en").get("/admin/users/new"))
    assert "Add user" in page and "Monitoring centre" in page and "Other groups" in page


def test_every_text_has_a_chinese_translation():
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    known = set()
    for area in ("core", "admin"):
        with open(ROOT / f"web/translations/{area}/zh/LC_MESSAGES/messages.po", "rb") as po:
            known |= {message.id for message in read_po(po) if message.id and message.string}
    sources = [ROOT / "web/ui/admin.py", *sorted((ROOT / "web/templates/admin").glob("*.html"))]
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}
    found = []
    for source in sources:
        method = "python" if source.suffix == ".py" else "jinja2.ext:babel_extract"
        found += [message for _, message, _, _ in extract_from_file(method, str(source), keywords=keywords)]
    assert found and [message for message in found if message not in known] == []


# --------------------------------------------------------------------------------------------
# API tokens and the admin log (issue 17)


def test_an_admin_sees_a_users_tokens_in_words_and_revokes_one_which_stops_at_once(admin, add, app, platform):
    add("wang", ["supervisor"])
    with platform.transaction() as session:
        kept = identity.create_token(session, "wang", name="cli")
        revoked = identity.create_token(session, "wang", name="pms integration", days=7)
        revoked_id = identity.find_token(session, revoked).id
    api = app.test_client()
    for value in (kept, revoked):
        assert api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {value}"}).status_code == 200
    page = text(admin.get("/admin/users/wang"))
    assert "命令行创建" in page and "pms integration" in page and "有效期至" in page and "最近使用" in page
    assert page.count('data-testid="revoke-token"') == 2
    assert "cli" not in re.sub(r"<[^>]+>", "", page).split("API 令牌", 1)[1].split("该用户的变更记录")[0]

    response = post(admin, f"/admin/users/wang/tokens/{revoked_id}/revoke", {}, page="/admin/users/wang")
    assert response.status_code == 302
    page = text(admin.get("/admin/users/wang"))
    assert "wang 的 API 令牌“pms integration”已吊销，即刻失效。" in page
    assert page.count('data-testid="revoke-token"') == 1 and "已吊销" in page
    assert api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {revoked}"}).status_code == 401
    assert api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {kept}"}).status_code == 200
    # a token of another user cannot be revoked through this user's page
    add("li", ["supervisor"])
    with platform.transaction() as session:
        other = identity.find_token(session, identity.create_token(session, "li")).id
    assert post(admin, f"/admin/users/wang/tokens/{other}/revoke", {}, page="/admin/users/wang").status_code == 404
    with platform.Session() as session:
        assert identity.find_token(session, other).revoked_at is None


def test_only_admins_revoke_tokens_and_read_the_log(admin, add, client_for, platform):
    add("wang", ["supervisor"])
    with platform.transaction() as session:
        token_id = identity.find_token(session, identity.create_token(session, "wang")).id
    wang = client_for("wang")
    assert wang.get("/admin/events").status_code == 403
    assert post(wang, f"/admin/users/wang/tokens/{token_id}/revoke", {}, page="/inbox").status_code == 403
    with platform.Session() as session:
        assert identity.find_token(session, token_id).revoked_at is None


def test_every_admin_action_is_in_the_log_newest_first_in_chinese_without_secrets(admin, client_for, platform):
    post(admin, "/admin/users/new", {"username": "zhang", "display_name": "张三", "password": "first-secret",
                                     "groups": ["operator"], "tenant": "china_mobile"}, page="/admin/users/new")
    post(admin, "/admin/users/zhang/access", {"groups": ["operator", "customer_manager"], "tenant": "china_unicom"},
         page="/admin/users/zhang")
    post(admin, "/admin/users/zhang/password", {"password": "second-secret"}, page="/admin/users/zhang")
    post(admin, "/admin/users/zhang/disabled", {"disabled": "1"})
    post(admin, "/admin/users/zhang/disabled", {"disabled": "0"})
    with platform.transaction() as session:
        token = identity.create_token(session, "zhang", name="pms", actor="root")
        token_id = identity.find_token(session, token).id
    post(admin, f"/admin/users/zhang/tokens/{token_id}/revoke", {}, page="/admin/users/zhang")

    page = text(admin.get("/admin/events"))
    actions = re.findall(r'data-testid="event-action">([^<]+)<', page)
    assert actions == ["吊销 API 令牌", "创建 API 令牌", "启用用户", "停用用户", "重置密码", "更改租户", "更改组",
                       "添加用户", "添加用户"]  # the last: root, added by the test (no actor: "命令行或系统")
    assert "命令行或系统" in page
    assert "由 运营商客户 改为 运营商客户、客户经理" in page or "由 运营商客户 改为 客户经理、运营商客户" in page
    assert "由 中国移动 改为 中国联通" in page
    assert "令牌“pms”" in page and "操作人" in page and "root" in page
    for secret in ("first-secret", "second-secret", token):
        assert secret not in page
    for code in ("user.created", "token.revoked", "groups_changed"):
        assert code not in page
    assert not re.search(r"[A-Za-z]{4,}", re.sub(r"<[^>]+>|UTC|zhang|root|pms|API", "", page.split('id="main">', 1)[1]))
    with platform.Session() as session:
        from sqlalchemy import select

        from engine.models import AdminEvent
        stored = [str(event.data) for event in session.scalars(select(AdminEvent))]
    assert stored and not any(secret in row for row in stored for secret in ("first-secret", "second-secret", token))
    # one user's changes on their own page, and the log filtered to them
    assert "该用户的变更记录" in text(admin.get("/admin/users/zhang"))
    assert re.findall(r'data-testid="event-action">', text(admin.get("/admin/events?user=zhang"))).__len__() == 8
    assert 'data-testid="no-events"' in text(admin.get("/admin/events?user=nobody"))


def test_a_change_that_changes_nothing_leaves_no_event_and_a_refused_one_neither(admin, add, platform):
    add("li", ["operator"], tenant="china_mobile")
    post(admin, "/admin/users/li/access", {"groups": ["operator"], "tenant": "china_mobile"}, page="/admin/users/li")
    post(admin, "/admin/users/li/access", {"groups": ["operator"], "other_groups": "-bad", "tenant": "x"},
         page="/admin/users/li")
    assert re.findall(r'data-testid="event-action">([^<]+)<', text(admin.get("/admin/events?user=li"))) == ["添加用户"]

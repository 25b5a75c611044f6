"""Every page of the demo world reads in Chinese: no English word, no raw code, for every kind of user.

The demo world (tower.demo: three operator tenants, forty demands driven through Flow 1, faults,
service requests, contracts) is seeded once for this module. Each demo user signs in (Chinese is
the default) and opens every page they can reach: the lists, each kind of instance, task, process
version and demand, the designer, the admin pages, and the error pages (403, 404, 409, 422 with
rule messages, 500). tests/chinese_text.py extracts what the reader sees and names each Latin word
that is not a proper name or an id; the test lists them by page.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from chinese_text import english_on_page, identifiers_shown, latin_words
from helpers import seed_demo_world
from sqlalchemy import select, text

from engine.clock import ManualClock
from engine.db import Base, make_engine
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from tower.demo import DEMO_PASSWORD, DEMO_USERS
from tower.models import Demand, DifficultSite
from web.app import build_platform, create_app

USERNAMES = [username for username, *_rest in DEMO_USERS]
# user names of people may be shown as they are (assignee, started by, the header)
ALLOWED = (*USERNAMES, "English")
TENANT_USERS = {username for username, _groups, tenant, _name in DEMO_USERS if tenant}


@pytest.fixture(scope="module")
def world(tmp_path_factory, _pg_url):
    """The demo world, seeded once; on PostgreSQL in this run's schema, emptied first."""
    if _pg_url:
        engine = make_engine(_pg_url)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} "
                              "RESTART IDENTITY CASCADE"))
        engine.dispose()
        url = _pg_url
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('demo')}/towerflow.db"
    platform = build_platform(url, clock=ManualClock())
    platform.init_db()
    seed_demo_world(platform)
    yield platform
    platform.close()


@pytest.fixture(scope="module")
def app(world):
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, platform=world)


def signed_in(app, username: str):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT"] = "text/html,application/xhtml+xml,*/*;q=0.8"  # as a browser asks
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, username
    return client


def world_urls(platform) -> list[str]:
    """Every page route, with a few of each kind of record (two instances per process, one task per title)."""
    urls = ["/", "/inbox", "/inbox?tab=group", "/inbox?tab=mine",
            "/inbox?tab=overdue", "/start", "/demands", "/instances", "/instances?state=completed",
            "/instances?state=error", "/definitions", "/designer/", "/designer/new", "/designer/decision/new",
            "/dashboard", "/admin/users", "/admin/users/new", "/admin/users/cmcc", "/login"]
    with platform.Session() as session:
        per_process: dict[str, list[int]] = defaultdict(list)
        for instance_id, key in session.execute(select(ProcessInstance.id, ProcessInstance.process_key)
                                                .order_by(ProcessInstance.id)):
            per_process[key].append(instance_id)
        urls += [f"/instances/{i}" for ids in per_process.values() for i in (ids[0], ids[-1])]
        urls += ["/incidents", "/instances/bulk?action=suspend&process=tower_order",  # the repairs pages
                 "/instances/bulk?action=retry&state=error", "/instances/bulk?action=terminate"]
        urls += [f"/instances?process={key}" for key in per_process]  # the search offers each process's words
        urls += ["/instances?process=site_negotiation&parent=tower_order", "/instances?vn=site_name&vo=contains&vv=站",
                 "/instances?process=tower_order&element=screening&choice=customer_level:eq:group"]
        for ids in per_process.values():
            variables = session.get(ProcessInstance, ids[-1]).variables or {}
            urls += [f"/instances/{ids[-1]}/variables/{name}/edit" for name in sorted(variables)[:3]]
        titles: dict[str, int] = {}
        for task_id, title in session.execute(select(HumanTask.id, HumanTask.title).order_by(HumanTask.id)):
            titles.setdefault(title, task_id)
        urls += [f"/tasks/{task_id}" for task_id in titles.values()]
        for key, version in session.execute(select(ProcessDefinition.key, ProcessDefinition.version)):
            urls += [f"/definitions/{key}/{version}", f"/designer/processes/{key}/edit", f"/designer/compare/{key}"]
        urls += [f"/migrations/{i}?show=1&state=waiting" for i in session.scalars(select(ProcessDefinition.id))]
        demands = list(session.scalars(select(Demand.demand_no).order_by(Demand.demand_no)))
        urls += [f"/demands/{no}" for no in demands[::5]]
        urls += [f"/demands/{no}/{action}" for no in demands[::10] for action in ("cancel", "change")]
        urls += ["/demands/new", "/demands/batch/acceptance", "/difficult-sites", "/contracts", "/service-requests"]
        urls += [f"/difficult-sites/{i}" for i in session.scalars(select(DifficultSite.id).limit(3))]
        urls += [f"/service-requests/{i}" for i in per_process.get("service_request", [])[:2]]
    return urls


def findings(client, urls: list[str], tenant_user: bool = False) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for url in urls:
        response = client.get(url)
        if response.status_code in (301, 302, 303) or not response.content_type.startswith("text/html"):
            continue
        html = response.get_data(as_text=True)
        words = english_on_page(html, ALLOWED)
        if tenant_user:  # an operator sees no ids at all, not even shown as code
            words += [(code, "<code>") for code in identifiers_shown(html)]
        if words:
            found[f"{url} ({response.status_code})"] = sorted(set(words))[:12]
    return found


@pytest.mark.parametrize("username", USERNAMES)
def test_every_page_reads_in_chinese(app, world, username):
    client = signed_in(app, username)
    found = findings(client, world_urls(world), tenant_user=username in TENANT_USERS)
    if found:
        pytest.fail("English on Chinese pages:\n" + "\n".join(f"{page}: {words}" for page, words in found.items()),
                    pytrace=False)


def test_the_error_pages_read_in_chinese(app, world):
    supervisor, operator = signed_in(app, "supervisor"), signed_in(app, "cmcc")
    with world.Session() as session:
        completed = session.scalar(select(ProcessInstance.id).where(ProcessInstance.state == "completed"))
    forbidden = operator.get("/admin/users")
    missing_instance = supervisor.get("/instances/999999")
    missing_task = supervisor.get("/tasks/999999")
    missing_version = supervisor.get("/definitions/tower_order/99")
    assert (forbidden.status_code, missing_instance.status_code, missing_task.status_code,
            missing_version.status_code) == (403, 404, 404, 404)
    refused = supervisor.post(f"/instances/{completed}/suspend", data={"confirmed": "yes"}, follow_redirects=True)
    pages = {"403": forbidden, "404 instance": missing_instance, "404 task": missing_task,
             "404 version": missing_version}
    for name, response in pages.items():
        assert english_on_page(response.get_data(as_text=True), ALLOWED) == [], name
    assert "您无权打开此页面" in forbidden.get_data(as_text=True)
    assert "流程实例 999999 不存在" in missing_instance.get_data(as_text=True)
    # 409: the refusal comes back as the flash on the instance's page
    [flash] = re.findall(r'<div class="flash error"[^>]*>(.*?)</div>', refused.get_data(as_text=True), re.S)
    assert flash.strip() == f"流程实例 {completed} 处于“已完成”状态，不能挂起"
    assert latin_words([flash]) == []


def test_a_server_error_page_reads_in_chinese_and_shows_nothing_internal(world):
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, platform=world)

    @app.get("/boom")
    def boom():
        raise RuntimeError("internal detail: KeyError in frobnicate()")

    client = signed_in(app, "supervisor")
    page = client.get("/boom")
    body = page.get_data(as_text=True)
    assert page.status_code == 500 and "服务器出错了" in body
    assert "frobnicate" not in body and "Traceback" not in body and "RuntimeError" not in body
    assert english_on_page(body, ALLOWED) == []


def test_a_refused_start_form_says_its_rules_in_chinese(app, world):
    """A fault without its circuit, then one for an 800 number without its customer type: each page
    comes back 422 with the rule in Chinese (marshmallow's own message, then the form's)."""
    manager = signed_in(app, "manager")
    fault = {"business_key": "", "customer_name": "杭州银行", "customer_level": "group",
             "business_category": "fixed_voice_800", "customer_type_800": "", "circuit_id": "",
             "contact_phone": "0571-1234", "channel": "on_behalf"}
    missing = manager.post("/start/fault_dispatch", data=fault)
    no_type = manager.post("/start/fault_dispatch", data={**fault, "circuit_id": "HZ-0001"})
    assert (missing.status_code, no_type.status_code) == (422, 422)
    assert "此项为必填项。" in missing.get_data(as_text=True)
    assert "800 及 4008 业务必须填写。" in no_type.get_data(as_text=True)
    for page in (missing, no_type):
        assert english_on_page(page.get_data(as_text=True), ALLOWED) == []


def test_a_rule_naming_a_field_and_value_says_both_in_words(app, world):
    """"Required when request_kind is 'product_change'." reads 需求类型为产品变更时必须填写."""
    operator = signed_in(app, "cmcc")
    page = operator.post("/start/service_request", data={
        "business_key": "", "request_kind": "product_change", "customer_name": "杭州银行",
        "contact_name": "陈女士", "contact_phone": "13900000000", "description": "升级带宽", "product": ""})
    body = page.get_data(as_text=True)
    assert page.status_code == 422, body[:300]
    assert re.search(r"“需求类型”为“产品变更”时必须填写。", body), body
    assert english_on_page(body, ALLOWED) == []


def test_a_refused_task_form_says_its_rule_in_chinese(app, world):
    """The operator sends a demand back without saying why: 请说明退回原因。 next to the comment field."""
    with world.Session() as session:
        task_id = session.scalar(
            select(HumanTask.id).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(HumanTask.element_id == "confirm_demand", HumanTask.state == "open",
                   ProcessInstance.tenant == "china_mobile").order_by(HumanTask.id))
    assert task_id is not None
    operator = signed_in(app, "cmcc")
    assert operator.post(f"/tasks/{task_id}/claim").status_code == 302
    page = operator.post(f"/tasks/{task_id}", data={"confirmed": "false", "confirm_comment": "", "action": "complete"})
    body = page.get_data(as_text=True)
    assert page.status_code == 422, body[:500]
    errors = re.findall(r'data-testid="error-([\w-]+)"[^>]*>(.*?)</span>', body)
    assert errors == [("confirm_comment", "请说明退回原因。")]
    with world.Session() as session:  # nothing changed: the task still waits
        assert session.get(HumanTask, task_id).completed_at is None

"""The dashboard page: who may open it, the numbers in its tables and chart data, both
languages, and a plain message when ECharts is missing."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import deploy
from sqlalchemy import select

from engine import identity
from engine.models import HumanTask
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, tasks

ROOT = Path(__file__).resolve().parents[2]
WORKER = Principal("worker", frozenset({"monitoring_center", "maintenance", "operator", "customer_manager"}))


@pytest.fixture
def sign_in(app, platform):
    """``sign_in("wang", ["supervisor"], tenant=None, lang="zh")`` gives a signed-in page client."""

    def make(username: str, groups: list[str], tenant: str | None = None, lang: str = "zh"):
        with platform.transaction() as session:
            identity.add_user(session, username, "password123", groups, tenant)
        client = app.test_client()
        client.get(f"/lang/{lang}")
        token = csrf_token(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"username": username, "password": "password123", "csrf_token": token})
        assert response.status_code == 302
        return client

    return make


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html)[1]


def chart_data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.S)[1])


def finish(platform, instance_id: int, element_id: str) -> None:
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.element_id == element_id, HumanTask.state == "open"))
    tasks.complete(platform, WORKER, task_id, {})


@pytest.fixture
def work(platform, clock):
    """Two repairs accepted (one in 10 min, one late in 50 min), one waiting order per tenant,
    then a day passes so the open repairs and orders are overdue."""
    deploy(platform, "ui_dash_repair.bpmn", "ui_dash_order.bpmn")
    first = instances.start(platform, SYSTEM, "ui_dash_repair", "F-1")
    second = instances.start(platform, SYSTEM, "ui_dash_repair", "F-2")
    clock.advance(timedelta(minutes=10))
    finish(platform, first, "accept")
    clock.advance(timedelta(minutes=40))
    finish(platform, second, "accept")
    instances.start(platform, SYSTEM, "ui_dash_order", "M-1", tenant="china_mobile")
    instances.start(platform, SYSTEM, "ui_dash_order", "U-1", tenant="china_unicom")
    clock.advance(timedelta(days=1, hours=1))
    return first, second


def test_supervisors_and_admins_open_it_others_get_403(sign_in, app):
    assert sign_in("wang", ["supervisor"]).get("/dashboard").status_code == 200
    assert sign_in("root", ["admin"]).get("/dashboard").status_code == 200
    assert sign_in("li", ["operator"], tenant="china_mobile").get("/dashboard").status_code == 403
    assert sign_in("des", ["designer"]).get("/dashboard").status_code == 403
    anonymous = app.test_client().get("/dashboard")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_navigation_shows_the_dashboard_to_supervisors_only(sign_in):
    assert 'href="/dashboard"' in sign_in("wang", ["supervisor"]).get("/dashboard").get_data(as_text=True)
    page = sign_in("chen", ["maintenance"]).get("/login").get_data(as_text=True)
    assert 'href="/dashboard"' not in page


def test_tables_and_chart_data_show_the_numbers(sign_in, work):
    html = sign_in("wang", ["supervisor"]).get("/dashboard").get_data(as_text=True)
    assert "统计看板" in html and "按流程和状态统计进行中的实例" in html
    assert re.search(r'data-testid="tile-open-instances">.*?<div class="value">4</div>', html, re.S)
    assert re.search(r'data-testid="overdue-count">4<', html)  # 2 repairs (4 h) and 2 orders (1 day)
    sla = re.search(r'data-testid="table-sla-steps">(.*?)</table>', html, re.S)[1]
    assert "Accept the fault" in sla and "50.0%" in sla
    cycle = re.search(r'data-testid="table-cycle-times">(.*?)</table>', html, re.S)[1]
    assert "30 分钟" in cycle and "46 分钟" in cycle  # median of 10 and 50 min; p90 = 46 min
    charts = chart_data(html)["charts"]
    assert charts["instances"]["categories"] == ["Order confirmation", "Fault repair"]
    assert [(s["name"], s["data"]) for s in charts["instances"]["series"]] == [("等待中", [2, 2])]
    assert charts["sla_steps"]["series"][0]["data"] == [1] and charts["sla_steps"]["series"][1]["data"] == [1]
    assert charts["cycle_times"]["unit"] == "分钟"
    assert charts["cycle_times"]["series"][0]["data"] == [30.0]
    assert "维护班组" in charts["tasks"]["categories"]
    assert 'id="chart-instances" data-chart="instances"' in html
    assert "/vendor/echarts.js" in html and "dashboard.js" in html


def test_overdue_tasks_link_to_their_instance_page(sign_in, work, app):
    html = sign_in("wang", ["supervisor"]).get("/dashboard").get_data(as_text=True)
    overdue = re.search(r'data-testid="table-overdue">(.*?)</table>', html, re.S)[1]
    assert "Confirm the order" in overdue and "Repair the fault" in overdue
    if "instances.show" in app.view_functions or "instances.detail" in app.view_functions:
        assert f'href="/instances/{work[0]}"' in overdue
    else:
        assert "<a " not in overdue


def test_a_supervisor_with_a_tenant_sees_only_that_tenant(sign_in, work):
    html = sign_in("cmcc_boss", ["supervisor"], tenant="china_mobile").get("/dashboard").get_data(as_text=True)
    assert "china_mobile" in html
    assert re.search(r'data-testid="overdue-count">1<', html)
    overdue = re.search(r'data-testid="table-overdue">(.*?)</table>', html, re.S)[1]
    assert "M-1" in overdue and "U-1" not in overdue and "F-1" not in overdue
    assert chart_data(html)["charts"]["instances"]["categories"] == ["Order confirmation"]
    assert 'data-testid="no-data-sla_steps"' in html


def test_english(sign_in, work):
    html = sign_in("wang", ["supervisor"], lang="en").get("/dashboard").get_data(as_text=True)
    assert "Open instances by process and state" in html and "Overdue tasks" in html
    assert "Maintenance team" in html and "30 min" in html
    assert chart_data(html)["charts"]["instances"]["series"][0]["name"] == "Waiting"


def test_an_empty_dashboard_says_there_is_no_data(sign_in):
    html = sign_in("wang", ["supervisor"]).get("/dashboard").get_data(as_text=True)
    assert 'data-testid="no-overdue"' in html and "没有超期任务" in html
    assert "data-chart=" not in html
    assert html.count("暂无数据") == 5


def test_without_echarts_the_page_says_so_and_keeps_the_tables(sign_in, work, monkeypatch):
    import web.assets
    import web.ui.dashboard

    missing = lambda: ["echarts/dist/echarts.min.js"]  # noqa: E731
    monkeypatch.setattr(web.assets, "missing_assets", missing)
    monkeypatch.setattr(web.ui.dashboard, "missing_assets", missing)
    html = sign_in("wang", ["supervisor"]).get("/dashboard").get_data(as_text=True)
    assert 'data-testid="assets-missing"' in html
    assert html.count('data-testid="chart-missing"') == 5 and "ECharts 未加载" in html
    assert "data-chart=" not in html and "/vendor/echarts.js" not in html
    assert 'data-testid="table-sla-steps"' in html and 'data-testid="table-cycle-times"' in html


def test_every_text_has_a_chinese_translation():
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    known = set()
    for area in ("core", "dashboard", "admin"):
        with open(ROOT / f"web/translations/{area}/zh/LC_MESSAGES/messages.po", "rb") as po:
            known |= {message.id for message in read_po(po) if message.id and message.string}
    sources = [ROOT / "web/ui/dashboard.py", ROOT / "web/templates/dashboard/index.html"]
    found = [message for source in sources for message in _messages(extract_from_file, source)]
    assert found and [message for message in found if message not in known] == []


def _messages(extract_from_file, source: Path) -> list[str]:
    method = "python" if source.suffix == ".py" else "jinja2.ext:babel_extract"
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}
    return [message for _, message, _, _ in extract_from_file(method, str(source), keywords=keywords)]

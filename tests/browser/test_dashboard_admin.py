"""In a real browser: a supervisor's dashboard draws its ECharts charts; an admin adds a user
and disables another."""

from __future__ import annotations

from datetime import timedelta

from helpers import deploy
from pages import screenshot, sign_in
from sqlalchemy import select

from engine.models import HumanTask
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, tasks

WORKER = Principal("worker", frozenset({"monitoring_center", "maintenance", "operator", "customer_manager"}))
CHARTS = ("instances", "tasks", "sla_processes", "sla_steps", "cycle_times")


def finish(platform, instance_id: int, element_id: str) -> None:
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.element_id == element_id, HumanTask.state == "open"))
    tasks.complete(platform, WORKER, task_id, {})


def some_work(platform, clock) -> None:
    """A few repairs and orders: some accepted on time, some late, some overdue now."""
    deploy(platform, "ui_dash_repair.bpmn", "ui_dash_order.bpmn")
    repairs = [instances.start(platform, SYSTEM, "ui_dash_repair", f"GZ-{n:03d}") for n in range(1, 6)]
    for n, instance_id in enumerate(repairs):
        clock.advance(timedelta(minutes=12 * n + 5))
        finish(platform, instance_id, "accept")
    clock.advance(timedelta(hours=2))
    finish(platform, repairs[0], "repair")
    orders = [instances.start(platform, SYSTEM, "ui_dash_order", f"DD-{n:03d}", tenant=tenant)
              for n, tenant in enumerate(["china_mobile", "china_unicom", "china_telecom"], start=1)]
    clock.advance(timedelta(hours=20))
    finish(platform, orders[0], "confirm_order")
    instances.suspend(platform, SYSTEM, repairs[4])
    clock.advance(timedelta(hours=6))


def test_a_supervisor_sees_the_charts_drawn(new_page, users, platform, clock):
    some_work(platform, clock)
    users("wang", ["supervisor"], display_name="王总")
    page = new_page()
    sign_in(page, "wang")
    page.click("nav.mainnav >> text=统计看板")
    assert page.locator("h1").inner_text() == "统计看板"
    for name in CHARTS:
        chart = page.locator(f"#chart-{name}")
        chart.locator("canvas, svg").first.wait_for()
        assert chart.get_attribute("data-drawn") == "true"
        box = chart.bounding_box()
        assert box["width"] > 200 and box["height"] >= 180
    assert page.locator("[data-testid=overdue-count]").inner_text() == "6"  # 4 repairs (one suspended), 2 orders
    assert page.locator("[data-testid=table-sla-steps]").inner_text().count("Accept the fault") == 1
    assert page.locator("[data-testid=assets-missing]").count() == 0
    page.wait_for_timeout(400)  # let the bars finish growing before the screenshot
    screenshot(page, "dashboard")


def test_an_admin_adds_a_user_and_disables_another(new_page, users):
    users("root", ["admin"], display_name="系统管理员")
    users("wang", ["supervisor"], display_name="王总")
    wang = new_page()
    sign_in(wang, "wang")

    page = new_page()
    sign_in(page, "root")
    page.click("nav.mainnav >> text=用户管理")
    page.click("[data-testid=add-user]")
    page.fill("input[name=username]", "cmcc zhang")
    page.fill("input[name=display_name]", "张三")
    page.fill("input[name=password]", "short")
    page.check("input[name=groups][value=operator]")
    page.fill("input[name=tenant]", "china_mobile")
    page.click("button[type=submit].primary")
    assert "用户名只能包含字母" in page.locator("[data-testid=error-username]").inner_text()
    assert "至少需要 8 个字符" in page.locator("[data-testid=error-password]").inner_text()
    assert page.input_value("input[name=display_name]") == "张三"
    assert page.is_checked("input[name=groups][value=operator]")

    page.fill("input[name=username]", "cmcc_zhang")
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit].primary")
    assert "已添加用户 cmcc_zhang" in page.locator(".flash").inner_text()
    row = page.locator("tr[data-username=cmcc_zhang]")
    assert "张三" in row.inner_text() and "中国移动" in row.inner_text() and "运营商客户" in row.inner_text()

    page.locator("tr[data-username=wang] [data-testid=disable]").click()
    assert "已停用 wang" in page.locator(".flash").inner_text()
    assert page.locator("tr[data-username=wang] [data-testid=status]").inner_text() == "已停用"
    assert page.locator("tr[data-username=root] [data-testid=disable]").count() == 0
    screenshot(page, "users")

    wang.reload()
    assert wang.url.split("?")[0].endswith("/login")
    newcomer = new_page()
    sign_in(newcomer, "cmcc_zhang", "secret-pass")
    assert newcomer.locator("[data-testid=current-tenant]").inner_text() == "中国移动"


def test_when_echarts_fails_to_load_the_charts_say_so_and_the_tables_stay(new_page, users, platform, clock):
    some_work(platform, clock)
    users("wang", ["supervisor"])
    page = new_page(lang="en")
    page.route("**/vendor/echarts.js", lambda route: route.abort())
    sign_in(page, "wang")
    page.goto("/dashboard")
    for name in CHARTS:
        chart = page.locator(f"#chart-{name}")
        assert "ECharts is not loaded" in chart.inner_text()
        assert chart.locator("canvas, svg").count() == 0
    assert "Accept the fault" in page.locator("[data-testid=table-cycle-times]").inner_text()

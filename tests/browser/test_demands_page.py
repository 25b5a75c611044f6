"""A customer manager on the demands page in a real browser: ticks collected demands and submits
them into Flow 1, sees each demand's status and flow, and follows one demand's progress."""

from __future__ import annotations

from pathlib import Path

from pages import sign_in
from sqlalchemy import select

from engine.definitions import deployments
from engine.models import HumanTask
from engine.principal import SYSTEM, Principal
from engine.runtime import jobs, tasks
from tower import demand_flow

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
MANAGER = Principal("li", frozenset({"customer_manager"}))
OPERATOR = Principal("cmcc_wang", frozenset({"operator"}), "china_mobile")


def enter(platform, no: str, longitude: float) -> None:
    demand_flow.enter_demand(platform, MANAGER, {
        "demand_no": no, "operator": "中国移动", "province": "江苏省", "city": "南京市", "county": "玄武区",
        "site_name": f"玄武湖站 {no}", "longitude": longitude, "latitude": 32.06, "tower_type": "普通地面塔",
        "antenna_height": 35, "demand_type": "新建", "expected_delivery": "2027-03-01", "remarks": ""})


def confirm_first_step(platform, instance_id: int) -> None:
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                            HumanTask.element_id == "confirm_demand"))
    tasks.complete(platform, OPERATOR, task_id, {"confirmed": True})
    jobs.drain(platform, instance_id)


def test_manager_submits_collected_demands_and_follows_their_progress(new_page, users, platform):
    deployments.deploy(platform, SYSTEM, {name: (PROCESSES / name).read_bytes() for name in
                                          ("tower_order.bpmn", "site_negotiation.bpmn", "difficult_site.bpmn")})
    users("li", ["customer_manager"], display_name="李经理")
    for n, no in enumerate(("XQ-101", "XQ-102", "XQ-103")):
        enter(platform, no, 118.70 + 0.01 * n)
    earlier = demand_flow.submit(platform, MANAGER, ["XQ-103"])[0]["instance_id"]
    confirm_first_step(platform, earlier)

    page = new_page()
    sign_in(page, "li")
    page.goto("/demands")
    row = {no: page.locator(f"tr[data-demand-no='{no}']") for no in ("XQ-101", "XQ-102", "XQ-103")}
    assert row["XQ-101"].locator("[data-testid=status]").inner_text() == "需求收集"
    assert row["XQ-103"].locator("[data-testid=status]").inner_text() == "需求已确认"
    assert row["XQ-103"].locator("[data-testid=instance-link]").inner_text() == f"#{earlier}"
    assert row["XQ-101"].locator("[data-testid=instance-link]").count() == 0

    page.click("[data-testid=submit-demands]")  # nothing ticked
    assert "请勾选要提交的已收集需求" in page.locator(".flash").inner_text()
    for no in ("XQ-101", "XQ-102"):
        page.locator(f"tr[data-demand-no='{no}'] input[type=checkbox]").check()
    page.click("[data-testid=submit-demands]")
    assert "已提交 2 条需求" in page.locator(".flash").inner_text()
    for no in ("XQ-101", "XQ-102"):
        assert row[no].get_attribute("data-status") == "submitted"
        assert row[no].locator("[data-testid=status]").inner_text() == "待需求确认"
        assert row[no].locator("[data-testid=instance-link]").count() == 1
    assert page.locator("[data-testid=submit-demands]").count() == 0  # nothing collected is left

    row["XQ-103"].locator("[data-testid=progress-link]").click()
    page.wait_for_selector("[data-testid=demand-title]")
    assert page.locator("[data-testid=status]").inner_text() == "需求已确认"
    open_step = page.locator("[data-testid=open-steps] tr[data-element-id=accept_demand]")
    assert "需求承接" in open_step.inner_text() and "客户经理" in open_step.inner_text()
    assert open_step.locator("td.due").inner_text().endswith("UTC")
    done = page.locator("[data-testid=done-steps] tr[data-element-id=confirm_demand]")
    assert "需求确认" in done.inner_text() and "cmcc_wang" in done.inner_text()
    page.click("[data-testid=instance-link]")
    page.wait_for_selector("[data-testid=business-key]")
    assert page.locator("[data-testid=business-key]").inner_text() == "XQ-103"


def test_a_supervisor_sees_the_demands_but_submits_nothing(new_page, users, platform):
    users("zhou", ["supervisor"])
    enter(platform, "XQ-201", 118.70)
    page = new_page()
    sign_in(page, "zhou")
    page.goto("/demands")
    assert page.locator("tr[data-demand-no='XQ-201'] [data-testid=status]").inner_text() == "需求收集"
    assert page.locator("[data-testid=demand-submit]").count() == 0
    page.goto("/demands/XQ-201")
    assert page.locator("[data-testid=no-open-steps]").count() == 1
    assert page.goto("/demands/NOPE").status == 404

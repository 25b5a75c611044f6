"""A supervisor in a real browser moves the waiting negotiations (on their own, and one a tower
order called) to a new version of Flow 2: from the version page, filters the waiting ones, reads
the plan (the renamed step, the new step), confirms the count, and sees them on the new version,
where they go on to the new step; and the plan says why an instance cannot move."""

from __future__ import annotations

import pytest
from chinese_text import latin_words, page_texts
from migration_world import deploy_variant, renamed_with_new_step, without_accept
from pages import screenshot, sign_in
from sqlalchemy import select
from test_flow_negotiation import complete, negotiating, open_elements, start_negotiation
from test_flow_tower_order import complete as complete_order
from test_flow_tower_order import deployed as tower_deployed  # noqa: F401
from test_flow_tower_order import failed_screening
from test_flow_tower_order import open_elements as order_elements
from test_flow_tower_order import people as tower_people  # noqa: F401

from engine.models import ProcessInstance


@pytest.fixture
def people(tower_deployed, tower_people):  # noqa: F811
    """Flow 1 and Flow 2 deployed: negotiations on their own and called by a tower order."""
    return tower_people


def versions(platform, ids) -> list[int]:
    with platform.Session() as session:
        return [session.get(ProcessInstance, i).version for i in ids]


def assert_chinese(page) -> None:
    assert latin_words(page_texts(page), ("zhou", "English", "D-2026-0042")) == []


@pytest.mark.parametrize("width", [1366, 390])
def test_supervisor_migrates_waiting_negotiations_after_reading_the_plan(platform, people, new_page, width):
    at_report = [negotiating(people), negotiating(people)]
    at_plan = start_negotiation(people)["id"]
    order = failed_screening(people)  # its negotiation, called, waits at the report too
    with platform.Session() as session:
        called = session.scalar(select(ProcessInstance.id).where(ProcessInstance.root_id == order))
    deploy_variant(platform, renamed_with_new_step())
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "zhou")  # people.supervisor

    page.goto("/definitions/site_negotiation/1")
    page.click("[data-testid=migrate-instances]")
    page.select_option("[data-testid=migration-state]", "waiting")
    page.click("[data-testid=migration-show-plan]")
    plan = page.locator("[data-testid=migration-plan]")
    plan.wait_for()
    count = page.locator("[data-testid=migration-count]")
    assert count.get_attribute("data-movable") == "4" and "可迁移 4 个实例" in count.inner_text()
    report = page.locator("[data-testid=migration-mapping] tr[data-element=report]")
    assert "反馈谈址进展（新）" in report.inner_text() and "修改" in report.inner_text()
    assert "复核谈址进展" in page.locator("[data-testid=migration-mapping] tr[data-element=check_report]").inner_text()
    row = page.locator(f"[data-testid=migration-instances] tr[data-instance-id='{at_report[0]}']")
    assert "反馈谈址进展" in row.inner_text() and "可以迁移" in row.inner_text()
    called_row = page.locator(f"[data-testid=migration-instances] tr[data-instance-id='{called}']")
    assert f"由 #{order} 调用" in called_row.inner_text() and "可以迁移" in called_row.inner_text()
    assert_chinese(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing runs off the side
    if width == 1366:
        screenshot(page, "migration-plan")

    page.fill("[data-testid=migration-reason]", "谈址流程增加复核")
    button = page.locator("[data-testid=migration-run]")
    assert "4" in button.inner_text()
    button.click()
    done = page.locator("[data-testid=migration-done]")
    done.wait_for()
    assert done.get_attribute("data-migrated") == "4"
    assert_chinese(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert versions(platform, [*at_report, at_plan, called, order]) == [2, 2, 2, 2, 1]

    complete(people.negotiator, at_report[0], "report", progress_outcome="in_progress", progress_note="还在谈")
    assert open_elements(people.negotiator, at_report[0]) == ["check_report"]
    page.goto(f"/instances/{at_report[0]}")
    assert "复核谈址进展" in page.locator("main").inner_text()
    complete_order(people.negotiator, people, order, "report", progress_outcome="in_progress", progress_note="还在谈")
    assert order_elements(people, order) == ["check_report"]  # inside the tower order too
    page.goto(f"/instances/{called}")
    assert "复核谈址进展" in page.locator("main").inner_text()


def test_the_plan_says_why_an_instance_cannot_move(platform, people, new_page):
    at_accept = start_negotiation(people)["id"]
    complete(people.regional, at_accept, "plan", negotiator="sun", plan="先谈业主")
    at_plan = start_negotiation(people)["id"]
    deploy_variant(platform, without_accept())
    page = new_page()
    sign_in(page, "zhou")

    page.goto(f"/instances/{at_accept}")
    page.click("[data-testid=migrate-instance]")
    page.click("[data-testid=migration-show-plan]")
    refusal = page.locator("[data-testid=migration-refusal]")
    assert "接收谈址任务" in refusal.inner_text() and "丢失" in refusal.inner_text()
    assert page.locator("[data-testid=migration-count]").get_attribute("data-movable") == "0"
    assert page.locator("[data-testid=migration-run]").count() == 0
    assert_chinese(page)
    with platform.Session() as session:
        assert [session.get(ProcessInstance, i).version for i in (at_accept, at_plan)] == [1, 1]
        assert session.scalars(select(ProcessInstance.id).where(ProcessInstance.version == 2)).all() == []

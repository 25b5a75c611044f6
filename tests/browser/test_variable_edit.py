"""A supervisor corrects a number variable in a real browser: the instance page's 修改 opens the
typed editor, the new value and the reason are saved, the instance page shows the new value and
its timeline and audit log the correction; the next step works with the new value."""

from __future__ import annotations

import pytest
from helpers import deploy
from pages import sign_in
from sqlalchemy import select

from engine.models import HumanTask, ProcessInstance
from engine.principal import Principal
from engine.runtime import instances, tasks

CLERK = Principal("wang", frozenset({"clerk"}))


@pytest.fixture
def order(platform) -> int:
    deploy(platform, "repairs_check.bpmn", "repairs_order.bpmn")
    return instances.start(platform, CLERK, "repairs_order", "XQ-2026-0042", {"amount": 30, "site": "T-1"})


def test_edit_a_number_with_a_reason_and_see_it_on_the_page(platform, order, new_page, users):
    users("zhao", ["supervisor"], display_name="赵主管")
    page = new_page()
    sign_in(page, "zhao")
    page.goto(f"/instances/{order}")
    row = page.locator("tr[data-variable=amount]")
    assert "30" in row.inner_text()
    row.locator("[data-testid=edit-variable-amount]").click()

    page.wait_for_selector("[data-testid=variable-editor]")
    assert page.locator("[data-testid=value-type]").input_value() == "number"
    assert page.locator("[data-testid=value-number]").is_visible()
    assert not page.locator("[data-testid=value-text]").is_visible()
    assert "30" in page.locator("[data-testid=current-value]").inner_text()
    page.fill("[data-testid=value-number]", "80")
    page.click("[data-testid=save-variable]")  # no reason yet: the browser keeps the form
    assert page.locator("[data-testid=variable-editor]").count() == 1
    assert platform_variables(platform, order)["amount"] == 30

    page.fill("[data-testid=reason]", "客户更正了金额")
    page.click("[data-testid=save-variable]")
    page.wait_for_selector("[data-testid=variables]")
    assert "已修改" in page.locator(".flash").inner_text()
    assert "80" in page.locator("tr[data-variable=amount]").inner_text()
    assert "主管修改了变量" in page.locator("[data-testid=timeline]").inner_text()
    audit = page.locator("[data-testid=audit] tr[data-action='variable.edited']")
    assert "客户更正了金额" in audit.inner_text() and "zhao" in audit.inner_text()

    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == order))
    tasks.complete(platform, CLERK, task_id, {})
    assert platform_variables(platform, order)["total"] == 160  # the next step computed with 80


def test_a_wrong_type_change_is_refused_with_the_reason_kept(platform, order, new_page, users):
    users("zhao", ["supervisor"])
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "zhao")
    page.goto(f"/instances/{order}/variables/amount/edit")
    page.select_option("[data-testid=value-type]", "text")
    assert page.locator("[data-testid=value-text]").is_visible()
    page.fill("[data-testid=value-text]", "三十")
    page.fill("[data-testid=reason]", "试一试")
    page.click("[data-testid=save-variable]")
    page.wait_for_selector(".flash.error")
    assert "现在是数字" in page.locator(".flash.error").inner_text()
    assert page.locator("[data-testid=reason]").input_value() == "试一试"
    assert platform_variables(platform, order)["amount"] == 30
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_no_edit_link_for_a_clerk(platform, order, new_page, users):
    users("li", ["clerk"])
    page = new_page()
    sign_in(page, "li")
    page.goto(f"/instances/{order}")
    page.wait_for_selector("[data-testid=variables]")
    assert page.locator("[data-testid^=edit-variable]").count() == 0
    response = page.goto(f"/instances/{order}/variables/amount/edit")
    assert response.status == 403


def platform_variables(platform, instance_id: int) -> dict:
    with platform.Session() as session:
        return dict(session.get(ProcessInstance, instance_id).variables)

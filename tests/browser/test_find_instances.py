"""A supervisor in a real browser finds instances (issue 15, point 5): filters the negotiations
by process and sees the one a tower order called, with its caller linked; finds the tower orders
now at 站址筛查 and the one whose site name contains 东湖; all in Chinese, on a phone and a desk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
sys.path.insert(0, str(Path(__file__).parents[1] / "flows"))
from chinese_text import latin_words, page_texts  # noqa: E402
from pages import sign_in  # noqa: E402
from test_flow_tower_order import deployed, failed_screening, to_screening  # noqa: E402, F401
from test_flow_tower_order import people as tower_people  # noqa: E402, F401


@pytest.fixture
def world(deployed, tower_people):  # noqa: F811
    return {"at_screening": to_screening(tower_people, "XQ-001"),
            "tall": to_screening(tower_people, "XQ-002", site_name="东湖高塔站"),
            "negotiating": failed_screening(tower_people, "XQ-003")}


def rows(page) -> list[int]:
    page.wait_for_selector("[data-testid=instances], [data-testid=no-instances]")
    return [int(r.get_attribute("data-instance-id")) for r in page.locator("tr[data-instance-id]").all()]


def filters(page):
    form = page.locator("[data-testid=instance-filters]")
    if not form.is_visible():  # folded on a phone
        page.click("details.fold-narrow > summary")
    return form


def submit(page) -> None:
    with page.expect_navigation():
        page.locator("[data-testid=instance-filters] button.primary").click()


@pytest.mark.parametrize("width", [1366, 390])
def test_supervisor_finds_negotiations_orders_at_a_step_and_by_site_name(world, new_page, width):
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "zhou")

    page.goto("/instances")
    filters(page)
    page.select_option("select[name=process]", "site_negotiation")
    submit(page)
    [called] = rows(page)
    caller = page.locator(f"tr[data-instance-id='{called}'] [data-testid=called-by] a")
    assert caller.inner_text().strip() == "由 铁塔需求立项 XQ-003 调用"
    assert latin_words(page_texts(page), ("zhou", "li", "English", "XQ-003")) == []
    with page.expect_navigation():
        caller.click()
    assert page.url.endswith(f"/instances/{world['negotiating']}")

    page.goto("/instances?process=tower_order")
    filters(page)
    page.select_option("[data-testid=filter-element]", label="站址筛查")
    submit(page)
    assert sorted(rows(page)) == sorted([world["at_screening"], world["tall"]])
    assert page.locator("[data-testid=instance-total]").inner_text().strip() == "2"

    page.goto("/instances")
    filters(page)
    page.select_option("[data-testid=filter-variable]", label="站址名称")
    page.select_option("[data-testid=filter-variable-op]", label="包含")
    page.fill("[data-testid=filter-variable-value]", "东湖")
    submit(page)
    assert rows(page) == [world["tall"]]
    assert "站址名称 包含 东湖" in page.locator("[data-testid=variable-conditions]").inner_text()
    assert latin_words(page_texts(page), ("zhou", "li", "English", "XQ-001", "XQ-002", "XQ-003")) == []
    # the export link carries the same filter
    assert "vv=" in page.locator("[data-testid=instance-export]").get_attribute("href")

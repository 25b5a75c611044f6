"""A supervisor in a real browser: the incidents page groups the failures of one broken system
into one line with its count, "retry all" says how many it will retry, and afterwards the
incidents are gone and the instances went on to their next step. The same from the instance
list: a filtered list's bulk action states the count first and lists what it could not do."""

from __future__ import annotations

import pytest
from pages import sign_in
from repairs_world import BrokenPms, install_pms
from sqlalchemy import select

from engine.models import HumanTask, ProcessInstance
from engine.principal import Principal
from engine.runtime import instances, jobs

CLERK = Principal("wang", frozenset({"clerk"}))


@pytest.fixture
def pms(platform, services) -> BrokenPms:
    return install_pms(platform, services)


def start(platform, site: str) -> int:
    instance_id = instances.start(platform, CLERK, "repairs_sync", f"XQ-2026-{site[2:]:0>4}", {"site": site})
    jobs.drain(platform, instance_id)
    return instance_id


def states(platform, ids) -> list[str]:
    with platform.Session() as session:
        return [session.get(ProcessInstance, i).state for i in ids]


def test_retry_a_group_from_the_incidents_page(platform, pms, new_page, users):
    failing = [start(platform, f"T-{n}") for n in (1, 2, 3)]
    other = start(platform, "T-9")
    assert states(platform, [*failing, other]) == ["error"] * 4
    users("zhao", ["supervisor"], display_name="赵主管")
    page = new_page()
    sign_in(page, "zhao")

    page.click("nav.mainnav >> text=故障事件")
    page.wait_for_selector("[data-testid=incident-group]")
    groups = page.locator("[data-testid=incident-group]")
    assert groups.count() == 2
    big = groups.first
    assert big.get_attribute("data-count") == "3"
    assert "Register in PMS" in big.inner_text() and "首次出现" in big.inner_text()
    big.locator("summary").click()
    assert big.locator("tr[data-incident-id]").count() == 3
    for instance_id in failing:
        assert big.locator(f"a[href='/instances/{instance_id}']").count() == 1

    big.locator("[data-testid=retry-group]").click()
    page.wait_for_selector("[data-testid=retry-confirm]")
    assert "3 个故障" in page.locator("[data-testid=retry-question]").inner_text()
    assert states(platform, failing) == ["error"] * 3  # nothing happens before the confirmation

    pms.broken = False
    page.click("[data-testid=confirm-retry]")
    page.wait_for_selector("[data-testid=retry-result]")
    assert page.locator("[data-testid=retried]").get_attribute("data-retried") == "3"
    assert page.locator("[data-testid=retry-failures]").count() == 0

    page.click("[data-testid=back-to-incidents]")
    page.wait_for_selector("[data-testid=incident-group]")
    assert page.locator("[data-testid=incident-group]").count() == 1  # only the other error is left
    assert "T-9" in page.locator("[data-testid=incident-group]").inner_text()
    assert states(platform, failing) == ["waiting"] * 3
    with platform.Session() as session:
        assert set(session.scalars(select(HumanTask.instance_id).where(
            HumanTask.element_id == "follow_up", HumanTask.state == "open"))) == set(failing)

    page.goto(f"/instances/{failing[0]}")
    assert page.locator("[data-testid=state]").first.get_attribute("data-state") == "waiting"


def test_bulk_suspend_from_a_filtered_list_states_the_count_and_lists_failures(platform, pms, new_page, users):
    orders = [instances.start(platform, CLERK, "repairs_order", f"XQ-2026-01{n}", {"amount": n, "site": "T-1"})
              for n in range(1, 4)]
    instances.suspend(platform, Principal("boss", frozenset({"supervisor"})), orders[0])
    start(platform, "T-1")  # another process: not in the filter
    users("zhao", ["supervisor"])
    page = new_page()
    sign_in(page, "zhao")
    page.goto("/instances?process=repairs_order")
    page.click("[data-testid=bulk-suspend]")
    page.wait_for_selector("[data-testid=bulk-confirm]")
    assert page.locator("[data-testid=bulk-count]").get_attribute("data-count") == "3"
    assert "将挂起 3 个实例" in page.locator("[data-testid=bulk-count]").inner_text()
    assert "Price an order" in page.locator("[data-testid=bulk-filter]").inner_text()
    page.fill("[data-testid=bulk-reason]", "PMS 维护")
    page.click("[data-testid=bulk-run]")
    page.wait_for_selector("[data-testid=bulk-result]")
    assert page.locator("[data-testid=bulk-done]").get_attribute("data-done") == "2"
    failures = page.locator("[data-testid=bulk-failures] tr[data-instance-id]")
    assert failures.count() == 1 and failures.get_attribute("data-instance-id") == str(orders[0])
    assert "挂起" in failures.inner_text()
    assert states(platform, orders) == ["suspended"] * 3


def test_the_incidents_page_fits_a_phone(platform, pms, new_page, users):
    start(platform, "T-1")
    users("zhao", ["supervisor"])
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "zhao")
    page.goto("/incidents")
    page.wait_for_selector("[data-testid=incident-group]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

"""An operator user in a real browser, at phone size (390x844) and desktop size (1366x768):
cancels one demand and changes another with reasons, follows both on their progress pages, and
is told why a cancel is refused once the order was confirmed meanwhile; confirms two delivered
demands in one batch; reads its company's difficult sites. No page scrolls sideways and the
browser logs no error."""

from __future__ import annotations

import pytest
from operator_world import add_people, demand_at, deploy_flows
from pages import screenshot, sign_in

from engine.runtime import jobs
from tower import demo

VIEWPORTS = {"phone": (390, 844), "desktop": (1366, 768)}


@pytest.fixture
def operator_page(browser, live_server):
    """A signed-out page of the given size, collecting console and page errors."""
    contexts = []

    def make(size: str):
        width, height = VIEWPORTS[size]
        context = browser.new_context(base_url=live_server, locale="zh-CN", viewport={"width": width, "height": height},
                                      is_mobile=size == "phone", has_touch=size == "phone")
        context.set_default_timeout(60_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []

        def on_console(message):
            url = message.location.get("url") or ""
            # a refused form answers 409/422 with its page (meant), and there is no favicon
            expected = message.text.startswith("Failed to load resource") and (
                url == page.url or url.endswith("/favicon.ico"))
            if message.type == "error" and not expected:
                page.errors.append((message.text, url))

        page.on("console", on_console)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        return page

    yield make
    for context in contexts:
        context.close()


def fits(page) -> None:
    """Nothing is wider than the window: no sideways scrolling."""
    overflow = page.evaluate("""() => {
        const width = window.innerWidth;
        const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 1)
            .map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : ''));
        return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
    }""")
    assert overflow["scroll"] <= overflow["width"], (page.url, overflow)


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_an_operator_cancels_and_changes_demands_and_follows_them(size, operator_page, platform):
    deploy_flows(platform)
    add_people(platform)
    demand_at(platform, "XQ-A", "submitted", n=1)
    demand_at(platform, "XQ-B", "screening", n=3)
    sent = demand_at(platform, "XQ-C", "order_sent", n=5)
    page = operator_page(size)
    sign_in(page, "cmcc")

    page.goto("/demands")
    fits(page)
    page.locator("tr[data-demand-no='XQ-A'] [data-testid=progress-link]").click()
    page.wait_for_selector("[data-testid=demand-title]")
    page.click("[data-testid=cancel-button]")
    page.wait_for_selector("[data-testid=cancel-form]")
    fits(page)
    page.click("[data-testid=confirm-cancel]")  # no reason yet
    assert page.locator("[data-testid=reason-error]").inner_text() == "请填写原因。"
    page.fill("[data-testid=reason]", "建设计划调整，不再需要该站址")
    page.click("[data-testid=confirm-cancel]")
    page.wait_for_selector("[data-testid=outcome]")
    assert page.locator("[data-testid=status]").inner_text() == "已取消"
    assert page.locator("[data-testid=outcome-title]").inner_text() == "需求已取消"
    assert page.locator("[data-testid=outcome-reason]").inner_text() == "原因：建设计划调整，不再需要该站址"
    assert page.locator("[data-testid=change-refusal]").inner_text() == "该需求已取消。"
    assert page.locator("[data-testid=cancel-button]").is_disabled()
    fits(page)
    screenshot(page, f"operator-cancelled-{size}")

    page.goto("/demands/XQ-B")
    page.click("[data-testid=change-button]")
    page.wait_for_selector("[data-testid=change-form]")
    fits(page)
    page.fill("[data-testid=field-site_name]", "西湖区东侧楼顶")
    page.fill("[data-testid=field-antenna_height]", "40")
    page.fill("[data-testid=reason]", "业主要求换到东侧楼顶")
    page.click("[data-testid=confirm-change]")
    page.wait_for_selector("[data-testid=changes]")
    assert page.locator("[data-testid=status]").inner_text() == "需求已确认"
    assert page.locator("[data-testid=site-name]").inner_text() == "西湖区东侧楼顶"
    change = page.locator("[data-testid=change]").inner_text()
    assert "原因：业主要求换到东侧楼顶" in change and "天线挂高(米)：40" in change
    assert "需求承接" in page.locator("[data-testid=open-steps] tr[data-element-id=accept_demand]").inner_text()
    fits(page)

    # the cancel form is open while the order is still only sent; the order is confirmed meanwhile
    page.goto("/demands/XQ-C/cancel")
    page.fill("[data-testid=reason]", "预算不足")
    demo._FlowDriver(platform, "XQ-C", 5, sent).confirm_order()
    jobs.drain(platform, sent)
    page.click("[data-testid=confirm-cancel]")
    page.wait_for_selector("[data-testid=refusal]")
    assert page.locator("[data-testid=refusal-reason]").inner_text() == \
        "订单已确认：需求只能在订单确认之前变更或取消。"
    assert "未做任何改动" in page.locator("[data-testid=refusal]").inner_text()
    fits(page)
    page.goto("/demands/XQ-C")
    assert page.locator("[data-testid=status]").inner_text() == "订单已确认"
    assert page.locator("[data-testid=cancel-button]").is_disabled()
    assert page.locator("[data-testid=outcome]").count() == 0
    fits(page)
    assert page.errors == [], page.errors


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_an_operator_confirms_acceptances_in_one_batch(size, operator_page, platform):
    deploy_flows(platform)
    add_people(platform)
    for no, n in (("XQ-D1", 1), ("XQ-D2", 3), ("XQ-D3", 5)):
        demand_at(platform, no, "delivered", n=n)
    page = operator_page(size)
    sign_in(page, "cmcc")
    page.goto("/demands")
    page.click("[data-testid=batch-acceptance-link]")
    page.wait_for_selector("[data-testid=acceptance-form]")
    fits(page)
    assert page.locator("[data-testid=waiting-count]").inner_text() == "3"
    page.locator("tr[data-demand-no='XQ-D1'] input[name=demand_no]").check()
    page.locator("tr[data-demand-no='XQ-D3'] input[name=demand_no]").check()
    page.fill("[data-testid=comment]", "资料齐全，同意验收")
    page.click("[data-testid=confirm-acceptance]")
    page.wait_for_selector("[data-testid=batch-results]")
    assert page.locator("[data-testid=result][data-ok=yes]").count() == 2
    assert page.locator("[data-testid=waiting-count]").inner_text() == "1"
    assert page.locator("tr[data-demand-no='XQ-D2']").count() == 1
    fits(page)
    screenshot(page, f"operator-batch-acceptance-{size}")
    page.goto("/demands/XQ-D1")
    assert page.locator("[data-testid=status]").inner_text() == "已验收"
    page.goto("/difficult-sites")
    assert page.locator("[data-testid=library-empty]").count() == 1
    fits(page)
    assert page.errors == [], page.errors

"""Every main page passes the Content-Security-Policy (web/security.py) in real Chromium: the designer
and its modeler, the dashboard's charts, the inbox, an instance's diagram, the repairs pages (a
variable's editor, bulk actions, incidents by error), the admin log and a user's tokens (which also
fit a phone's width) and the batch acceptance. A violation is
both logged in the console and raised as a ``securitypolicyviolation`` event; the test collects
both, and checks that each page's scripts really ran (diagrams drawn, charts painted)."""

from __future__ import annotations

import pytest
from pages import live_demo_world
from sqlalchemy import select

from engine.models import ProcessInstance
from tower.demo import DEMO_PASSWORD

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 768}}
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || ''));
});
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory, _pg_url):
    with live_demo_world(tmp_path_factory, _pg_url, "csp") as served:
        yield served


@pytest.fixture(scope="module")
def instance_with_diagram(world) -> tuple[int, str]:
    """A running tower order and one of its variables."""
    with world["platform"].Session() as session:
        row = session.scalars(select(ProcessInstance).where(ProcessInstance.state.in_(("running", "waiting")))
                              .order_by(ProcessInstance.id)).first()
        assert row is not None, "the demo world has no running instance"
        return row.id, sorted(row.variables or {"site_name": ""})[0]


def signed_in(browser, world, username: str, viewport: str):
    context = browser.new_context(base_url=world["url"], locale="zh-CN", viewport=VIEWPORTS[viewport])
    context.set_default_timeout(20_000)
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=current-user]", state="attached")
    return context, page, console


def violations(page, console: list[str]) -> list[str]:
    logged = [line for line in console if "Content Security Policy" in line or "Content-Security-Policy" in line]
    return logged + page.evaluate("() => window.__cspViolations")


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_the_supervisor_and_designer_pages_pass_the_policy(browser, world, instance_with_diagram, viewport):
    instance_id, variable = instance_with_diagram
    context, page, console = signed_in(browser, world, "admin", viewport)
    try:
        checks = [
            ("/inbox", "[data-testid=current-user]"),
            ("/dashboard", "[id^=chart-][data-drawn=true]"),
            (f"/instances/{instance_id}", "[data-testid=diagram][data-ready=true]"),
            (f"/instances/{instance_id}/variables/{variable}/edit", "[data-testid=value-type]"),
            ("/instances/bulk", "main"),
            ("/incidents", "main"),
            ("/designer/", "main"),
            ("/designer/processes/tower_order/edit", "#tf-modeler[data-ready=true]"),
            ("/admin/events", "[data-testid=events]"),
            ("/admin/users/cmcc", "[data-testid=tokens]"),
        ]
        seen: dict[str, list[str]] = {}
        for url, ready in checks:
            page.goto(url)
            page.wait_for_selector(ready, state="attached")
            page.wait_for_load_state("networkidle")
            seen[url] = violations(page, console)
            console.clear()
        assert seen == {url: [] for url, _ in checks}
        for url in ("/admin/events", "/admin/users/cmcc"):  # the admin log and tokens fit the screen
            page.goto(url)
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), url
        # the moved scripts ran: the page is marked scripted and the editor shows one value field only
        assert "js" in page.evaluate("() => document.documentElement.className")
        page.goto(f"/instances/{instance_id}/variables/{variable}/edit")
        visible = page.locator(".value-fields [data-type]:visible")
        assert visible.count() == 1
    finally:
        context.close()


def test_the_operators_batch_acceptance_ticks_all_without_inline_script(browser, world):
    ticked = []
    for operator in ("cmcc", "unicom", "telecom"):
        context, page, console = signed_in(browser, world, operator, "laptop")
        try:
            page.goto("/demands/batch/acceptance")
            page.wait_for_load_state("networkidle")
            boxes = page.locator("input[name=demand_no]")
            if boxes.count():
                page.click("[data-testid=tick-all]")
                assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
                page.click("[data-testid=tick-all]")
                assert not any(boxes.nth(i).is_checked() for i in range(boxes.count()))
                ticked.append(operator)
            assert violations(page, console) == []
        finally:
            context.close()
    assert ticked, "the demo world has deliveries waiting for an operator's acceptance"

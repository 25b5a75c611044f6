"""Every page on a phone (390x844) and on a laptop (1366x768), for each kind of user of the
demo world: nothing wider than the screen, no script errors, a menu that opens on the phone and
one line of header on the laptop, and links and buttons in lists big enough to tap.

The demo world (``tower.demo``: demands at every stage, faults, service requests, an incident)
is seeded once for this module, served by its own live server, and each user opens the pages
they may open. A failure names the page and the elements that stick out or are too small."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from pages import live_demo_world, screenshot, sign_in
from sqlalchemy import select

from engine.definitions import deployments
from engine.models import HumanTask, Incident, ProcessInstance
from engine.principal import SYSTEM
from tower.demo import DEMO_PASSWORD, DEMO_USERS
from tower.models import Demand

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 768}}
TAP = 44  # px, the smallest tap target for a link or button in a list on a phone
# The drawn libraries lay out their own canvas, palettes and tables; the page around them is ours.
LIBRARIES = ".djs-container, .djs-popup, .tf-properties, .tf-dmn-editor, .bjs-powered-by"

# One user of each kind, as the demo seeds them.
KINDS = {
    "admin": "admin",
    "supervisor": "supervisor",
    "designer": "designer",
    "operator": "cmcc",
    "customer_manager": "manager",
    "maintenance": "repair",
}


# --- the world -----------------------------------------------------------------------------

def second_contract_version(platform) -> None:
    """A second version of a process, so that two versions can be compared."""
    changed = (PROCESSES / "contract_expiry.bpmn").read_text(encoding="utf-8").replace(
        "</bpmn:definitions>", "<!-- v2 --></bpmn:definitions>")
    deployments.deploy(platform, SYSTEM, {"contract_expiry.bpmn": changed.encode()})


@pytest.fixture(scope="module")
def world(tmp_path_factory, _pg_url):
    """The demo world on its own database and live server, shared by this module's tests."""
    with live_demo_world(tmp_path_factory, _pg_url, "phone", prepare=second_contract_version) as served:
        yield served


def demo_user(username: str) -> tuple[frozenset[str], str | None]:
    for name, groups, tenant, _display in DEMO_USERS:
        if name == username:
            return frozenset(groups), tenant
    raise KeyError(username)


def pages_of(platform, username: str) -> list[str]:
    """The pages this user opens: everyone's, then what their groups may open."""
    groups, tenant = demo_user(username)
    admin = "admin" in groups
    with platform.Session() as session:
        rows = session.execute(select(HumanTask, ProcessInstance.tenant)
                               .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                               .where(HumanTask.state == "open").order_by(HumanTask.id)).all()
        task = next((t.id for t, t_tenant in rows if (admin or set(t.candidate_groups) & groups)
                     and (tenant is None or t_tenant == tenant)), None)
        mine = select(ProcessInstance.id).order_by(ProcessInstance.id)
        if tenant:
            mine = mine.where(ProcessInstance.tenant == tenant)
        instance = session.scalars(mine).first()
        with_incident = session.scalar(select(Incident.instance_id).where(Incident.state == "open"))
        demands = select(Demand.demand_no).where(Demand.instance_id.is_not(None)).order_by(Demand.demand_no)
        if tenant:
            demands = demands.where(Demand.tenant == tenant)
        demand = session.scalars(demands).first()
    urls = ["/inbox", "/inbox?tab=group", "/start", "/instances", f"/instances/{instance}",
            "/instances/999999"]
    if task:
        urls.insert(2, f"/tasks/{task}")
    if tenant is None and (admin or "supervisor" in groups):
        urls += [f"/instances/{with_incident}", f"/instances/{instance}/confirm/suspend"]
    if admin or groups & {"customer_manager", "operator", "supervisor"}:
        urls += ["/demands", f"/demands/{demand}"]
    if admin or groups & {"designer", "supervisor"}:
        urls += ["/definitions", "/definitions/tower_order/1", "/designer/compare/contract_expiry"]
    if admin or "designer" in groups:
        urls += ["/designer/", "/designer/processes/tower_order/edit", "/designer/new",
                 "/designer/decision/fault_repair_limit"]
    if admin or "supervisor" in groups:
        urls += ["/dashboard"]
    if admin:
        urls += ["/admin/users", "/admin/users/cmcc", "/admin/users/new"]
    else:
        urls += ["/admin/users"]  # not theirs: the 403 page
    return urls


# --- what is checked on every page -------------------------------------------------------------

# Elements whose right edge passes the viewport, unless an ancestor clips or scrolls them
# (a frame that scrolls sideways is allowed; the page itself may not).
OVERFLOW_JS = """(libraries) => {
  const width = window.innerWidth;
  const found = [];
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const overflow = getComputedStyle(p).overflowX;
      if (overflow !== 'visible' && p.getBoundingClientRect().right <= width + 1) return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || box.right <= width + 1) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.position === 'fixed') continue;
    if (clipped(el)) continue;
    if (el.closest(libraries) && el.closest(libraries) !== el) continue;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    found.push(`${name} right=${Math.round(box.right)} "${(el.innerText || '').trim().slice(0, 40)}"`);
    if (found.length > 8) break;
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, found};
}"""

SMALL_TARGETS_JS = """([tap, libraries]) => {
  const found = [];
  const targets = document.querySelectorAll(
    'main td a, main td button, main td .button, main .pager a, main .pager button, main .tabs a');
  for (const el of targets) {
    if (el.closest(libraries)) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    if (box.height < tap - 0.5) {
      found.push(`${el.tagName.toLowerCase()} "${el.innerText.trim().slice(0, 30)}" ${Math.round(box.height)}px`);
    }
  }
  return found;
}"""

# Pages that draw with a library say when they are done (data-ready / data-drawn).
SETTLED_JS = """() => {
  const waiting = [...document.querySelectorAll('[data-diagram], #tf-modeler, #tf-compare, .tf-dmn-card[id]')]
    .filter((el) => !el.hasAttribute('data-ready'));
  const charts = [...document.querySelectorAll('[data-chart]')].filter((el) => !el.hasAttribute('data-drawn'));
  return document.readyState === 'complete' && waiting.length === 0 && charts.length === 0;
}"""


def open_page(page, url: str) -> int:
    response = page.goto(url)
    page.wait_for_function(SETTLED_JS)
    if url.startswith("/start"):
        page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    return response.status


def problems_on(page, url: str, viewport: str) -> list[str]:
    found = []
    overflow = page.evaluate(OVERFLOW_JS, LIBRARIES)
    if overflow["scrollWidth"] > overflow["width"] or overflow["found"]:
        found.append(f"{url} at {viewport}: page {overflow['scrollWidth']} px wide on a {overflow['width']} px "
                     f"screen; sticking out: {overflow['found']}")
    if viewport == "phone":
        small = page.evaluate(SMALL_TARGETS_JS, [TAP, LIBRARIES])
        if small:
            found.append(f"{url} at {viewport}: links or buttons under {TAP} px: {small[:6]}")
    return found


def watch_errors(page) -> list[str]:
    errors: list[str] = []

    def on_console(message):
        if message.type == "error" and "status of 40" not in message.text:  # the 403 and 404 pages
            errors.append(f"{urlparse(page.url).path}: console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"{urlparse(page.url).path}: {error}"))
    return errors


# --- the menu --------------------------------------------------------------------------------

def check_phone_menu(page) -> None:
    toggle = page.locator("[data-testid=menu-toggle]")
    menu = page.locator("#topmenu")
    links = page.locator("nav.mainnav a")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not links.first.is_visible() and not page.locator("[data-testid=sign-out]").is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    for n in range(links.count()):
        link = links.nth(n)
        box = link.bounding_box()
        assert link.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 390, link.inner_text()
        assert box["height"] >= TAP, (link.inner_text(), box)
    sign_out = page.locator("[data-testid=sign-out]")
    assert sign_out.is_visible() and sign_out.bounding_box()["x"] + sign_out.bounding_box()["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # keyboard: Escape closes it and gives the focus back to the button
    links.first.focus()
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false" and not menu.is_visible()
    assert page.evaluate("document.activeElement.dataset.testid") == "menu-toggle"
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true" and links.first.is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('nav.mainnav') !== null")


def check_laptop_header(page) -> None:
    assert not page.locator("[data-testid=menu-toggle]").is_visible()
    items = page.locator("header .brand, nav.mainnav a, [data-testid=current-user], [data-testid=sign-out]")
    tops = set()
    for n in range(items.count()):
        box = items.nth(n).bounding_box()
        assert items.nth(n).is_visible() and box["x"] + box["width"] <= 1366, items.nth(n).inner_text()
        tops.add(round(box["y"] + box["height"] / 2))
    assert max(tops) - min(tops) <= 4, f"the header is not one line: {sorted(tops)}"


def check_skip_link(page) -> None:
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "skip-link"
    assert page.locator("[data-testid=skip-link]").inner_text() == "跳到主要内容"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


# --- the tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_page_fits_the_screen(browser, world, kind, viewport):
    username = KINDS[kind]
    size = VIEWPORTS[viewport]
    context = browser.new_context(base_url=world["url"], locale="zh-CN", viewport=size,
                                  has_touch=viewport == "phone")
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        errors = watch_errors(page)
        sign_in(page, username, DEMO_PASSWORD)
        page.goto("/start")  # the inbox puts the focus on its first task itself
        check_skip_link(page)
        groups, tenant = demo_user(username)
        header = page.locator("header").inner_text()
        assert not any(group in header for group in groups if "_" in group), header
        if tenant:
            assert tenant not in header and page.locator("[data-testid=current-tenant]").inner_text() == "中国移动"
        if viewport == "phone":
            check_phone_menu(page)
        else:
            check_laptop_header(page)

        problems: list[str] = []
        statuses = {}
        for url in pages_of(world["platform"], username):
            statuses[url] = open_page(page, url)
            problems += problems_on(page, url, viewport)
        assert statuses.get("/instances/999999") == 404
        assert statuses["/admin/users"] == (200 if kind == "admin" else 403)
        assert [u for u, status in statuses.items() if status >= 500] == []
        assert problems == [], "\n".join(problems)
        assert errors == [], "\n".join(errors)
    finally:
        context.close()


def test_phone_screenshots(browser, world):
    """The phone pages of the README: the inbox, a task form, the demands, an instance."""
    context = browser.new_context(base_url=world["url"], locale="zh-CN", viewport=VIEWPORTS["phone"],
                                  has_touch=True)
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        sign_in(page, "cmcc", DEMO_PASSWORD)
        urls = pages_of(world["platform"], "cmcc")
        task = next(u for u in urls if u.startswith("/tasks/"))
        demand = next(u for u in urls if u.startswith("/demands/"))
        instance = next(u for u in urls if u.startswith("/instances/") and u != "/instances/999999")
        for name, url in (("phone-inbox", "/inbox"), ("phone-task", task), ("phone-demands", demand),
                          ("phone-instance", instance)):
            assert open_page(page, url) == 200
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
            screenshot(page, name)
        page.goto("/inbox")
        page.click("[data-testid=menu-toggle]")
        page.locator("nav.mainnav a").first.wait_for()
        screenshot(page, "phone-menu")
    finally:
        context.close()


def test_the_diagram_is_readable_on_a_phone_and_names_lanes_by_group(browser, world):
    with world["platform"].Session() as session:
        fault = session.scalar(select(ProcessInstance.id).where(ProcessInstance.process_key == "fault_dispatch")
                               .order_by(ProcessInstance.id))
    context = browser.new_context(base_url=world["url"], locale="zh-CN", viewport=VIEWPORTS["phone"], has_touch=True)
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        sign_in(page, "supervisor", DEMO_PASSWORD)
        open_page(page, f"/instances/{fault}")
        diagram = page.locator("[data-testid=diagram]")
        assert diagram.get_attribute("data-ready") == "true"
        lanes = page.locator(".djs-element[data-element-id^=Lane_] text").all_text_contents()
        words = " ".join(lanes)
        for group, name in (("maintenance", "维护班组"), ("monitoring_center", "监控中心"),
                            ("customer_manager", "客户经理")):
            assert name in words and group not in words, lanes
        box = diagram.bounding_box()
        assert 0 <= box["x"] and box["x"] + box["width"] <= 390
        # readable, not squeezed: fitted only when that keeps the labels big enough (the cockpit viewer)
        assert float(diagram.get_attribute("data-zoom")) >= 0.8
    finally:
        context.close()

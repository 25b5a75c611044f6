"""The cockpit diagram as a supervisor uses it, on a phone (390 px) and a laptop (1366 px):
a tower order waiting in the site negotiation opens readable with the call activity in view;
zoom in, zoom out, fit, full screen and "go to the current step" work; a drag by touch pans;
the call activity drills into the negotiation's own page and its caller link leads back up; a
click on a step lists its visits; the version page lists the instances at a step.

The demo world (tower.demo) is seeded once for the module on its own database and server."""

from __future__ import annotations

import os

import pytest
from pages import SCREENSHOTS, live_demo_world
from sqlalchemy import select

from engine.definitions import deployments
from engine.models import InstanceToken, ProcessInstance
from engine.principal import SYSTEM, Principal
from engine.runtime import instances
from tower.demo import DEMO_PASSWORD

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 768}}
READABLE = 0.9  # bpmn-js labels are 12 px at zoom 1: at 0.9 they are still about 11 px
FINAL = ("completed", "cancelled", "terminated")
VIEWBOX_X = "() => document.querySelector('[data-testid=diagram]').tfViewer.get('canvas').viewbox().x"


@pytest.fixture(scope="module")
def world(tmp_path_factory, _pg_url):
    with live_demo_world(tmp_path_factory, _pg_url, "cockpit") as served:
        yield served


@pytest.fixture(scope="module")
def negotiation(world):
    """A live negotiation a tower order called: (tower order id, negotiation id, its active element)."""
    with world["platform"].Session() as session:
        rows = session.scalars(select(ProcessInstance).where(
            ProcessInstance.process_key == "site_negotiation", ProcessInstance.parent_id.is_not(None),
            ProcessInstance.state.not_in(FINAL)).order_by(ProcessInstance.id)).all()
        for row in rows:
            active = session.scalar(select(InstanceToken.element_id).where(
                InstanceToken.instance_id == row.id, InstanceToken.kind == "active"))
            if active:
                return row.parent_id, row.id, active
    pytest.fail("the demo world has no tower order waiting in a negotiation")


def open_page(browser, world, viewport: str):
    context = browser.new_context(base_url=world["url"], locale="zh-CN", viewport=VIEWPORTS[viewport],
                                  has_touch=viewport == "phone", is_mobile=viewport == "phone")
    context.set_default_timeout(60_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/login")
    page.fill("input[name=username]", "supervisor")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=current-user]", state="attached")
    return context, page, errors


def ready(page) -> None:
    page.wait_for_selector("[data-testid=diagram][data-ready=true]")


def zoom(page) -> float:
    return float(page.get_attribute("[data-testid=diagram]", "data-zoom"))


def in_view(page, element_id: str) -> bool:
    """The element's shape lies (at least its centre) inside the diagram's frame."""
    box = page.locator(f".djs-element[data-element-id={element_id}]").first.bounding_box()
    frame = page.locator("[data-testid=diagram]").bounding_box()
    if not box or not frame:
        return False
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    return frame["x"] <= cx <= frame["x"] + frame["width"] and frame["y"] <= cy <= frame["y"] + frame["height"]


def tool(page, name: str):
    return page.locator(f"[data-testid=diagram] [data-tool={name}]")


@pytest.mark.parametrize("viewport", ["phone", "laptop"])
def test_supervisor_zooms_to_the_negotiation_drills_in_and_comes_back(browser, world, negotiation, viewport):
    order_id, negotiation_id, active = negotiation
    context, page, errors = open_page(browser, world, viewport)
    try:
        page.goto(f"/instances/{order_id}")
        ready(page)
        # readable on first load, the call activity holding the negotiation in view, dashed (not filled)
        assert zoom(page) >= READABLE
        assert page.locator(".djs-element[data-element-id=negotiation].tf-scope").count() == 1
        assert in_view(page, "negotiation")
        fill = page.locator(".djs-element[data-element-id=negotiation] .djs-visual > :first-child").evaluate(
            "node => getComputedStyle(node).fill")
        assert fill in ("rgb(255, 255, 255)", "white", "none")
        for name in ("zoom-in", "zoom-out", "fit", "current", "fullscreen", "minimap"):
            button = tool(page, name)
            assert button.get_attribute("aria-label") and not button.get_attribute("aria-label").isascii()
            size = button.bounding_box()
            assert size["width"] >= 44 and size["height"] >= 44

        before = zoom(page)
        tool(page, "zoom-in").click()
        assert zoom(page) > before
        tool(page, "zoom-out").click()
        tool(page, "zoom-out").click()
        assert zoom(page) < before
        tool(page, "fit").click()
        fitted = zoom(page)
        assert fitted < READABLE  # five lanes do not fit readably, on a laptop neither
        tool(page, "current").click()
        assert zoom(page) >= READABLE and in_view(page, "negotiation")

        # full screen: the frame fills the screen, and comes back
        tool(page, "fullscreen").click()
        page.wait_for_function("""() => { const d = document.querySelector('[data-testid=diagram]');
            return document.fullscreenElement === d || d.classList.contains('tf-full'); }""")
        frame = page.locator("[data-testid=diagram]").bounding_box()
        assert frame["width"] >= VIEWPORTS[viewport]["width"] - 2
        tool(page, "fullscreen").click()
        page.wait_for_function("""() => { const d = document.querySelector('[data-testid=diagram]');
            return document.fullscreenElement !== d && !d.classList.contains('tf-full'); }""")

        if viewport == "phone":  # one finger drags the diagram
            start = page.evaluate(VIEWBOX_X)
            drag_by_touch(page, -120)
            moved = page.evaluate(VIEWBOX_X)
            assert moved > start

        # a click on the call activity lists its visits
        tool(page, "current").click()
        page.locator(".djs-element[data-element-id=negotiation]").first.click()
        panel = page.locator("[data-testid=element-panel]")
        panel.wait_for()
        assert "选址谈判" in panel.locator("h3").inner_text()
        assert panel.locator("[data-testid=element-item]").count() >= 1
        if viewport == "laptop" and os.environ.get("TOWERFLOW_SCREENSHOTS"):  # the README's picture: the card
            page.locator("section.card", has=page.locator("[data-testid=diagram]")).screenshot(
                path=str(SCREENSHOTS / "cockpit-diagram.png"))

        # drill down into the negotiation, and back up
        page.locator("[data-drill-for=negotiation]").click()
        page.wait_for_url(f"**/instances/{negotiation_id}")
        ready(page)
        assert page.locator(f".djs-element[data-element-id={active}].tf-active").count() == 1
        assert zoom(page) >= READABLE or page.get_attribute("[data-testid=diagram]", "data-first-view") == "fit"
        assert in_view(page, active)
        page.locator("[data-testid=caller-link]").last.click()
        page.wait_for_url(f"**/instances/{order_id}")
        ready(page)
        assert errors == []
    finally:
        context.close()


def drag_by_touch(page, dx: int) -> None:
    page.evaluate("""(dx) => {
        const el = document.querySelector('[data-testid=diagram] svg');
        const box = el.getBoundingClientRect();
        const x = box.left + box.width / 2, y = box.top + box.height / 2;
        const touch = (cx) => new Touch({identifier: 1, target: el, clientX: cx, clientY: y});
        const fire = (type, cx) => el.dispatchEvent(new TouchEvent(type, {bubbles: true, cancelable: true,
            touches: type === 'touchend' ? [] : [touch(cx)], changedTouches: [touch(cx)]}));
        fire('touchstart', x);
        for (let i = 1; i <= 5; i++) { fire('touchmove', x + dx * i / 5); }
        fire('touchend', x + dx);
    }""", dx)


@pytest.mark.parametrize("viewport", ["phone", "laptop"])
def test_version_page_counts_and_lists_the_instances_at_a_step(browser, world, negotiation, viewport):
    context, page, errors = open_page(browser, world, viewport)
    try:
        page.goto("/definitions/tower_order/1")
        ready(page)
        running = page.locator(".tf-badge-now[data-badge-for=negotiation]")
        assert int(running.inner_text()) >= 1
        tool(page, "fit").click()
        page.locator(".djs-element[data-element-id=negotiation]").first.click()
        panel = page.locator("[data-testid=element-panel]")
        panel.wait_for()
        items = panel.locator("[data-testid=element-item]")
        assert items.count() == int(running.inner_text())
        assert "选址谈判" in panel.locator("h3").inner_text()
        # the call activity opens the called process's version page
        page.locator("[data-drill-for=negotiation]").click()
        page.wait_for_url("**/definitions/site_negotiation/*")
        ready(page)
        assert errors == []
    finally:
        context.close()


COLLAPSED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="Defs_cockpit_collapsed" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="cockpit_collapsed" name="审核" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="sub" name="内部审核">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="inner_start"><bpmn:outgoing>g1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="inner" name="审核材料">
        <bpmn:extensionElements><spiffworkflow:properties>
          <spiffworkflow:property name="candidateGroups" value="clerk"/>
        </spiffworkflow:properties></bpmn:extensionElements>
        <bpmn:incoming>g1</bpmn:incoming><bpmn:outgoing>g2</bpmn:outgoing>
      </bpmn:userTask>
      <bpmn:endEvent id="inner_end"><bpmn:incoming>g2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="inner"/>
      <bpmn:sequenceFlow id="g2" sourceRef="inner" targetRef="inner_end"/>
    </bpmn:subProcess>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub"/>
    <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="d1"><bpmndi:BPMNPlane id="p1" bpmnElement="cockpit_collapsed">
    <bpmndi:BPMNShape id="s_start" bpmnElement="start">
      <dc:Bounds x="100" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_sub" bpmnElement="sub" isExpanded="false">
      <dc:Bounds x="200" y="78" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_end" bpmnElement="end">
      <dc:Bounds x="360" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="e_f1" bpmnElement="f1"><di:waypoint x="136" y="118"/>
      <di:waypoint x="200" y="118"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="e_f2" bpmnElement="f2"><di:waypoint x="300" y="118"/>
      <di:waypoint x="360" y="118"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
  <bpmndi:BPMNDiagram id="d2"><bpmndi:BPMNPlane id="p2" bpmnElement="sub">
    <bpmndi:BPMNShape id="s_inner_start" bpmnElement="inner_start">
      <dc:Bounds x="100" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_inner" bpmnElement="inner">
      <dc:Bounds x="200" y="78" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_inner_end" bpmnElement="inner_end">
      <dc:Bounds x="360" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="e_g1" bpmnElement="g1"><di:waypoint x="136" y="118"/>
      <di:waypoint x="200" y="118"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="e_g2" bpmnElement="g2"><di:waypoint x="300" y="118"/>
      <di:waypoint x="360" y="118"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def test_a_collapsed_sub_process_drills_down_with_its_marks(browser, world):
    platform = world["platform"]
    deployments.deploy(platform, SYSTEM, {"cockpit_collapsed.bpmn": COLLAPSED.encode()})
    instance_id = instances.start(platform, Principal("staff", frozenset({"clerk"})), "cockpit_collapsed", "C-1")
    context, page, errors = open_page(browser, world, "laptop")
    try:
        page.goto(f"/instances/{instance_id}")
        ready(page)
        assert page.get_attribute("[data-testid=diagram]", "data-first-view") == "fit"
        assert page.locator(".djs-element[data-element-id=sub].tf-scope").count() == 1  # dashed, holds the step
        page.locator(".bjs-drilldown").first.click()  # bpmn-js's own drill-down
        inner = page.locator(".djs-element[data-element-id=inner].tf-active")
        inner.wait_for()
        assert in_view(page, "inner")
        page.locator(".bjs-breadcrumbs li").first.click()  # and back up
        page.locator(".djs-element[data-element-id=sub]").first.wait_for()
        assert page.locator(".djs-element[data-element-id=sub]").first.is_visible()
        tool(page, "current").click()  # the current step is inside: the viewer opens its plane
        inner.wait_for()
        assert in_view(page, "inner")
        assert errors == []
    finally:
        context.close()

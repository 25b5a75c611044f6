"""The modeler's properties panel in a real browser (1366 px beside the canvas, 390 px below it).

A designer opens a prepared diagram (a user task with a timer boundary event, an exclusive
gateway with two flows, a service task, and SpiffWorkflow extensions the panel does not show)
in a new diagram, sets every property through the panel only, validates, deploys, and opens
the deployed version again: every value is still in the panel and the unknown extensions
survived.
"""

from __future__ import annotations

import re

import pytest
from pages import screenshot, sign_in
from playwright.sync_api import expect
from sqlalchemy import select

from engine.models import DeploymentFile, ProcessDefinition

PREPARED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_ui_panel" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="ui_panel" name="Panel round trip" isExecutable="true">
    <bpmn:startEvent id="start" name="Requested">
      <bpmn:outgoing>f_start</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="review" name="Review" spiffworkflow:reviewLevel="2">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="auditTag" value="keep-me" />
        </spiffworkflow:properties>
        <spiffworkflow:customThing level="2">
          <spiffworkflow:note>not shown by the panel</spiffworkflow:note>
        </spiffworkflow:customThing>
      </bpmn:extensionElements>
      <bpmn:incoming>f_start</bpmn:incoming>
      <bpmn:outgoing>f_review</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="remind" name="Reminder" cancelActivity="false" attachedToRef="review">
      <bpmn:outgoing>f_remind</bpmn:outgoing>
      <bpmn:timerEventDefinition id="remind_timer" />
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="reminded" name="Reminded">
      <bpmn:incoming>f_remind</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:exclusiveGateway id="decide" name="Approved?">
      <bpmn:incoming>f_review</bpmn:incoming>
      <bpmn:outgoing>f_yes</bpmn:outgoing>
      <bpmn:outgoing>f_no</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:serviceTask id="notify" name="Notify">
      <bpmn:incoming>f_yes</bpmn:incoming>
      <bpmn:outgoing>f_notified</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="done" name="Done">
      <bpmn:incoming>f_notified</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:endEvent id="refused" name="Refused">
      <bpmn:incoming>f_no</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f_review" sourceRef="review" targetRef="decide" />
    <bpmn:sequenceFlow id="f_yes" name="yes" sourceRef="decide" targetRef="notify" />
    <bpmn:sequenceFlow id="f_no" name="no" sourceRef="decide" targetRef="refused" />
    <bpmn:sequenceFlow id="f_notified" sourceRef="notify" targetRef="done" />
    <bpmn:sequenceFlow id="f_remind" sourceRef="remind" targetRef="reminded" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_ui_panel">
    <bpmndi:BPMNPlane id="Plane_ui_panel" bpmnElement="ui_panel">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="152" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="review_di" bpmnElement="review"><dc:Bounds x="240" y="80" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="decide_di" bpmnElement="decide" isMarkerVisible="true"><dc:Bounds x="395" y="95" width="50" height="50" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="notify_di" bpmnElement="notify"><dc:Bounds x="500" y="80" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="done_di" bpmnElement="done"><dc:Bounds x="662" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="refused_di" bpmnElement="refused"><dc:Bounds x="532" y="222" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="reminded_di" bpmnElement="reminded"><dc:Bounds x="312" y="262" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="remind_di" bpmnElement="remind"><dc:Bounds x="272" y="142" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f_start_di" bpmnElement="f_start"><di:waypoint x="188" y="120" /><di:waypoint x="240" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f_review_di" bpmnElement="f_review"><di:waypoint x="340" y="120" /><di:waypoint x="395" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f_yes_di" bpmnElement="f_yes"><di:waypoint x="445" y="120" /><di:waypoint x="500" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f_no_di" bpmnElement="f_no"><di:waypoint x="420" y="145" /><di:waypoint x="420" y="240" /><di:waypoint x="532" y="240" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f_notified_di" bpmnElement="f_notified"><di:waypoint x="600" y="120" /><di:waypoint x="662" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f_remind_di" bpmnElement="f_remind"><di:waypoint x="290" y="178" /><di:waypoint x="290" y="280" /><di:waypoint x="312" y="280" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""  # noqa: E501 (the diagram's lines as a modeler writes them)

LATIN = re.compile(r"[A-Za-z]")
DEBOUNCE_MS = 300  # the panel commits typed text 300 ms after the last keystroke (modeler/panel/debounce.js)
TEXT_WAIT_MS = 60_000  # only a bound on waiting for a text to show, not a timing target


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def field(entry_id: str) -> str:
    return f"#bio-properties-panel-{entry_id}"


def settle(page) -> None:
    """Let the panel commit what was typed (it debounces input). A timer set in the page after
    the panel's own and with the same delay runs after it (a page runs its timers in that order),
    so this waits for the commit itself however busy the machine is, not for a guess of the time."""
    page.evaluate("ms => new Promise(done => setTimeout(done, ms))", DEBOUNCE_MS)


def shows(page, selector: str, text: str) -> None:
    """Wait (bounded) until the element says exactly ``text``."""
    expect(page.locator(selector)).to_have_text(text, timeout=TEXT_WAIT_MS)


MIDDLE_OF_FIRST_SEGMENT = """id => {
    const modeler = window.towerflowModeler;
    const [a, b] = modeler.get('elementRegistry').get(id).waypoints;
    const box = modeler.get('canvas').viewbox();
    const rect = document.querySelector('#tf-canvas').getBoundingClientRect();
    return { x: rect.left + ((a.x + b.x) / 2 - box.x) * box.scale,
             y: rect.top + ((a.y + b.y) / 2 - box.y) * box.scale };
}"""


def select_element(page, element_id: str, position: dict | None = None) -> None:
    """Click an element on the canvas (a connection in the middle of its first segment, a lane
    at `position`, away from the shapes in it)."""
    canvas = page.locator("[data-testid=modeler-canvas]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 10, box["y"] + 10)  # nothing there: the context pad goes away
    shape = page.locator(f"[data-testid=modeler-canvas] .djs-element[data-element-id={element_id}]")
    if "djs-connection" in (shape.get_attribute("class") or ""):
        point = page.evaluate(MIDDLE_OF_FIRST_SEGMENT, element_id)
        page.mouse.click(point["x"], point["y"])
    else:
        shape.click(position=position)
    page.wait_for_function("id => (window.towerflowModeler.get('selection').get()[0] || {}).id === id",
                           arg=element_id)
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def open_list_item(page, item_id: str) -> None:
    item = page.locator(f"#tf-properties [data-entry-id={item_id}]")
    if "open" not in (item.get_attribute("class") or ""):
        item.locator(".bio-properties-panel-collapsible-entry-header").click()


def add_list_item(page, group_id: str) -> None:
    page.click(f"#tf-properties [data-group-id=group-{group_id}] .bio-properties-panel-add-entry")


def add_token(page, entry_id: str, value: str) -> None:
    page.fill(field(entry_id), value)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#tf-properties [data-entry-id={entry_id}] .tf-token[data-value='{value}']")


def group_titles(page) -> list[str]:
    return page.locator("#tf-properties .bio-properties-panel-group-header-title").all_inner_texts()


def open_prepared_diagram(page) -> None:
    """A new diagram, then the prepared XML drawn through the XML panel (loading, not editing)."""
    page.goto("/designer/new")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    page.wait_for_selector("#tf-modeler[data-catalog=ready]")
    page.click("[data-testid=edit-xml]")
    page.fill("[data-testid=xml-text]", PREPARED)
    page.click("[data-testid=apply-xml]")
    page.click("[data-testid=edit-xml]")  # closed again: from here on only the panel edits
    page.fill("[data-testid=filename]", "ui_panel.bpmn")


def set_everything(page) -> None:
    select_element(page, "review")
    page.select_option(field("tf-formKey"), "approval")
    preview = page.locator("[data-testid=form-preview]")
    assert preview.get_attribute("data-form") == "approval"
    approved = preview.locator("tr[data-field=approved]").inner_text()
    assert "是否同意" in approved and "是/否" in approved and "是" in approved.split("\t")[-1]
    add_token(page, "tf-candidateGroups", "city_director")
    assert "地市建维主任" in page.inner_text("[data-entry-id=tf-candidateGroups] .tf-token")
    page.fill(field("tf-dueIn"), "P2D")
    page.fill(field("tf-priority"), "70")
    settle(page)
    shows(page, "[data-testid=due-meaning]", "任务就绪 2 天后到期")

    select_element(page, "notify")
    page.select_option(field("tf-operator"), "sms.send")
    page.fill(field("tf-resultVariable"), "sms_result")
    settle(page)
    add_list_item(page, "tf-parameters")
    open_list_item(page, "tf-parameter-0")
    page.fill(field("tf-parameter-0-id"), "to")
    page.select_option(field("tf-parameter-0-type"), "str")
    page.fill(field("tf-parameter-0-value"), "manager_phone")
    settle(page)

    select_element(page, "f_yes")
    page.fill(field("tf-condition"), "approved == True")
    settle(page)
    select_element(page, "f_no")
    page.check(field("tf-default-flow"))
    page.wait_for_selector("[data-entry-id=tf-condition].tf-info")  # a default flow has no condition

    select_element(page, "remind")
    page.select_option(field("tf-timer-type"), "timeDuration")
    page.fill(field("tf-timer-value"), "PT15M")
    settle(page)
    shows(page, "[data-testid=timer-meaning]", "15 分钟后")


def check_everything(page) -> None:
    select_element(page, "review")
    assert page.input_value(field("tf-formKey")) == "approval"
    assert page.locator("[data-testid=form-preview] tr[data-field=approved]").count() == 1
    chosen = page.locator("[data-entry-id=tf-candidateGroups] .tf-token")
    assert chosen.count() == 1 and chosen.get_attribute("data-value") == "city_director"
    assert page.input_value(field("tf-dueIn")) == "P2D"
    assert page.input_value(field("tf-priority")) == "70"

    select_element(page, "notify")
    assert page.input_value(field("tf-operator")) == "sms.send"
    assert page.input_value(field("tf-resultVariable")) == "sms_result"
    open_list_item(page, "tf-parameter-0")
    assert page.input_value(field("tf-parameter-0-id")) == "to"
    assert page.input_value(field("tf-parameter-0-type")) == "str"
    assert page.input_value(field("tf-parameter-0-value")) == "manager_phone"

    select_element(page, "f_yes")
    assert page.input_value(field("tf-condition")) == "approved == True"
    assert not page.is_checked(field("tf-default-flow"))
    select_element(page, "f_no")
    assert page.is_checked(field("tf-default-flow"))

    select_element(page, "remind")
    assert page.input_value(field("tf-timer-type")) == "timeDuration"
    assert page.input_value(field("tf-timer-value")) == "PT15M"
    shows(page, "[data-testid=timer-meaning]", "15 分钟后")


def deployed_xml(platform, key: str, version: int) -> str:
    with platform.Session() as db:
        row = db.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key,
                                                        ProcessDefinition.version == version))
        return db.get(DeploymentFile, row.file_id).content


@pytest.mark.parametrize("width, height, shot", [(1366, 900, "modeler-panel"), (390, 844, "modeler-panel-phone")])
def test_every_property_set_in_the_panel_survives_deploy_and_reload(new_page, users, platform, width, height, shot):
    users("des_pan", ["designer"])
    users("li_zhuren", ["city_director"], display_name="李主任")
    page = new_page()
    page.set_viewport_size({"width": width, "height": height})
    errors = watch_errors(page)
    sign_in(page, "des_pan")
    open_prepared_diagram(page)
    panel = page.locator("[data-testid=properties-panel]")
    canvas = page.locator("[data-testid=modeler-canvas]").bounding_box()
    box = panel.bounding_box()
    if width > 1000:  # beside the canvas
        assert box["x"] >= canvas["x"] + canvas["width"] - 1 and abs(box["y"] - canvas["y"]) < 2
        assert not page.is_visible("[data-testid=toggle-panel]")
    else:  # below it, and it folds away
        assert box["y"] >= canvas["y"] + canvas["height"] - 1 and box["width"] > 300
        page.click("[data-testid=toggle-panel]")
        assert not page.is_visible("#tf-properties")
        page.click("[data-testid=toggle-panel]")
        assert page.is_visible("#tf-properties")

    set_everything(page)
    select_element(page, "review")
    if width <= 1000:
        page.locator("[data-group-id=group-tf-form]").scroll_into_view_if_needed()
    screenshot(page, shot)

    page.click("[data-testid=validate]")
    page.wait_for_selector("#tf-modeler[data-result=valid]")
    page.click("[data-testid=deploy]")
    page.wait_for_selector("#tf-modeler[data-result=deployed]")
    assert page.locator("[data-testid=modeler-status] li[data-process=ui_panel]").get_attribute("data-version") == "1"

    xml = deployed_xml(platform, "ui_panel", 1)
    assert '<spiffworkflow:property name="auditTag" value="keep-me"' in xml  # unknown property kept
    assert '<spiffworkflow:customThing level="2">' in xml and "not shown by the panel" in xml  # unknown element
    assert 'spiffworkflow:reviewLevel="2"' in xml  # unknown attribute
    assert '<spiffworkflow:property name="formKey" value="approval"' in xml
    assert '<spiffworkflow:serviceTaskOperator id="sms.send" resultVariable="sms_result">' in xml
    assert 'default="f_no"' in xml

    page.goto("/designer/processes/ui_panel/edit")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    page.wait_for_selector("#tf-modeler[data-catalog=ready]")
    check_everything(page)
    assert errors == []


def test_the_chinese_modeler_speaks_chinese(new_page, users, platform):
    users("des_zh", ["designer"])
    page = new_page()
    page.set_viewport_size({"width": 1366, "height": 900})
    errors = watch_errors(page)
    sign_in(page, "des_zh")
    open_prepared_diagram(page)

    # every palette entry has a tooltip (diagram-js 15 shows the entry's title in a hover tooltip
    # and as the aria-label, instead of a title attribute)
    entries = page.locator(".djs-palette .entry")
    titles = [entries.nth(i).get_attribute("aria-label") for i in range(entries.count())]
    assert len(titles) >= 12 and all(titles), titles
    assert "创建开始事件" in titles and "激活抓手工具" in titles
    assert [t for t in titles if LATIN.search(t)] == []
    page.hover(".djs-palette .entry[data-action='create.start-event']")
    assert page.locator(".djs-hover-tooltip").inner_text().strip() == "创建开始事件"

    for element_id in ["start", "review", "remind", "decide", "f_yes", "notify", "done"]:
        select_element(page, element_id)
        titles = group_titles(page)
        assert titles and [t for t in titles if LATIN.search(t)] == [], (element_id, titles)
        header = page.inner_text("#tf-properties .bio-properties-panel-header-type")
        assert not LATIN.search(header), (element_id, header)

    select_element(page, "review")
    pad = page.locator(".djs-context-pad .entry[title]")
    pad_titles = [pad.nth(i).get_attribute("title") for i in range(pad.count())]
    assert "追加任务" in pad_titles and [t for t in pad_titles if LATIN.search(t)] == [], pad_titles
    page.click(".djs-context-pad .entry[data-action=replace]")
    page.wait_for_selector(".djs-popup")
    labels = page.locator(".djs-popup .entry .djs-popup-label").all_inner_texts()
    assert "服务任务" in labels and [t for t in labels if LATIN.search(t)] == [], labels
    page.keyboard.press("Escape")

    draw(page, MORE, "ui_more.bpmn")
    for element_id, position in [("lane_office", LANE_EDGE), ("wait", None), ("call", None), ("rule", None),
                                 ("calc", None), ("check", None)]:
        select_element(page, element_id, position)
        titles = group_titles(page)
        assert titles and [t for t in titles if LATIN.search(t)] == [], (element_id, titles)
    select_element(page, "wait")
    page.select_option(field("tf-message"), "__towerflow_new_message__")
    page.wait_for_selector("[data-group-id=group-tf-correlations]")
    assert "消息关联" in group_titles(page)
    assert errors == []


def test_the_english_modeler_speaks_english(new_page, users, platform):
    users("des_en", ["designer"])
    page = new_page(lang="en")
    sign_in(page, "des_en")
    open_prepared_diagram(page)
    titles = page.locator(".djs-palette .entry").evaluate_all("nodes => nodes.map(n => n.getAttribute('aria-label'))")
    assert "Create start event" in titles
    select_element(page, "remind")
    assert "Timer" in group_titles(page)
    page.select_option(field("tf-timer-type"), "timeCycle")
    page.fill(field("tf-timer-value"), "R/P1D")
    settle(page)
    shows(page, "[data-testid=timer-meaning]", "every day")


MORE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_ui_more" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="Collab_ui_more">
    <bpmn:participant id="Part_ui_more" name="Site office" processRef="ui_more" />
  </bpmn:collaboration>
  <bpmn:process id="ui_more" name="More of the panel" isExecutable="true">
    <bpmn:laneSet id="LaneSet_ui_more">
      <bpmn:lane id="lane_office">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>wait</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>call</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>rule</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>calc</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>check</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Start"><bpmn:outgoing>m1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Result">
      <bpmn:incoming>m1</bpmn:incoming><bpmn:outgoing>m2</bpmn:outgoing>
      <bpmn:messageEventDefinition id="wait_def" />
    </bpmn:intermediateCatchEvent>
    <bpmn:callActivity id="call" name="Order"><bpmn:incoming>m2</bpmn:incoming><bpmn:outgoing>m3</bpmn:outgoing></bpmn:callActivity>
    <bpmn:businessRuleTask id="rule" name="Fee"><bpmn:incoming>m3</bpmn:incoming><bpmn:outgoing>m4</bpmn:outgoing></bpmn:businessRuleTask>
    <bpmn:scriptTask id="calc" name="Compute"><bpmn:incoming>m4</bpmn:incoming><bpmn:outgoing>m5</bpmn:outgoing></bpmn:scriptTask>
    <bpmn:userTask id="check" name="Check"><bpmn:incoming>m5</bpmn:incoming><bpmn:outgoing>m6</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end" name="End"><bpmn:incoming>m6</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="m1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="m2" sourceRef="wait" targetRef="call" />
    <bpmn:sequenceFlow id="m3" sourceRef="call" targetRef="rule" />
    <bpmn:sequenceFlow id="m4" sourceRef="rule" targetRef="calc" />
    <bpmn:sequenceFlow id="m5" sourceRef="calc" targetRef="check" />
    <bpmn:sequenceFlow id="m6" sourceRef="check" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_ui_more">
    <bpmndi:BPMNPlane id="Plane_ui_more" bpmnElement="Collab_ui_more">
      <bpmndi:BPMNShape id="Part_ui_more_di" bpmnElement="Part_ui_more" isHorizontal="true"><dc:Bounds x="100" y="50" width="1000" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="lane_office_di" bpmnElement="lane_office" isHorizontal="true"><dc:Bounds x="130" y="50" width="970" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="172" y="132" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="wait_di" bpmnElement="wait"><dc:Bounds x="252" y="132" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="call_di" bpmnElement="call"><dc:Bounds x="330" y="110" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="rule_di" bpmnElement="rule"><dc:Bounds x="470" y="110" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="calc_di" bpmnElement="calc"><dc:Bounds x="610" y="110" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="check_di" bpmnElement="check"><dc:Bounds x="750" y="110" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="902" y="132" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="m1_di" bpmnElement="m1"><di:waypoint x="208" y="150" /><di:waypoint x="252" y="150" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="m2_di" bpmnElement="m2"><di:waypoint x="288" y="150" /><di:waypoint x="330" y="150" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="m3_di" bpmnElement="m3"><di:waypoint x="430" y="150" /><di:waypoint x="470" y="150" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="m4_di" bpmnElement="m4"><di:waypoint x="570" y="150" /><di:waypoint x="610" y="150" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="m5_di" bpmnElement="m5"><di:waypoint x="710" y="150" /><di:waypoint x="750" y="150" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="m6_di" bpmnElement="m6"><di:waypoint x="850" y="150" /><di:waypoint x="902" y="150" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""  # noqa: E501 (the diagram's lines as a modeler writes them)


LANE_EDGE = {"x": 60, "y": 8}


def draw(page, xml: str, filename: str) -> None:
    page.goto("/designer/new")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    page.wait_for_selector("#tf-modeler[data-catalog=ready]")
    page.click("[data-testid=edit-xml]")
    page.fill("[data-testid=xml-text]", xml)
    page.click("[data-testid=apply-xml]")
    page.click("[data-testid=edit-xml]")
    page.fill("[data-testid=filename]", filename)


def test_messages_calls_decisions_scripts_lanes_and_starts_round_trip(new_page, users, platform):
    from helpers import deploy

    deploy(platform, "ui_des_order.bpmn", "lint/good/site_fee.dmn")
    users("des_more", ["designer"])
    page = new_page(lang="en")
    page.set_viewport_size({"width": 1366, "height": 900})
    errors = watch_errors(page)
    sign_in(page, "des_more")
    draw(page, MORE, "ui_more.bpmn")

    select_element(page, "lane_office", LANE_EDGE)
    assert "no candidate group" in page.inner_text("[data-entry-id=tf-lane-meaning]")
    page.select_option(field("tf-lane-group"), "city_director")
    page.wait_for_selector("[data-entry-id=tf-lane-meaning] >> text=City construction and maintenance director")

    select_element(page, "check")  # a user task naming no candidates: the lane's group takes it
    assert "city_director" in page.inner_text("[data-entry-id=tf-lane-fallback]")
    add_token(page, "tf-candidateUsers", "${[manager, deputy]}")
    assert page.locator("[data-entry-id=tf-candidateUsers] .tf-token-expression").count() == 1
    assert "Only these candidates" in page.inner_text("[data-entry-id=tf-lane-fallback]")

    select_element(page, "start")
    page.select_option(field("tf-start-formKey"), "comment")
    add_token(page, "tf-starterGroups", "designer")

    select_element(page, "wait")
    page.select_option(field("tf-message"), "__towerflow_new_message__")
    page.fill(field("tf-message-name"), "site_result")
    page.fill(field("tf-message-variable"), "result")
    settle(page)
    add_list_item(page, "tf-correlations")
    open_list_item(page, "tf-correlation-0")
    page.fill(field("tf-correlation-0-id"), "site_code")
    settle(page)
    page.fill(field("tf-correlation-0-message"), "site_code")
    page.fill(field("tf-correlation-0-instance"), "my_site")
    settle(page)

    select_element(page, "call")
    page.select_option(field("tf-calledElement"), "ui_des_order")
    select_element(page, "rule")
    page.select_option(field("tf-decision"), "site_fee")
    select_element(page, "calc")
    page.fill(field("tf-script"), "total = fee * 2")
    select_element(page, "check")
    page.fill(field("tf-preScript"), "seen = True")

    page.click("[data-testid=deploy]")  # no wait: the panel's pending input is flushed first
    page.wait_for_selector("#tf-modeler[data-result=deployed]")
    xml = deployed_xml(platform, "ui_more", 1)
    assert '<bpmn:lane id="lane_office" name="city_director">' in xml
    assert '<spiffworkflow:messageVariable>result</spiffworkflow:messageVariable>' in xml
    assert '<spiffworkflow:propertyId>site_code</spiffworkflow:propertyId>' in xml
    assert '<bpmn:correlationProperty id="site_code"' in xml
    assert 'calledElement="ui_des_order"' in xml
    assert '<spiffworkflow:calledDecisionId>site_fee</spiffworkflow:calledDecisionId>' in xml
    assert '<spiffworkflow:preScript>seen = True</spiffworkflow:preScript>' in xml

    page.goto("/designer/processes/ui_more/edit")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    page.wait_for_selector("#tf-modeler[data-catalog=ready]")
    select_element(page, "lane_office", LANE_EDGE)
    assert page.input_value(field("tf-lane-group")) == "city_director"
    select_element(page, "start")
    assert page.input_value(field("tf-start-formKey")) == "comment"
    assert page.locator("[data-entry-id=tf-starterGroups] .tf-token").get_attribute("data-value") == "designer"
    select_element(page, "wait")
    assert page.input_value(field("tf-message-name")) == "site_result"
    assert page.input_value(field("tf-message-variable")) == "result"
    open_list_item(page, "tf-correlation-0")
    assert page.input_value(field("tf-correlation-0-id")) == "site_code"
    assert page.input_value(field("tf-correlation-0-message")) == "site_code"
    assert page.input_value(field("tf-correlation-0-instance")) == "my_site"
    select_element(page, "call")
    assert page.input_value(field("tf-calledElement")) == "ui_des_order"
    select_element(page, "rule")
    assert page.input_value(field("tf-decision")) == "site_fee"
    select_element(page, "calc")
    assert page.input_value(field("tf-script")) == "total = fee * 2"
    select_element(page, "check")
    assert page.input_value(field("tf-preScript")) == "seen = True"
    tokens = page.locator("[data-entry-id=tf-candidateUsers] .tf-token")
    assert tokens.get_attribute("data-value") == "${[manager, deputy]}"
    assert errors == []

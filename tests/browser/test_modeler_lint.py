"""Problems while drawing, in a real browser: the modeler checks the diagram on every change
(bpmnlint with TowerFlow's rules at once, the server's lint a moment later), marks the elements
and lists the problems below the canvas; errors disable Deploy, warnings don't.
"""

from __future__ import annotations

import pytest
from pages import screenshot, sign_in
from test_modeler_panel import add_token, field, select_element, settle, watch_errors

CANVAS = "[data-testid=modeler-canvas]"
ITEMS = "[data-testid=problems-list] li.tf-lint-item"


def item(rule: str, element_id: str) -> str:
    return f"{ITEMS}[data-rule='{rule}'][data-element-id='{element_id}']"


def marked(page, element_id: str, severity: str) -> bool:
    return page.locator(f"{CANVAS} .djs-element.tf-lint-{severity}[data-element-id={element_id}]").count() == 1


def checked(page) -> None:
    """Wait for the server's check of the latest change (it runs a moment after it)."""
    page.wait_for_selector("#tf-modeler[data-lint=done]", state="attached")


def run(page, script: str, arg=None):
    return page.evaluate(f"(arg) => {{ const m = window.towerflowModeler; {script} }}", arg)


def open_new(page, width: int = 1366, height: int = 900) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/designer/new")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    page.wait_for_selector("#tf-modeler[data-catalog=ready]")
    page.wait_for_selector("#tf-modeler[data-lint=done]", state="attached")
    page.fill("[data-testid=filename]", "ui_lint.bpmn")


def test_problems_appear_while_drawing_block_deploy_and_go_away_when_fixed(new_page, users, platform):
    users("des_lint", ["designer"])
    page = new_page()
    errors = watch_errors(page)
    sign_in(page, "des_lint")
    open_new(page)

    # the task becomes a user task (as the wrench menu does): no form, no candidates -> warnings
    run(page, """const task = m.get('elementRegistry').get('task');
                 m.get('bpmnReplace').replaceElement(task, { type: 'bpmn:UserTask' });""")
    page.wait_for_selector(item("towerflow/user-task-form", "task"))
    page.wait_for_selector(item("towerflow/user-task-candidates", "task"))
    assert marked(page, "task", "warning")
    assert "用户任务没有表单" in page.inner_text(item("towerflow/user-task-form", "task"))
    assert page.locator(f"{ITEMS}[data-element-id=task][data-source=server]").count() == 0  # not listed twice
    assert page.is_enabled("[data-testid=deploy]")

    # a task nobody reaches, with no way on: errors, and Deploy is refused
    run(page, """const root = m.get('canvas').getRootElement();
                 const shape = m.get('elementFactory').createShape({ type: 'bpmn:Task' });
                 shape.businessObject.id = 'orphan'; shape.id = 'orphan';
                 shape.businessObject.name = '孤立任务';
                 m.get('modeling').createShape(shape, { x: 420, y: 320 }, root);""")
    page.wait_for_selector(item("towerflow/unreachable", "orphan"))
    page.wait_for_selector(item("towerflow/dead-end", "orphan"))
    assert marked(page, "orphan", "error")
    assert page.get_attribute(item("towerflow/dead-end", "orphan"), "data-severity") == "error"
    assert not page.is_enabled("[data-testid=deploy]")
    reason = page.inner_text("[data-testid=deploy-blocked]")
    assert "部署前请先修正 2 个错误" in reason
    assert page.get_attribute("[data-testid=deploy]", "title") == reason
    checked(page)
    screenshot(page, "modeler-problems")

    # a click in the list selects the element
    page.click(item("towerflow/dead-end", "orphan"))
    page.wait_for_function("() => (window.towerflowModeler.get('selection').get()[0] || {}).id === 'orphan'")

    # deleted: the errors go; with only warnings Deploy asks nothing and deploys, listing them
    run(page, "m.get('modeling').removeElements([ m.get('elementRegistry').get('orphan') ]);")
    page.wait_for_selector(f"{ITEMS}[data-element-id=orphan]", state="detached")
    assert page.locator(f"{CANVAS} .tf-lint-error").count() == 0
    page.wait_for_function("() => !document.querySelector('[data-testid=deploy]').disabled")
    checked(page)
    page.click("[data-testid=deploy]")
    page.wait_for_selector("#tf-modeler[data-result=deployed]")
    warnings = page.locator("[data-testid=deploy-warnings] li[data-element-id=task]")
    assert warnings.count() == 2 and "用户任务没有表单" in warnings.all_inner_texts()[0] + warnings.all_inner_texts()[1]

    # form and group set in the panel: the user task's warnings and its marker go away
    select_element(page, "task")
    page.select_option(field("tf-formKey"), "approval")
    add_token(page, "tf-candidateGroups", "city_director")
    settle(page)
    page.wait_for_selector(f"{ITEMS}[data-element-id=task]", state="detached")
    assert not marked(page, "task", "warning") and not marked(page, "task", "error")
    checked(page)
    assert page.locator(f"{ITEMS}[data-element-id=task]").count() == 0
    page.click("[data-testid=deploy]")
    page.wait_for_selector("#tf-modeler[data-result=deployed]")
    assert page.locator("[data-testid=modeler-status] li[data-version='2']").count() == 1
    assert page.locator("[data-testid=deploy-warnings] li[data-element-id=task]").count() == 0
    assert errors == []


SERVICE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_ui_lint_svc" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="ui_lint_svc" name="Lint service" isExecutable="true">
    <bpmn:startEvent id="start" name="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="call" name="Call">
      <bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="pms.no_such_call"><spiffworkflow:parameters /></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end" name="End"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_ui_lint_svc">
    <bpmndi:BPMNPlane id="Plane_ui_lint_svc" bpmnElement="ui_lint_svc">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="152" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="call_di" bpmnElement="call"><dc:Bounds x="240" y="80" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="392" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="188" y="120" /><di:waypoint x="240" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="340" y="120" /><di:waypoint x="392" y="120" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""  # noqa: E501 (the diagram's lines as a modeler writes them)


@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)])
def test_the_servers_problems_are_listed_in_chinese_and_block_deploy(new_page, users, width, height):
    users("des_lint2", ["designer"])
    page = new_page()
    sign_in(page, "des_lint2")
    open_new(page, width, height)
    page.click("[data-testid=edit-xml]")
    page.fill("[data-testid=xml-text]", SERVICE)
    page.click("[data-testid=apply-xml]")
    page.click("[data-testid=edit-xml]")

    server = f"{ITEMS}[data-source=server][data-code=unknown_handler][data-element-id=call]"
    page.wait_for_selector(server)
    assert "服务操作 pms.no_such_call 没有注册的处理程序" in page.inner_text(server)
    assert marked(page, "call", "error")
    assert not page.is_enabled("[data-testid=deploy]")
    panel = page.locator("[data-testid=problems-panel]").bounding_box()
    canvas = page.locator(CANVAS).bounding_box()
    assert panel["y"] >= canvas["y"] + canvas["height"] - 1  # below the canvas
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width
    page.click(server)
    page.wait_for_function("() => (window.towerflowModeler.get('selection').get()[0] || {}).id === 'call'")

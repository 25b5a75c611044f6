"""The designer in a real browser: a broken upload marked on its diagram, a good one deployed as
version 2, and the bpmn-js modeler editing a deployed process and deploying a new version."""

from __future__ import annotations

from pathlib import Path

from helpers import deploy, read
from pages import screenshot, sign_in
from playwright.sync_api import expect
from sqlalchemy import select

from engine.models import ProcessDefinition

DATA = Path(__file__).resolve().parents[1] / "data"


def watch_errors(page) -> list[str]:
    """Uncaught script errors of the page, so a broken script fails the test."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def versions(platform, key: str) -> list[int]:
    with platform.Session() as db:
        return list(db.scalars(select(ProcessDefinition.version).where(ProcessDefinition.key == key)
                               .order_by(ProcessDefinition.version)))


def test_broken_upload_is_marked_then_a_good_one_becomes_version_2(new_page, users, platform, tmp_path):
    deploy(platform, "ui_des_order.bpmn")
    users("des_li", ["designer"], display_name="李设计")
    page = new_page()
    errors = watch_errors(page)
    sign_in(page, "des_li")
    page.click("nav.mainnav >> text=流程设计")
    assert page.locator("h1").inner_text() == "流程设计"
    assert page.locator("tr[data-process=ui_des_order][data-version='1']").count() == 1

    page.set_input_files("[data-testid=upload-form] input[name=files]", str(DATA / "ui_des_broken.bpmn"))
    page.click("[data-testid=upload-form] button[type=submit]")
    assert page.locator("h1").inner_text() == "未部署任何内容"
    row = page.locator("tr.tf-problem-row[data-element-id=review]")
    assert "no_such_form" in row.inner_text() and "ui_des_broken.bpmn" in row.inner_text()
    page.wait_for_selector(".tf-diagram[data-drawn=true]")
    marked = page.locator(".tf-diagram .djs-element.tf-problem[data-element-id=review]")
    assert marked.count() == 1
    note = page.locator(".tf-diagram .djs-overlay .tf-problem-note[data-element-id=review]")
    assert "no_such_form" in note.inner_text()
    screenshot(page, "designer-errors")
    row.click()  # brings the element into view; must not break the page
    assert versions(platform, "ui_des_broken") == []
    assert errors == []

    changed = tmp_path / "ui_des_order.bpmn"
    changed.write_bytes(read("ui_des_order.bpmn").replace(b'name="Review order"', b'name="Review the order"'))
    page.set_input_files("[data-testid=upload-form] input[name=files]", str(changed))
    page.click("[data-testid=upload-form] button[type=submit]")
    result = page.locator("[data-testid=deploy-result] tr[data-process=ui_des_order]")
    assert result.get_attribute("data-version") == "2" and result.get_attribute("data-new") == "yes"
    assert "新版本" in result.inner_text()
    assert versions(platform, "ui_des_order") == [1, 2]
    page.click("text=返回流程设计")
    expect(page.locator("tr[data-process=ui_des_order][data-version='2'] >> text=最新")).to_have_count(1)


def test_modeler_edits_a_deployed_process_and_deploys_version_2(new_page, users, platform):
    deploy(platform, "ui_des_order.bpmn")
    users("des_wang", ["designer"])
    page = new_page(lang="en")
    errors = watch_errors(page)
    sign_in(page, "des_wang")
    page.goto("/designer/")
    page.click("tr[data-process=ui_des_order][data-version='1'] >> text=Open in the modeler")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    assert page.locator("[data-testid=modeler-canvas] .djs-element[data-element-id=review]").count() == 1

    page.evaluate("""() => {
        const modeler = window.towerflowModeler;
        const review = modeler.get('elementRegistry').get('review');
        modeler.get('modeling').updateLabel(review, 'Check the order');
    }""")
    page.click("[data-testid=validate]")
    page.wait_for_selector("#tf-modeler[data-result=valid]")
    page.click("[data-testid=deploy]")
    page.wait_for_selector("#tf-modeler[data-result=deployed]")
    status = page.locator("[data-testid=modeler-status]")
    assert "Deployed" in status.inner_text()
    assert status.locator("li[data-process=ui_des_order]").get_attribute("data-version") == "2"
    assert page.locator("[data-testid=modeler-version]").inner_text() == "2"
    screenshot(page, "modeler")
    assert versions(platform, "ui_des_order") == [1, 2]
    deployed = page.request.get("/designer/processes/ui_des_order/versions/2/download").text()
    assert 'name="Check the order"' in deployed
    assert 'name="formKey" value="approval"' in deployed  # SpiffWorkflow properties survive the modeler
    assert errors == []


def test_modeler_marks_problems_found_by_validate(new_page, users, platform):
    deploy(platform, "ui_des_order.bpmn")
    users("des_zhao", ["designer"])
    page = new_page()
    errors = watch_errors(page)
    sign_in(page, "des_zhao")
    page.goto("/designer/processes/ui_des_order/edit")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    page.evaluate("""() => {
        const modeler = window.towerflowModeler;
        const flow = modeler.get('elementRegistry').get('f2');
        const condition = modeler.get('moddle').create('bpmn:FormalExpression', {body: 'approved ==='});
        modeler.get('modeling').updateProperties(flow, {conditionExpression: condition});
    }""")
    page.click("[data-testid=deploy]")
    page.wait_for_selector("#tf-modeler[data-result=problems]")
    assert "invalid syntax" in page.locator("[data-testid=modeler-status] tr[data-element-id=f2]").inner_text()
    assert page.locator("[data-testid=modeler-canvas] .djs-connection.tf-problem[data-element-id=f2]").count() == 1
    assert page.locator("[data-testid=modeler-canvas] .tf-problem-note[data-element-id=f2]").count() == 1
    page.click("[data-testid=modeler-status] tr[data-element-id=f2]")
    assert page.locator("[data-testid=modeler-canvas] .djs-connection.selected[data-element-id=f2]").count() == 1
    page.evaluate("""() => {
        const modeler = window.towerflowModeler;
        const flow = modeler.get('elementRegistry').get('f2');
        modeler.get('modeling').updateProperties(flow, {conditionExpression: undefined});
    }""")
    page.click("[data-testid=validate]")
    page.wait_for_selector("#tf-modeler[data-result=valid]")
    assert page.locator("[data-testid=modeler-canvas] .tf-problem").count() == 0  # the marks are cleared
    assert versions(platform, "ui_des_order") == [1]
    assert errors == []


def test_new_diagram_deploys_a_new_process(new_page, users, platform):
    users("des_sun", ["designer"])
    page = new_page()
    sign_in(page, "des_sun")
    page.goto("/designer/")
    page.click("[data-testid=new-diagram]")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    key = page.locator("[data-testid=filename]").input_value().removesuffix(".bpmn")
    page.click("[data-testid=deploy]")
    page.wait_for_selector("#tf-modeler[data-result=deployed]")
    assert versions(platform, key) == [1]



def test_xml_panel_edits_properties_the_diagram_cannot(new_page, users, platform):
    deploy(platform, "ui_des_order.bpmn")
    users("des_qian", ["designer"])
    page = new_page(lang="en")
    errors = watch_errors(page)
    sign_in(page, "des_qian")
    page.goto("/designer/processes/ui_des_order/edit")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    page.click("[data-testid=edit-xml]")
    xml = page.locator("[data-testid=xml-text]")
    xml.fill(xml.input_value().replace('value="approval"', 'value="no_such_form"'))
    page.click("[data-testid=validate]")
    page.wait_for_selector("#tf-modeler[data-result=problems]")
    assert page.locator("[data-testid=modeler-canvas] .djs-element.tf-problem[data-element-id=review]").count() == 1
    xml.fill(xml.input_value().replace('value="no_such_form"', 'value="comment"'))
    page.click("[data-testid=deploy]")
    page.wait_for_selector("#tf-modeler[data-result=deployed]")
    assert versions(platform, "ui_des_order") == [1, 2]
    deployed = page.request.get("/designer/processes/ui_des_order/versions/2/download").text()
    assert 'name="formKey" value="comment"' in deployed
    assert errors == []

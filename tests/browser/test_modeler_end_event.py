"""The modeler's panel for an end event of the process: how the instance ends (endState and
endReason, docs/bpmn.md "How an instance ends"), in Chinese at phone width, a wrong state refused
in the field, the values written into the XML the engine reads."""

from __future__ import annotations

from pages import sign_in
from test_modeler_panel import (
    field,
    group_titles,
    open_prepared_diagram,
    select_element,
    settle,
    watch_errors,
)

from engine.definitions.parsing import parse_files


def test_an_end_event_says_how_the_instance_ends(new_page, users):
    users("des_end", ["designer"])
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    errors = watch_errors(page)
    sign_in(page, "des_end")
    open_prepared_diagram(page)

    select_element(page, "review")
    assert "实例如何结束" not in group_titles(page)  # only end events have it
    select_element(page, "refused")
    assert "实例如何结束" in group_titles(page)
    entry = page.locator("[data-entry-id=tf-endState]")
    assert "结束状态" in entry.inner_text() and "流程被撤销" in entry.inner_text()

    page.fill(field("tf-endState"), "canceled")
    settle(page)
    assert "应为 completed（完成）、cancelled（取消）或 ${表达式}" in entry.inner_text()
    page.fill(field("tf-endState"), "cancelled")
    page.fill(field("tf-endReason"), "${comment}")
    settle(page)
    assert "应为" not in entry.inner_text()

    xml = page.evaluate("async () => (await window.towerflowModeler.saveXML({ format: true })).xml")
    assert '<spiffworkflow:property name="endState" value="cancelled"' in xml
    assert '<spiffworkflow:property name="endReason" value="${comment}"' in xml
    problems = parse_files({"ui_panel.bpmn": xml.encode()}, form_keys={"approval"}, operators=set()).problems
    assert [p for p in problems if p.element_id == "refused"] == []  # the engine's lint accepts both

    select_element(page, "review")
    select_element(page, "refused")
    assert page.input_value(field("tf-endState")) == "cancelled"
    assert page.input_value(field("tf-endReason")) == "${comment}"
    assert errors == []

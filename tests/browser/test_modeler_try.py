"""Trying a diagram in the modeler before deploying it: the token simulation (in Chinese) and
the server's dry run (the path marked on the diagram, the steps listed, nothing stored)."""

from __future__ import annotations

import json

from helpers import deploy
from pages import screenshot, sign_in

SAMPLE = {"start": {"comment": "加急"}, "tasks": {"review": {"approved": True}}}


def open_modeler(page, width: int = 1366, height: int = 900):
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/designer/processes/dry_run/edit")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    page.wait_for_selector("#tf-modeler[data-catalog=ready]")


def test_token_simulation_in_chinese(new_page, users, platform):
    deploy(platform, "dry_run.bpmn")
    users("des", ["designer"])
    page = new_page("zh")
    sign_in(page, "des")
    open_modeler(page)
    assert page.inner_text("[data-testid=simulate]") == "模拟"
    page.click("[data-testid=simulate]")
    page.wait_for_selector("#tf-modeler[data-simulating=true]")
    assert page.get_attribute("[data-testid=simulate]", "aria-pressed") == "true"
    assert page.locator(".djs-palette").evaluate("el => el.classList.contains('hidden')")  # editing paused
    page.click(".bts-palette [title='显示/隐藏模拟日志']")
    page.wait_for_selector(".bts-log:not(.hidden)")
    assert "模拟日志" in page.inner_text(".bts-log .bts-header")
    assert "暂无记录" in page.inner_text(".bts-log .bts-content")
    page.hover(".djs-element[data-element-id=start]")
    page.click(".djs-overlay .bts-context-pad[title='触发事件']")  # a token leaves the start event
    page.wait_for_selector(".bts-log .bts-entry .bts-text:text-is('流程已开始')")
    page.wait_for_selector(".bts-token-count-parent, .bts-token", state="attached")
    page.click("[data-testid=simulate]")  # off again: editing is back
    page.wait_for_selector("#tf-modeler[data-simulating=false]")
    assert not page.locator(".djs-palette").evaluate("el => el.classList.contains('hidden')")


def test_simulation_controls_fit_a_phone(new_page, users, platform):
    deploy(platform, "dry_run.bpmn")
    users("des", ["designer"])
    page = new_page("zh")
    sign_in(page, "des")
    open_modeler(page, 390, 844)
    page_width = page.evaluate("document.documentElement.scrollWidth")  # the header's own width
    page.click("[data-testid=simulate]")
    page.wait_for_selector("#tf-modeler[data-simulating=true]")
    canvas = page.locator("#tf-canvas").bounding_box()
    for selector in (".bts-palette", ".bts-set-animation-speed"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= canvas["x"] - 1 and box["x"] + box["width"] <= canvas["x"] + canvas["width"] + 1, selector
    page.click("[data-testid=dry-run]")
    page.wait_for_selector("[data-testid=dry-run-panel]:not([hidden])")
    page.fill("[data-testid=dry-run-sample]", json.dumps(SAMPLE))
    page.click("[data-testid=dry-run-start]")
    page.wait_for_selector("#tf-modeler[data-dry-run=completed]")
    assert page.evaluate("document.documentElement.scrollWidth") <= max(page_width, 390)
    for selector in ("[data-testid=dry-run-panel]", "[data-testid=dry-run-start]", "[data-testid=dry-run-sample]",
                     "[data-testid=simulate]", "[data-testid=dry-run]"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    screenshot(page, "modeler-dry-run-390")


def test_dry_run_marks_the_path_and_lists_the_steps(new_page, users, platform, api):
    deploy(platform, "dry_run.bpmn")
    users("des", ["designer"])
    page = new_page("zh")
    sign_in(page, "des")
    open_modeler(page)
    page.click("[data-testid=dry-run]")
    page.wait_for_selector("[data-testid=dry-run-panel]:not([hidden])")
    prefilled = json.loads(page.input_value("[data-testid=dry-run-sample]"))
    assert prefilled == {"start": {"comment": ""}, "tasks": {"review": {"approved": True, "comment": ""}}}

    page.fill("[data-testid=dry-run-sample]", "{not json")
    page.click("[data-testid=dry-run-start]")
    page.wait_for_selector("[data-testid=dry-run-sample-error]:not([hidden])")
    assert "不是有效的 JSON" in page.inner_text("[data-testid=dry-run-sample-error]")

    page.fill("[data-testid=dry-run-sample]", json.dumps(SAMPLE, ensure_ascii=False))
    page.click("[data-testid=dry-run-start]")
    page.wait_for_selector("#tf-modeler[data-dry-run=completed]")
    assert "运行到达流程结束" in page.inner_text("[data-testid=dry-run-stop]")
    rows = page.locator("[data-testid=dry-run-steps] tbody tr")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.elementId)") == [
        "start", "review", "decide", "price", "notify", "cool_off", "done"]
    text = page.inner_text("[data-testid=dry-run-steps]")
    assert "已用样例数据完成" in text and "未调用服务" in text and "定时器立即触发" in text
    assert 'total = 300' in text
    assert "未调用服务任务" in page.inner_text("[data-testid=dry-run-result]")
    visited = page.evaluate("""() => {
        const canvas = window.towerflowModeler.get('canvas');
        return window.towerflowModeler.get('elementRegistry').filter(e => canvas.hasMarker(e, 'tf-dry-visited'))
            .map(e => e.id).sort();
    }""")
    assert visited == sorted(["start", "review", "decide", "price", "notify", "cool_off", "done", "f_start", "f_review",
                              "f_yes", "f_price", "f_notify", "f_cool"])
    assert page.inner_text(".tf-dry-badge[data-element-id=notify]") == "5"
    variables = json.loads(page.inner_text("[data-testid=dry-run-variables]"))
    assert variables["notified"] == {"status": "dry-run"} and variables["total"] == 300
    page.locator("[data-testid=modeler-canvas]").scroll_into_view_if_needed()
    screenshot(page, "modeler-dry-run")

    # the other branch
    page.fill("[data-testid=dry-run-sample]", json.dumps({"tasks": {"review": {"approved": False}}}))
    page.click("[data-testid=dry-run-start]")
    page.wait_for_selector("#tf-modeler[data-dry-run=completed]")
    page.wait_for_selector("[data-testid=dry-run-steps] tbody tr[data-element-id=refused]")
    assert page.locator(".tf-dry-badge[data-element-id=notify]").count() == 0

    r = api("sup", ["supervisor"]).get("/api/v1/process-instances")
    assert r.status_code == 200, r.json
    assert r.json["total"] == 0 and r.json["items"] == []  # nothing was stored

"""Two versions side by side in a real browser: version 2 of a process adds a task, removes
one, changes a task's candidate groups and its name; the comparison marks each on the right
diagram and lists what changed, old → new, at 1366 and 390 px, in Chinese and in English."""

from __future__ import annotations

from helpers import read
from pages import screenshot, sign_in

from engine.definitions import deployments
from engine.principal import SYSTEM

KEY = "ui_cmp_order"


def deploy_two_versions(platform) -> None:
    for name in ("ui_cmp_order_v1.bpmn", "ui_cmp_order_v2.bpmn"):
        deployments.deploy(platform, SYSTEM, {f"{KEY}.bpmn": read(name)})


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def assert_marked(page) -> None:
    older, newer = "[data-testid=viewer-a]", "[data-testid=viewer-b]"
    assert page.locator(f"{newer} .djs-element.tf-diff-added[data-element-id=notify_customer]").count() == 1
    assert page.locator(f"{newer} .djs-element.tf-diff-added[data-element-id=f4]").count() == 1
    assert page.locator(f"{older} .djs-element.tf-diff-removed[data-element-id=check_stock]").count() == 1
    assert page.locator(f"{older} .djs-element.tf-diff-removed[data-element-id=f3]").count() == 1
    for side in (older, newer):
        assert page.locator(f"{side} .djs-element.tf-diff-changed[data-element-id=review]").count() == 1
        assert page.locator(f"{side} .djs-element.tf-diff-layout[data-element-id=end]").count() == 1
        assert page.locator(f"{side} .djs-element.tf-diff-changed[data-element-id=start]").count() == 0
    assert page.locator(f"{older} [data-element-id=notify_customer]").count() == 0
    assert page.locator(f"{older} .tf-diff-badge-removed[data-element-id=check_stock]").count() == 1


def test_compare_marks_and_lists_the_changes_in_chinese(new_page, users, platform):
    deploy_two_versions(platform)
    users("cmp_li", ["designer"])
    page = new_page()
    errors = watch_errors(page)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, "cmp_li")
    page.goto("/designer/")
    page.click(f"tr[data-process={KEY}][data-version='2'] [data-testid=compare-versions]")
    page.wait_for_selector("#tf-compare[data-ready=true]")
    assert "比较版本" in page.locator("h1").inner_text()
    assert page.locator("[data-testid=pick-a]").input_value() == "1"
    assert page.locator("[data-testid=pick-b]").input_value() == "2"
    assert_marked(page)

    rows = page.locator("[data-testid=change-list] tr.tf-cmp-row")
    kinds = {rows.nth(i).get_attribute("data-element-id"): rows.nth(i).get_attribute("data-kind")
             for i in range(rows.count())}
    assert kinds == {"review": "changed", "f2": "changed", "notify_customer": "added", "f4": "added",
                     "check_stock": "removed", "f3": "removed", "end": "layout"}
    review = page.locator("tr.tf-cmp-row[data-element-id=review]")
    assert "修改" in review.inner_text() and "用户任务" in review.inner_text()
    groups = review.locator("li[data-property=candidateGroups]")
    assert groups.inner_text() == "候选组 (candidateGroups): ops → ops,finance"
    assert review.locator("li[data-property=name]").inner_text() == "名称 (name): Review order → Review the order"
    assert review.locator("li[data-property=formKey]").count() == 0  # unchanged properties are not listed
    assert "新增" in page.locator("tr.tf-cmp-row[data-element-id=notify_customer]").inner_text()
    assert "删除" in page.locator("tr.tf-cmp-row[data-element-id=check_stock]").inner_text()
    flow = page.locator("tr.tf-cmp-row[data-element-id=f2] li[data-property=targetRef]").inner_text()
    assert "check_stock → notify_customer" in flow
    screenshot(page, "compare-versions")  # both whole diagrams, before a click zooms to one element

    review.click()
    for side in ("a", "b"):
        assert page.locator(f"[data-testid=viewer-{side}] .djs-element.selected[data-element-id=review]").count() == 1
    page.locator("tr.tf-cmp-row[data-element-id=check_stock]").click()
    assert page.locator("[data-testid=viewer-a] .djs-element.selected[data-element-id=check_stock]").count() == 1

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("#tf-compare[data-ready=true]")
    assert_marked(page)
    a = page.locator("[data-testid=viewer-a]").bounding_box()
    b = page.locator("[data-testid=viewer-b]").bounding_box()
    assert b["y"] >= a["y"] + a["height"] and a["width"] <= 390 and b["width"] <= 390  # stacked
    wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
        .filter((n) => n.getBoundingClientRect().right > 391).map((n) => n.tagName + '.' + n.className)""")
    assert wide == []  # the page's own content fits the phone (the header is the layout's)
    assert "ops → ops,finance" in page.locator("tr.tf-cmp-row[data-element-id=review]").inner_text()
    assert errors == []


def test_compare_in_english_and_from_the_modeler(new_page, users, platform):
    deploy_two_versions(platform)
    users("cmp_wang", ["designer"])
    page = new_page(lang="en")
    errors = watch_errors(page)
    sign_in(page, "cmp_wang")
    page.goto(f"/designer/processes/{KEY}/edit")
    page.click("[data-testid=compare-versions]")
    page.wait_for_selector("#tf-compare[data-ready=true]")
    assert "Compare versions" in page.locator("h1").inner_text()
    review = page.locator("tr.tf-cmp-row[data-element-id=review]")
    assert "Changed" in review.inner_text() and "User task" in review.inner_text()
    assert review.locator("li[data-property=candidateGroups]").inner_text() == \
        "Candidate groups (candidateGroups): ops → ops,finance"
    assert "Added" in page.locator("tr.tf-cmp-row[data-element-id=notify_customer]").inner_text()

    page.select_option("[data-testid=pick-a]", "2")
    page.click("[data-testid=compare-form] button[type=submit]")
    page.wait_for_selector("#tf-compare[data-ready=true]")
    assert page.locator("[data-testid=same-version]").count() == 1
    assert page.locator("#tf-compare").get_attribute("data-changes") == "0"
    assert errors == []


def test_a_supervisor_compares_versions(new_page, users, platform):
    deploy_two_versions(platform)
    users("cmp_zhao", ["supervisor"])
    page = new_page()
    sign_in(page, "cmp_zhao")
    page.goto(f"/designer/compare/{KEY}?a=1&b=2")
    page.wait_for_selector("#tf-compare[data-ready=true]")
    assert page.locator("#tf-compare").get_attribute("data-changes") == "7"

"""The decision table editor in a real browser: a designer opens the fault repair limits, changes
one rule's output, validates and deploys; the page names the process that got a new version;
a fault started afterwards gets the new limit while a running one keeps its own. The Chinese page
shows dmn-js's controls in Chinese; a narrow screen scrolls the table inside its frame."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pages import screenshot, sign_in
from sqlalchemy import select

from engine.definitions import deployments
from engine.models import DecisionDefinition, HumanTask, ProcessDefinition, ProcessInstance
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, tasks

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
BUNDLE = Path(__file__).resolve().parents[2] / "web" / "static" / "build" / "dmn.js"
MONITOR = Principal("sun_mc", frozenset({"monitoring_center"}))
REPORT = {
    "customer_name": "杭州市公安局", "customer_level": "group", "business_category": "bandwidth",
    "circuit_id": "MPLS-VPN-0571-0042", "contact_phone": "13800571234",
    "description": "专线中断，业务不通", "channel": "self_found",
}
# the Latin words dmn-js shows in its editing controls (menus, heads, buttons, hit policy)
ENGLISH = re.compile(r"\b(When|And|Then|Hit policy|Unique|Collect|Add|Remove|Copy|Cut|Paste|Rule|Input|Output|"
                     r"Annotations?|Expression|Type|Predefined|values?|string)\b")

pytestmark = pytest.mark.skipif(not BUNDLE.is_file(), reason="the dmn-js bundle is not built (make install)")


@pytest.fixture
def deployed(platform):
    files = {name: (PROCESSES / name).read_bytes() for name in ("fault_dispatch.bpmn", "fault_time_limits.dmn")}
    return deployments.deploy(platform, SYSTEM, files)


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def report(platform, key: str) -> int:
    return instances.start(platform, MONITOR, "fault_dispatch", key, dict(REPORT))


def accept(platform, instance_id: int) -> str:
    """The monitoring centre accepts the fault; the business rule task then decides the limit."""
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.element_id == "accept_fault", HumanTask.state == "open"))
    record = {k: v for k, v in REPORT.items() if k != "channel"}
    tasks.complete(platform, MONITOR, task_id, {**record, "acceptance_note": "已受理"})
    with platform.Session() as session:
        return session.get(ProcessInstance, instance_id).variables["repair_limit"]


def version_of(platform, instance_id: int) -> int:
    with platform.Session() as session:
        return session.get(ProcessInstance, instance_id).version


def open_editor(page, lang_path: str = "") -> None:
    page.goto(f"/designer/decision/fault_repair_limit{lang_path}")
    page.wait_for_selector("#tf-dmn[data-ready=true]")


def edit_cell(page, element_id: str, text: str) -> None:
    cell = page.locator(f".tf-dmn-editor td[data-element-id={element_id}] [contenteditable]")
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.locator(".tf-dmn-editor .decision-table-name").click()  # leave the cell


def test_a_designer_changes_a_limit_and_new_faults_get_it(new_page, users, platform, deployed):
    running = report(platform, "FAULT-RUNNING")  # started on v1; accepted after the deploy
    users("des_li", ["designer"], display_name="李设计")
    page = new_page("zh")
    errors = watch_errors(page)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, "des_li")
    page.goto("/designer/")
    page.click("tr[data-decision=fault_repair_limit] [data-testid=open-decision]")
    page.wait_for_selector("#tf-dmn[data-ready=true]")
    assert page.locator("[data-testid=dmn-version]").inner_text() == "1"
    assert page.locator("[data-testid=dmn-users] a[data-process=fault_dispatch]").inner_text() == "fault_dispatch v1"
    assert page.locator("[data-testid=hit-policy]").get_attribute("data-value") == "UNIQUE"
    assert page.locator(".tf-dmn-editor td[data-element-id=rule_1_limit]").inner_text().strip() == '"PT4H"'

    edit_cell(page, "rule_1_limit", '"PT2H"')
    assert page.locator(".tf-dmn-editor td[data-element-id=rule_1_limit]").inner_text().strip() == '"PT2H"'
    page.click("[data-testid=dmn-validate]")
    page.wait_for_selector("#tf-dmn[data-last='lint:200']")
    status = page.locator("[data-testid=dmn-status]").inner_text()
    assert "未发现问题" in status and "fault_dispatch" in status, status
    screenshot(page, "dmn-editor")

    page.click("[data-testid=dmn-deploy]")
    page.wait_for_selector("#tf-dmn[data-last='deploy:201']")
    assert "已部署：fault_repair_limit 第 2 版" in page.locator("[data-testid=dmn-status]").inner_text()
    affected = page.locator("[data-testid=dmn-affected] li[data-process=fault_dispatch]")
    assert affected.get_attribute("data-version") == "2" and affected.inner_text() == "fault_dispatch v2"
    assert page.locator("[data-testid=dmn-version]").inner_text() == "2"
    assert page.url.endswith("/designer/decision/fault_repair_limit?version=2")
    assert errors == []

    with platform.Session() as session:
        assert session.scalars(select(DecisionDefinition.version).where(
            DecisionDefinition.key == "fault_repair_limit").order_by(DecisionDefinition.version)).all() == [1, 2]
        assert session.scalars(select(ProcessDefinition.version).where(
            ProcessDefinition.key == "fault_dispatch").order_by(ProcessDefinition.version)).all() == [1, 2]
    started_after = report(platform, "FAULT-NEW")
    assert (version_of(platform, running), version_of(platform, started_after)) == (1, 2)
    assert accept(platform, started_after) == "PT2H"
    assert accept(platform, running) == "PT4H"

    affected.locator("a").click()  # the new process version's page
    assert page.url.endswith("/definitions/fault_dispatch/2")


def test_problems_are_listed_by_rule_and_marked_on_their_cell(new_page, users, platform, deployed):
    users("des_li", ["designer"])
    page = new_page("en")
    errors = watch_errors(page)
    sign_in(page, "des_li")
    open_editor(page)

    edit_cell(page, "rule_3_level", 'not("local_a")')
    edit_cell(page, "rule_5_limit", '"PT24H')
    page.click("[data-testid=dmn-deploy]")
    page.wait_for_selector("#tf-dmn[data-last='deploy:422']")
    rows = page.locator("[data-testid=dmn-problems] tr.tf-problem-row")
    assert rows.count() == 2
    level = page.locator("[data-testid=dmn-problems] tr[data-element-id=rule_3_level]").inner_text()
    assert "Rule 3" in level and "客户等级" in level and "not(" in level
    limit = page.locator("[data-testid=dmn-problems] tr[data-element-id=rule_5_limit]").inner_text()
    assert "Rule 5" in limit and "修复时限" in limit
    outline = page.locator(".tf-dmn-editor td[data-element-id=rule_5_limit]").evaluate(
        "cell => getComputedStyle(cell).outlineStyle")
    assert outline == "solid"
    with platform.Session() as session:
        assert session.scalar(select(DecisionDefinition.version).where(
            DecisionDefinition.key == "fault_repair_limit").order_by(DecisionDefinition.version.desc())) == 1
    assert errors == []


def test_the_hit_policy_offers_what_the_engine_runs(new_page, users, platform, deployed):
    users("des_li", ["designer"])
    page = new_page("en")
    sign_in(page, "des_li")
    open_editor(page)
    page.click("[data-testid=hit-policy] .dms-input-select")
    options = page.locator(".dms-select-options .option")
    assert options.all_inner_texts() == ["Unique", "Collect"]
    options.nth(1).click()
    assert page.locator("[data-testid=hit-policy]").get_attribute("data-value") == "COLLECT"
    page.click("[data-testid=dmn-validate]")
    page.wait_for_selector("#tf-dmn[data-last='lint:200']")
    assert "No problems found" in page.locator("[data-testid=dmn-status]").inner_text()


def test_the_chinese_page_shows_the_editor_in_chinese(new_page, users, platform, deployed):
    users("des_li", ["designer"])
    page = new_page("zh")
    errors = watch_errors(page)
    sign_in(page, "des_li")
    open_editor(page)
    assert page.locator("h1").inner_text().startswith("决策表")
    head = page.locator(".tf-dmn-editor thead").inner_text()
    assert "当" in head and "则" in head and "注释" in head and "字符串" in head
    properties = page.locator(".tf-dmn-editor .decision-table-properties").inner_text()
    assert "命中策略" in properties and "唯一" in properties
    menus = [properties, head]
    page.click("[data-testid=hit-policy] .dms-input-select")
    menus.append(page.locator(".dms-select-options").inner_text())
    page.keyboard.press("Escape")
    page.click(".tf-dmn-editor td[data-element-id=rule_1_limit]", button="right")
    menus.append(page.locator(".tf-dmn-editor .context-menu").inner_text())
    assert "删除规则" in menus[-1] and "在下方添加规则" in menus[-1]
    page.keyboard.press("Escape")
    page.click(".tf-dmn-editor th[data-col-id=in_category]", button="right")
    menus.append(page.locator(".tf-dmn-editor .context-menu").inner_text())
    assert "删除输入列" in menus[-1]
    page.keyboard.press("Escape")
    page.dblclick(".tf-dmn-editor th[data-col-id=in_category] .input-label")
    editor = page.locator(".tf-dmn-editor .context-menu")
    menus.append(editor.inner_text())
    assert "表达式" in menus[-1] and "类型" in menus[-1]
    page.keyboard.press("Escape")
    titles = page.locator(".tf-dmn-editor [title]").evaluate_all("nodes => nodes.map(n => n.title)")
    menus.extend(t.split("：")[0] for t in titles)  # a title may quote a label after its colon
    # the table's own labels (from the DMN file) are bilingual, "业务类别 (business category)":
    # left out; the controls around them must not be English
    labels = page.locator(".tf-dmn-editor .input-label, .tf-dmn-editor .output-label").all_inner_texts()
    labels += ["业务类别 (business category)"]
    leftovers = []
    for text in menus:
        for label in labels:
            text = text.replace(label, "")
        if ENGLISH.search(text):
            leftovers.append(text)
    assert leftovers == []
    assert errors == []


def test_a_narrow_screen_scrolls_the_table_inside_its_frame(new_page, users, platform, deployed):
    users("des_li", ["designer"])
    page = new_page("zh")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "des_li")
    open_editor(page)
    frame = page.locator("[data-testid=dmn-frame]")
    scroll, client = frame.evaluate("f => [f.scrollWidth, f.clientWidth]")
    assert scroll > client  # the table is wider than the screen: the frame scrolls it
    card = page.locator("#tf-dmn").bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= 390
    frame.evaluate("f => { f.scrollLeft = f.scrollWidth; }")
    assert frame.evaluate("f => f.scrollLeft") > 0
    edit_cell(page, "rule_18_response", '"品牌企业客户12小时内修复"')
    page.click("[data-testid=dmn-validate]")
    page.wait_for_selector("#tf-dmn[data-last='lint:200']")


def test_a_new_decision_is_named_then_deployed(new_page, users, platform, deployed):
    users("des_li", ["designer"])
    page = new_page("en")
    errors = watch_errors(page)
    sign_in(page, "des_li")
    page.goto("/designer/")
    page.click("[data-testid=new-decision]")
    page.wait_for_selector("#tf-dmn[data-ready=true]")
    page.fill("[data-testid=dmn-key]", "site_rent_band")
    page.locator("[data-testid=dmn-key]").dispatch_event("change")
    assert page.locator("[data-testid=dmn-filename]").input_value() == "site_rent_band.dmn"
    page.click("[data-testid=dmn-deploy]")
    page.wait_for_selector("#tf-dmn[data-last='deploy:201']")
    status = page.locator("[data-testid=dmn-status]").inner_text()
    assert "site_rent_band version 1" in status and "No deployed process uses this decision" in status
    assert page.locator("[data-testid=dmn-key]").get_attribute("readonly") is not None
    with platform.Session() as session:
        assert session.scalar(select(DecisionDefinition.name).where(DecisionDefinition.key == "site_rent_band"))
    assert errors == []


def test_an_older_version_opens_with_a_notice_and_only_designers_get_in(new_page, users, platform, deployed):
    changed = (PROCESSES / "fault_time_limits.dmn").read_bytes().replace(b'"PT6H"', b'"PT5H"')
    deployments.deploy(platform, SYSTEM, {"fault_time_limits.dmn": changed})
    users("des_li", ["designer"])
    users("sun_mc", ["monitoring_center"])
    page = new_page("en")
    sign_in(page, "des_li")
    open_editor(page, "?version=1")
    assert page.locator("[data-testid=dmn-version]").inner_text() == "1"
    assert "the latest is version 2" in page.locator("[data-testid=older-version]").inner_text()
    assert page.locator(".tf-dmn-editor td[data-element-id=rule_2_limit]").inner_text().strip() == '"PT6H"'
    assert page.locator("[data-testid=dmn-users] a").inner_text() == "fault_dispatch v2"
    assert page.goto("/designer/decision/no_such_decision").status == 404
    assert page.goto("/designer/decision/fault_repair_limit?version=9").status == 404
    other = new_page("en")
    sign_in(other, "sun_mc")
    assert other.goto("/designer/decision/fault_repair_limit").status == 403
    assert other.goto("/designer/decision/new").status == 403

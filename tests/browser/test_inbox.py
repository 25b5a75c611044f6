"""A staff member works through the inbox in a real browser: claim, a wrong value, complete."""

from __future__ import annotations

from datetime import timedelta

from helpers import deploy
from pages import screenshot, sign_in

from engine.models import Tenant
from engine.principal import Principal
from engine.runtime import instances

DISPATCHER = Principal("disp", frozenset({"dispatcher"}))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_staff_claims_corrects_a_wrong_value_and_completes(new_page, users, platform, clock):
    deploy(platform, "ui_survey.bpmn", "ui_quick.bpmn")
    with platform.transaction() as session:
        for code, name in (("china_mobile", "中国移动"), ("china_unicom", "中国联通"), ("china_telecom", "中国电信")):
            session.add(Tenant(id=code, name=name))
    users("li", ["regional_manager"], display_name="李工")
    instances.start(platform, DISPATCHER, "ui_survey", "DEM-2026-000", {"site_name": "城北铁塔"}, "china_unicom")
    clock.advance(timedelta(minutes=45))  # its 30-minute limit has passed
    instances.start(platform, DISPATCHER, "ui_survey", "DEM-2026-001",
                    {"site_name": "城东铁塔", "urgency": "urgent"}, "china_mobile")
    instances.start(platform, DISPATCHER, "ui_quick", "QC-2026-007", {}, "china_telecom")
    page = new_page()
    sign_in(page, "li")
    page.goto("/inbox")  # all my work: the group's tasks too, the overdue one first
    assert page.locator("tr[data-task-id]").first.inner_text().count("DEM-2026-000") == 1
    assert page.locator("[data-count=overdue]").inner_text() == "1"
    page.click("[data-testid=tab-group]")
    row = page.locator("tr[data-task-id]", has_text="DEM-2026-001")
    assert "站址筛查回单" in row.inner_text() and "中国移动" in row.inner_text()
    assert "china_mobile" not in row.inner_text()
    assert row.get_attribute("class").split() == ["due-soon"]
    assert "overdue" in page.locator("tr[data-task-id]", has_text="DEM-2026-000").get_attribute("class").split()
    assert page.locator("tr[data-task-id]", has_text="QC-2026-007").get_attribute("class").split() == []
    assert page.locator("[data-count=group]").inner_text() == "3"
    screenshot(page, "inbox")
    instances.start(platform, DISPATCHER, "ui_survey", "DEM-2026-003", {"site_name": "城南铁塔"}, "china_unicom")
    page.evaluate("TowerFlowInbox.refreshCounts()")  # what the 15-second poll does
    page.wait_for_function("document.querySelector('[data-count=group]').textContent === '4'")
    assert page.locator("[data-count=work]").inner_text() == "4"  # every tab's count, without a reload
    page.locator("[data-testid=new-tasks]").wait_for()  # and the list says new work has come
    row.locator("button", has_text="领取").click()  # claiming opens the task
    assert "您已领取该任务" in page.locator(".flash").inner_text()

    assert page.locator("[data-testid=business-key]").inner_text() == "DEM-2026-001"
    assert page.locator("#task-site_name").input_value() == "城东铁塔"
    page.select_option("#task-result", "success")
    page.fill("#task-tower_height", "三十五米")
    page.fill("#task-survey_date", "2026-11-20")
    page.check("input[name=sharing][value=china_mobile]")
    page.check("input[name=power_available][value=true]")
    page.fill("#task-notes", "楼顶可上人")
    page.set_input_files("#task-photos", files=[{"name": "mast.png", "mimeType": "image/png", "buffer": PNG}])
    page.click("[data-testid=complete]")

    error = page.locator("[data-testid=error-tower_height]")
    assert error.inner_text() == "请输入数字。"
    assert page.locator("[data-field=tower_height]").get_attribute("class").endswith("has-error")
    assert page.locator("#task-tower_height").input_value() == "三十五米"
    assert page.locator("#task-site_name").input_value() == "城东铁塔"
    assert page.locator("#task-result").input_value() == "success"
    assert page.locator("#task-survey_date").input_value() == "2026-11-20"
    assert page.locator("input[name=sharing][value=china_mobile]").is_checked()
    assert page.locator("input[name=power_available][value=true]").is_checked()
    assert page.locator("#task-notes").input_value() == "楼顶可上人"
    assert "mast.png" in page.locator("[data-field=photos]").inner_text()
    screenshot(page, "task-form")

    page.fill("#task-tower_height", "35")
    page.click("[data-testid=complete]")
    page.wait_for_url("**/inbox")
    assert "任务“站址筛查回单”已提交" in page.locator(".flash").inner_text()
    assert page.locator("[data-count=mine]").inner_text() == "0"


def test_start_page_starts_a_process_with_its_form(new_page, users, platform):
    deploy(platform, "ui_survey.bpmn", "ui_quick.bpmn")
    users("disp", ["dispatcher"], display_name="派单员")
    page = new_page()
    sign_in(page, "disp")
    page.goto("/start")
    entry = page.locator("details[data-process=ui_survey]")
    entry.locator("summary").click()
    entry.locator("input[name=business_key]").fill("DEM-2026-002")
    entry.locator("select[name=urgency]").select_option("urgent")
    screenshot(page, "start")
    entry.locator("[data-testid=start-ui_survey]").click()
    assert "必填" in page.locator("details[data-process=ui_survey] [data-testid=error-site_name]").inner_text()
    assert page.locator("details[data-process=ui_survey] input[name=business_key]").input_value() == "DEM-2026-002"
    page.locator("details[data-process=ui_survey] input[name=site_name]").fill("城西铁塔")
    page.locator("[data-testid=start-ui_survey]").click()
    assert "已发起" in page.locator(".flash").inner_text()

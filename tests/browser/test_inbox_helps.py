"""The inbox helps, in a real browser: the keyboard reaches a claim at once, a suspended task is
marked and refused, a refused file keeps the accepted ones, a comment shows in the timeline,
and a task is handed on to a colleague."""

from __future__ import annotations

from datetime import timedelta

from helpers import deploy
from pages import sign_in
from sqlalchemy import select
from test_phone_repair import console_errors, no_sideways_scroll, png

from engine.models import HumanTask, StoredFile
from engine.principal import Principal
from engine.runtime import instances

DISPATCHER = Principal("disp", frozenset({"dispatcher"}))
BOSS = Principal("boss", frozenset({"supervisor"}))
DESK = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def survey(platform, business_key: str, tenant: str | None = None) -> HumanTask:
    instance_id = instances.start(platform, DISPATCHER, "ui_survey", business_key, {"site_name": "城东铁塔"}, tenant)
    with platform.Session() as session:
        return session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)).one()


def task_row(platform, task_id: int) -> HumanTask:
    with platform.Session() as session:
        return session.get(HumanTask, task_id)


def active(page) -> str:
    return page.evaluate("(document.activeElement.getAttribute('data-testid') || document.activeElement.tagName)")


def test_the_first_claim_is_three_tabs_away_and_keys_move_between_tasks(new_page, users, platform, clock):
    deploy(platform, "ui_survey.bpmn")
    late = survey(platform, "KEY-1")
    clock.advance(timedelta(hours=1))
    second = survey(platform, "KEY-2")
    users("li", ["regional_manager"])
    page = new_page()
    page.set_viewport_size(DESK)
    sign_in(page, "li")
    page.goto("/inbox")
    assert "快捷键" in page.locator("[data-testid=shortcuts]").inner_text()
    reached = []
    for _press in range(3):
        page.keyboard.press("Tab")
        reached.append(active(page))
        if reached[-1].startswith("claim-"):
            break
    assert reached[-1] == f"claim-{late.id}", reached

    page.keyboard.press("j")  # j and k move between the tasks
    assert page.evaluate("document.activeElement.getAttribute('data-task-id')") == str(second.id)
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.getAttribute('data-task-id')") == str(late.id)
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.type("KEY-2")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=KEY-2**")
    assert page.locator("tr[data-task-id]").count() == 1
    page.keyboard.press("c")  # claim the focused (first) task: it opens
    page.wait_for_url(f"**/tasks/{second.id}")
    assert task_row(platform, second.id).assignee == "li"


def test_a_suspended_task_is_marked_and_cannot_be_worked_on(new_page, users, platform):
    deploy(platform, "ui_survey.bpmn")
    held = survey(platform, "HELD-1")
    users("li", ["regional_manager"])
    instances.suspend(platform, BOSS, held.instance_id, "资料不全")
    page = new_page()
    errors = console_errors(page)
    page.set_viewport_size(PHONE)
    sign_in(page, "li")
    page.goto("/inbox")
    card = page.locator(f"tr[data-task-id='{held.id}']")
    assert card.locator(f"[data-testid=suspended-{held.id}]").inner_text() == "已挂起"
    assert card.locator("button").count() == 0
    no_sideways_scroll(page)
    card.locator("a", has_text="站址筛查回单").click()
    assert page.locator("[data-testid=suspended-badge]").inner_text() == "已挂起"
    assert "流程已挂起" in page.locator("[data-testid=suspended-notice]").inner_text()
    assert page.locator("#task-result").is_disabled() and page.locator("#task-site_name").is_disabled()
    assert page.locator("[data-testid=claim]").count() == 0 and page.locator("[data-testid=complete]").count() == 0
    no_sideways_scroll(page)
    assert errors == []


def test_a_refused_file_keeps_the_accepted_one(new_page, users, platform):
    deploy(platform, "ui_survey.bpmn")
    task = survey(platform, "FILE-1")
    users("li", ["regional_manager"])
    page = new_page()
    page.set_viewport_size(PHONE)
    sign_in(page, "li")
    page.goto(f"/tasks/{task.id}")
    page.click("[data-testid=claim]")
    page.select_option("#task-result", "success")
    page.fill("#task-tower_height", "很高")
    page.fill("#task-survey_date", "2026-11-20")
    page.check("input[name=power_available][value=true]")
    page.set_input_files("#task-photos", files=[
        {"name": "mast.png", "mimeType": "image/png", "buffer": png()},
        {"name": "notes.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00" * 64}])
    # each file is sent as soon as it is chosen, with its own progress bar
    previews = page.locator("[data-preview-for=task-photos] li")
    assert previews.count() == 2
    refused = page.locator("[data-preview-for=task-photos] li.refused")
    assert "“notes.exe”未能上传" in refused.inner_text()
    page.locator("[data-preview-for=task-photos] li.attached", has_text="mast.png").wait_for()
    assert page.locator("[data-field=photos] .kept-file input[type=checkbox]:checked").count() == 1
    with page.expect_navigation():  # the form is posted and comes back (count() below does not wait)
        page.click("[data-testid=complete]")

    field = page.locator("[data-field=photos]")  # the form came back: the accepted file is still attached
    kept = field.locator(".kept-file input[type=checkbox]")
    assert kept.count() == 1 and kept.is_checked() and "mast.png" in field.locator(".kept-file").inner_text()
    assert page.locator("[data-testid=error-tower_height]").inner_text() == "请输入数字。"
    no_sideways_scroll(page)
    page.fill("#task-tower_height", "35")
    page.click("[data-testid=complete]")
    page.wait_for_url("**/inbox")
    assert task_row(platform, task.id).state == "completed"
    with platform.Session() as session:
        assert [f.filename for f in session.scalars(select(StoredFile))] == ["mast.png"]


def test_a_comment_shows_in_the_timeline_and_a_task_is_handed_on(new_page, users, platform):
    deploy(platform, "ui_survey.bpmn")
    task = survey(platform, "HAND-1")
    users("li", ["regional_manager"], display_name="李工")
    users("wu", ["regional_manager"], display_name="吴工")
    page = new_page()
    errors = console_errors(page)
    page.set_viewport_size(PHONE)
    sign_in(page, "li")
    page.goto(f"/tasks/{task.id}")
    page.fill("#comment-body", "业主下午才在，需改约时间")
    page.click("[data-testid=add-comment]")
    comment = page.locator("[data-testid=timeline] [data-testid=comment]")
    assert "业主下午才在，需改约时间" in comment.inner_text() and "li" in comment.inner_text()

    page.click("[data-testid=claim]")
    page.locator("[data-testid=delegate] summary").click()
    page.select_option("#delegate-user", "wu")
    page.fill("#delegate-reason", "我明天出差")
    page.click("[data-testid=delegate-submit]")
    assert "任务已转交给 wu" in page.locator(".flash").inner_text()
    assert page.locator("[data-testid=assignee]").inner_text() == "wu"
    assert "从 li 转给 wu：我明天出差" in page.locator("[data-testid=timeline]").inner_text()
    no_sideways_scroll(page)
    assert errors == []

    other = new_page()
    other.set_viewport_size(DESK)
    sign_in(other, "wu")
    other.goto("/inbox?tab=mine")
    assert other.locator(f"tr[data-task-id='{task.id}'] [data-testid=open-{task.id}]").count() == 1

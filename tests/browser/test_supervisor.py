"""Supervisors in a real browser: the active task on the bpmn-js diagram, suspending through
the confirmation step, the definition heatmap; and an operator of one tenant who sees no
trace of another tenant's instances."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import deploy
from pages import screenshot, sign_in
from sqlalchemy import select

from engine.models import HumanTask, ProcessInstance
from engine.principal import Principal
from engine.runtime import instances, jobs, tasks

STAFF = Principal("staff", frozenset({"regional_manager", "negotiator"}))


@pytest.fixture
def review_process(platform, services):
    def pms_down(params, call):
        raise ConnectionError("PMS at pms.example.invalid refused the connection")

    services.add("test.sup_pms", pms_down)
    deploy(platform, "ui_sup_review.bpmn", "ui_sup_loop.bpmn", "ui_sup_fail.bpmn")
    return platform


def start(platform, business_key: str, tenant: str | None = None, key: str = "ui_sup_review", **variables) -> int:
    return instances.start(platform, STAFF, key, business_key, variables=variables, tenant=tenant)


def finish_review(platform, instance_id: int) -> None:
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                            HumanTask.element_id == "review"))
    tasks.complete(platform, STAFF, task_id, {"verdict": "ok"})


def test_supervisor_sees_the_active_task_on_the_diagram_and_suspends(review_process, new_page, users, clock):
    platform = review_process
    instance_id = start(platform, "XQ-2026-0101", tenant="china_mobile", site="T-0042", district="Xihu")
    finish_review(platform, instance_id)  # now a survey task and a cooling-off timer run in parallel
    for n in range(3):
        start(platform, f"XQ-2026-01{n + 2:02d}", tenant="china_unicom" if n % 2 else "china_mobile")
    start(platform, "NEG-7", key="ui_sup_loop")
    clock.advance(timedelta(hours=2))  # the open reviews are past due now
    failing = start(platform, "PMS-1", key="ui_sup_fail")
    jobs.drain(platform, failing)
    users("wang", ["supervisor"], display_name="Wang Li")
    page = new_page("en")  # English, so the README's screenshots read without CJK fonts installed
    sign_in(page, "wang")

    page.click("nav.mainnav >> text=Instances")
    page.wait_for_selector("table[data-testid=instances]")
    assert page.locator("tr[data-instance-id]").count() == 6
    assert page.locator(f"tr[data-instance-id='{failing}'] [data-state=error]").count() == 1
    assert page.locator("tr.overdue").count() == 3
    screenshot(page, "instances")

    page.click(f"tr[data-instance-id='{instance_id}'] a")
    page.wait_for_selector("[data-testid=diagram][data-ready=true]")
    assert page.locator(".djs-element[data-element-id=survey].tf-active").count() == 1
    assert page.locator(".djs-element[data-element-id=wait].tf-active").count() == 1
    for done in ("start", "review", "split"):
        assert page.locator(f".djs-element[data-element-id={done}].tf-done").count() == 1
    for flow in ("f1", "f2", "f3", "f4"):
        assert page.locator(f".djs-element[data-element-id={flow}].tf-taken").count() == 1
    assert page.locator(".djs-element[data-element-id=approve].tf-active").count() == 0
    assert page.locator(".djs-element[data-element-id=f7].tf-taken").count() == 0
    assert page.locator("[data-testid=state]").first.get_attribute("data-state") == "waiting"
    assert "T-0042" in page.locator("[data-testid=variables]").inner_text()
    screenshot(page, "instance")

    page.click("[data-testid=action-suspend]")
    page.wait_for_selector("[data-testid=confirm]")
    assert "Suspend" in page.locator("h1").inner_text()
    assert platform_state(platform, instance_id) == "waiting"  # nothing happens before confirming
    page.fill("textarea[name=reason]", "Owner on holiday until Monday")
    page.click("[data-testid=confirm-suspend]")
    page.wait_for_selector("[data-testid=state][data-state=suspended]")
    assert "The instance is suspended." in page.locator(".flash").inner_text()
    assert page.locator("[data-testid=action-resume]").count() == 1
    assert "Owner on holiday" in page.locator("[data-testid=audit]").inner_text()
    assert platform_state(platform, instance_id) == "suspended"


def platform_state(platform, instance_id: int) -> str:
    with platform.Session() as session:
        return session.get(ProcessInstance, instance_id).state


def test_definition_heatmap_counts_instances_on_the_diagram(review_process, new_page, users):
    platform = review_process
    ids = [start(platform, f"XQ-2026-02{n:02d}") for n in range(4)]
    for instance_id in ids[:3]:
        finish_review(platform, instance_id)
    users("zhou", ["supervisor"])
    page = new_page("en")
    sign_in(page, "zhou")
    page.goto("/definitions")
    row = page.locator("[data-key=ui_sup_review] tr[data-version='1']")
    assert row.locator("[data-testid=total]").inner_text() == "4"
    row.locator("a").first.click()
    page.wait_for_selector("[data-testid=diagram][data-ready=true]")
    now_badges = page.locator(".tf-badge-now[data-badge-for=survey]")
    assert now_badges.inner_text() == "3"
    assert page.locator(".tf-badge-now[data-badge-for=review]").inner_text() == "1"
    assert page.locator(".tf-badge-passed[data-badge-for=review]").inner_text() == "3"
    assert page.locator(".djs-element[data-element-id=survey].tf-heat").get_attribute("data-heat") == "1.00"
    assert page.locator(".djs-element[data-element-id=review].tf-heat").get_attribute("data-heat") == "0.33"
    screenshot(page, "definition-heatmap")


def test_an_operator_sees_no_trace_of_another_tenants_instances(review_process, new_page, users):
    platform = review_process
    mine = start(platform, "CM-0001", tenant="china_mobile")
    theirs = start(platform, "CU-0001", tenant="china_unicom")
    users("cm_li", ["operator"], tenant="china_mobile")
    page = new_page()  # Chinese, the default
    sign_in(page, "cm_li")
    page.goto("/instances")
    page.wait_for_selector("table[data-testid=instances]")
    assert [r.get_attribute("data-instance-id") for r in page.locator("tr[data-instance-id]").all()] == [str(mine)]
    text = page.locator("main").inner_text()
    assert "CU-0001" not in text and "china_unicom" not in text
    assert page.locator("input[name=tenant]").count() == 0
    assert page.locator("[data-testid=instance-actions]").count() == 0

    page.goto("/instances?tenant=china_unicom&business_key=CU-0001")
    assert page.locator("tr[data-instance-id]").count() == 0

    response = page.goto(f"/instances/{theirs}")
    assert response.status == 404
    assert "CU-0001" not in page.content()

    page.goto(f"/instances/{mine}")
    page.wait_for_selector("[data-testid=diagram][data-ready=true]")
    assert "时间线" in page.locator("[data-testid=timeline] h2").inner_text()
    assert page.locator("[data-testid=instance-actions]").count() == 0
    assert page.locator(".djs-element[data-element-id=review].tf-active").count() == 1

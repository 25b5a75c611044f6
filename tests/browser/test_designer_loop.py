"""The designer's whole loop in a real browser, in Chinese: draw a new process with the palette's
context pad (a user task, an exclusive gateway, a service task and a timer), see the problems
appear while drawing and fix them, set every property in the panel (never in XML), simulate the
path, deploy; then a staff member starts the process and completes the task in the inbox."""

from __future__ import annotations

from pages import sign_in
from sqlalchemy import select
from test_modeler_lint import ITEMS, checked, item, marked
from test_modeler_panel import add_token, field, select_element, settle, watch_errors

from engine.models import ProcessInstance
from engine.runtime import jobs

SELECTED = "() => (window.towerflowModeler.get('selection').get()[0] || {}).id"


def selected(page) -> str:
    return page.evaluate(SELECTED)


def context_action(page, element_id: str, action: str) -> str:
    """Select the element, click a context pad entry; returns the id of what is selected after."""
    select_element(page, element_id)
    page.click(f".djs-context-pad .entry[data-action='{action}']")
    page.wait_for_function(f"id => ({SELECTED})() !== id", arg=element_id)
    return selected(page)


def replace(page, element_id: str, option: str) -> str:
    """The wrench menu of the element: replace it with ``option`` (the new shape keeps the id)."""
    select_element(page, element_id)
    page.click(".djs-context-pad .entry[data-action='replace']")
    page.click(f".djs-popup [data-id='{option}']")
    page.wait_for_selector(".djs-popup", state="detached")
    return selected(page)


def flow_between(page, source: str, target: str) -> str:
    return page.evaluate("""([s, t]) => window.towerflowModeler.get('elementRegistry')
        .filter(e => e.type === 'bpmn:SequenceFlow' && e.source.id === s && e.target.id === t)[0].id""",
                         [source, target])


def test_a_designer_draws_checks_sets_simulates_and_deploys_and_staff_completes_the_task(
        new_page, users, platform):
    users("des_loop", ["designer"])
    users("dir_loop", ["city_director"], display_name="钱主任")
    page = new_page("zh")
    errors = watch_errors(page)
    sign_in(page, "des_loop")
    page.goto("/designer/new")
    page.wait_for_selector("#tf-modeler[data-ready=true]")
    page.wait_for_selector("#tf-modeler[data-catalog=ready]")
    page.fill("[data-testid=filename]", "ui_loop.bpmn")

    # draw: the template's task becomes a user task; with no form or group it is warned about
    task = replace(page, "task", "replace-with-user-task")
    page.wait_for_selector(item("towerflow/user-task-form", task))
    assert marked(page, task, "warning")

    # the end event removed: the user task leads nowhere, an error, and Deploy is refused
    select_element(page, "end")
    page.click(".djs-context-pad .entry[data-action='delete']")
    page.wait_for_selector(item("towerflow/dead-end", task))
    assert marked(page, task, "error")
    assert not page.is_enabled("[data-testid=deploy]")

    # a gateway after it, a service task and a timer after the gateway, an end after each
    gateway = context_action(page, task, "append.gateway")
    service = replace(page, context_action(page, gateway, "append.append-task"), "replace-with-service-task")
    context_action(page, service, "append.end-event")
    timer = replace(page, context_action(page, gateway, "append.intermediate-event"),
                    "replace-with-timer-intermediate-catch")
    context_action(page, timer, "append.end-event")
    page.wait_for_selector(f"{ITEMS}[data-severity=error]", state="detached")
    assert page.locator(item("towerflow/gateway-default", gateway)).count() == 1  # warned: no default flow
    page.wait_for_function("() => !document.querySelector('[data-testid=deploy]').disabled")

    # every property in the panel: form, group, due time, operator, condition, default flow, timer
    select_element(page, task)
    general = page.locator("#tf-properties [data-group-id=group-general]")
    if not general.locator(".bio-properties-panel-group-entries.open").count():
        general.locator(".bio-properties-panel-group-header").click()
    page.fill(field("name"), "审批申请")
    page.select_option(field("tf-formKey"), "approval")
    add_token(page, "tf-candidateGroups", "city_director")
    page.fill(field("tf-dueIn"), "P2D")
    settle(page)
    assert page.inner_text("[data-testid=due-meaning]") == "任务就绪 2 天后到期"
    select_element(page, service)
    page.select_option(field("tf-operator"), "core.echo")
    page.fill(field("tf-resultVariable"), "echo")
    settle(page)
    select_element(page, flow_between(page, gateway, service))
    page.fill(field("tf-condition"), "approved == True")
    settle(page)
    select_element(page, flow_between(page, gateway, timer))
    page.check(field("tf-default-flow"))
    select_element(page, timer)
    page.select_option(field("tf-timer-type"), "timeDuration")
    page.fill(field("tf-timer-value"), "PT15M")
    settle(page)
    assert page.inner_text("[data-testid=timer-meaning]") == "15 分钟后"
    page.wait_for_selector(f"{ITEMS}[data-element-id={task}]", state="detached")  # form, group and name set
    page.wait_for_selector(item("towerflow/gateway-default", gateway), state="detached")
    checked(page)
    assert page.locator(f"{ITEMS}[data-severity=error]").count() == 0

    # simulate the path: a token leaves the start event
    page.click("[data-testid=simulate]")
    page.wait_for_selector("#tf-modeler[data-simulating=true]")
    page.hover(".djs-element[data-element-id=start]")
    page.click(".djs-overlays[data-container-id=start] .bts-context-pad[title='触发事件']")
    page.click(".bts-palette [title='显示/隐藏模拟日志']")
    page.wait_for_selector(".bts-log .bts-entry .bts-text:text-is('流程已开始')")
    page.click("[data-testid=simulate]")
    page.wait_for_selector("#tf-modeler[data-simulating=false]")

    # deploy; nothing was typed as XML
    page.click("[data-testid=deploy]")
    page.wait_for_selector("#tf-modeler[data-result=deployed]")
    process_key = page.evaluate("window.towerflowModeler.getDefinitions().rootElements"
                                ".find(e => e.$type === 'bpmn:Process').id")
    assert errors == []

    # a staff member starts it and completes the task in the inbox
    staff = new_page("zh")
    sign_in(staff, "dir_loop")
    staff.goto("/start")
    entry = staff.locator(f"details[data-process={process_key}]")
    if not entry.evaluate("el => el.open"):
        entry.locator("summary").click()
    entry.locator("input[name=business_key]").fill("LOOP-1")
    entry.locator(f"[data-testid=start-{process_key}]").click()
    assert "已发起" in staff.locator(".flash").inner_text()
    staff.goto("/inbox")
    staff.click("[data-testid=tab-group]")
    row = staff.locator("tr[data-task-id]", has_text="LOOP-1")
    assert "审批申请" in row.inner_text()
    row.locator("button", has_text="领取").click()
    staff.wait_for_url("**/tasks/*")  # a claim opens the task
    staff.check("input[name=approved][value=true]")
    staff.fill("#task-comment", "同意")
    staff.click("[data-testid=complete]")
    staff.wait_for_url("**/inbox")
    assert "任务“审批申请”已提交" in staff.locator(".flash").inner_text()

    jobs.run_due_jobs(platform)  # the service task, if the request did not run it already
    with platform.Session() as session:
        instance = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == "LOOP-1"))
        assert instance.state == "completed"
        assert instance.variables["approved"] is True and instance.variables["echo"]["params"] == {}

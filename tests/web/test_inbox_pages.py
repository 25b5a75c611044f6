"""The inbox, task form and start pages through Flask's test client (CSRF off here only)."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

import pytest
from helpers import deploy
from sqlalchemy import select

from engine import identity
from engine.errors import NotFound
from engine.models import HumanTask, ProcessInstance, StoredFile, TaskDraft
from engine.principal import Principal
from engine.runtime import drafts, instances, tasks
from web.app import create_app

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
DISPATCHER = Principal("disp", frozenset({"dispatcher"}))


@pytest.fixture
def pages(platform):
    """``pages("li", ["regional_manager"], tenant=None)``: a signed-in test client."""
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, platform=platform)

    def make(username: str, groups: list[str], tenant: str | None = None, lang: str = "en"):
        with platform.transaction() as session:
            identity.add_user(session, username, "password123", groups, tenant)
        client = app.test_client()
        client.get(f"/lang/{lang}")
        r = client.post("/login", data={"username": username, "password": "password123"})
        assert r.status_code == 302, r.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def survey(platform):
    deploy(platform, "ui_survey.bpmn", "ui_quick.bpmn", "tasks_inbox.bpmn")

    def start(business_key: str = "BK-1", tenant: str | None = None, **variables) -> int:
        variables.setdefault("site_name", "Tower A")
        instance_id = instances.start(platform, DISPATCHER, "ui_survey", business_key, variables, tenant)
        return task_of(platform, instance_id).id

    return start


def task_of(platform, instance_id: int) -> HumanTask:
    with platform.Session() as session:
        return session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                      HumanTask.state == "open"))


def start_other(platform, key: str, business_key: str) -> int:
    instance_id = instances.start(platform, Principal("system", frozenset({"admin"})), key, business_key, {})
    return task_of(platform, instance_id).id


def html(response) -> str:
    return response.get_data(as_text=True)


def row_ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'data-task-id="(\d+)"', html(response))]


def field_block(text: str, name: str) -> str:
    """The HTML of one form field, from its wrapper to the next field."""
    at = text.index(f'data-field="{name}"')
    start = text.rindex("<div", 0, at)
    end = text.find('data-field="', at + 10)
    return text[start:text.rindex("<div", 0, end) if end > 0 else len(text)]


VALID = {"site_name": "Tower A", "result": "success", "tower_height": "35.5", "survey_date": "2026-11-20",
         "next_visit": "2026-12-01T09:30", "sharing": ["china_mobile", "china_telecom"],
         "power_available": "true", "notes": "Roof is accessible"}


# --- the list ---------------------------------------------------------------------------

def test_group_and_my_tasks_with_counts(pages, survey, platform):
    task_id = survey()
    li = pages("li", ["regional_manager"])
    assert row_ids(li.get("/inbox?tab=group")) == [task_id]
    assert row_ids(li.get("/inbox?tab=mine")) == []
    assert li.get("/inbox/counts").json == {"work": 1, "mine": 0, "group": 1, "overdue": 0}
    assert li.post(f"/tasks/{task_id}/claim", data={"next": "/inbox?tab=group"}).status_code == 302
    assert li.get("/inbox/counts").json == {"work": 1, "mine": 1, "group": 0, "overdue": 0}
    page = li.get("/inbox")
    assert row_ids(page) == [task_id]
    assert 'data-count="mine">1<' in html(page)


def test_columns_and_due_colours(pages, survey, platform, clock):
    soon = survey("BK-SOON", tenant="china_mobile")        # due in 30 minutes: amber
    later = start_other(platform, "tasks_inbox", "BK-LATER")  # due in 2 hours: plain
    li = pages("li", ["regional_manager"])
    text = html(li.get("/inbox?tab=group"))
    assert re.search(rf'<tr class="due-soon" data-task-id="{soon}"', text)
    assert re.search(rf'<tr class="" data-task-id="{later}"', text)
    for shown in ("站址筛查回单", "站址筛查", "BK-SOON", "china_mobile", ">60<"):
        assert shown in text
    clock.advance(timedelta(minutes=45))
    text = html(li.get("/inbox?tab=group"))
    assert re.search(rf'<tr class="overdue" data-task-id="{soon}"', text)


def test_filters_by_process_text_and_overdue(pages, survey, platform, clock):
    a = survey("DEMAND-7")
    b = start_other(platform, "ui_quick", "QC-1")
    c = start_other(platform, "tasks_inbox", "REQ-9")
    li = pages("li", ["regional_manager"])
    assert sorted(row_ids(li.get("/inbox?tab=group"))) == sorted([a, b, c])
    assert row_ids(li.get("/inbox?tab=group&process=ui_quick")) == [b]
    assert row_ids(li.get("/inbox?tab=group&q=MAND")) == [a]
    assert row_ids(li.get("/inbox?tab=group&q=核查")) == [b]
    clock.advance(timedelta(hours=1))
    assert row_ids(li.get("/inbox?tab=group&overdue=1")) == [a]


def test_sort_by_due_priority_and_created(pages, survey, platform, clock):
    quick = start_other(platform, "ui_quick", "Q")          # priority 20, no due date
    clock.advance(timedelta(minutes=1))
    inbox = start_other(platform, "tasks_inbox", "I")       # priority 70, due in 2 h
    clock.advance(timedelta(minutes=1))
    surveyed = survey("S")                                   # priority 60, due in 30 min
    li = pages("li", ["regional_manager"])
    assert row_ids(li.get("/inbox?tab=group")) == [surveyed, inbox, quick]
    assert row_ids(li.get("/inbox?tab=group&sort=due&order=desc")) == [inbox, surveyed, quick]
    assert row_ids(li.get("/inbox?tab=group&sort=priority")) == [inbox, surveyed, quick]
    assert row_ids(li.get("/inbox?tab=group&sort=priority&order=asc")) == [quick, surveyed, inbox]
    assert row_ids(li.get("/inbox?tab=group&sort=created")) == [surveyed, inbox, quick]
    assert row_ids(li.get("/inbox?tab=group&sort=created&order=asc")) == [quick, inbox, surveyed]
    assert "sort=priority&amp;order=asc" in html(li.get("/inbox?tab=group&sort=priority"))


def test_pagination(pages, survey):
    ids = [survey(f"BK-{n}") for n in range(5)]
    li = pages("li", ["regional_manager"])
    first, second, third = (li.get(f"/inbox?tab=group&size=2&page={n}") for n in (1, 2, 3))
    assert row_ids(first) + row_ids(second) + row_ids(third) == ids
    assert "Page 2 of 3" in html(second)
    assert "page=3" in html(second) and "page=1" in html(second)



def test_counts_past_the_cap_say_so_in_english_and_chinese(pages, survey, monkeypatch):
    ids = [survey(f"BK-{n}") for n in range(5)]
    monkeypatch.setattr(tasks, "TASK_COUNT_CAP", 3)
    li = pages("li", ["regional_manager"])
    assert li.get("/inbox/counts").json == {"work": 4, "mine": 0, "group": 4, "overdue": 0}  # 4: more than 3
    page = html(li.get("/inbox?tab=group&size=2"))
    assert 'data-count="group" title="More than 3 tasks: not counted further">3+<' in page
    assert 'data-count="mine">0<' in page and "3+ tasks" in page and "Page 1 of 2+" in page
    second = li.get("/inbox?tab=group&size=2&page=2")
    third = li.get("/inbox?tab=group&size=2&page=3")
    assert row_ids(li.get("/inbox?tab=group&size=2")) + row_ids(second) + row_ids(third) == ids
    assert "5 tasks" in html(third) and "Page 3 of 3" in html(third)  # the last page counts them all
    zh = pages("wang", ["regional_manager"], lang="zh")
    assert "超过 3 条任务，未继续计数" in html(zh.get("/inbox?tab=group&size=2"))
    monkeypatch.setattr(tasks, "TASK_COUNT_CAP", 5)  # under or at the cap: exact
    assert 'data-count="group">5<' in html(li.get("/inbox?tab=group"))

def test_claim_several_at_once(pages, survey, platform):
    a, b, c = survey("A"), survey("B"), survey("C")
    tasks.claim(platform, Principal("wu", frozenset({"regional_manager"})), c)
    li = pages("li", ["regional_manager"])
    r = li.post("/inbox/claim", data={"task_id": [str(a), str(b), str(c)], "next": "/inbox?tab=group"},
                follow_redirects=True)
    text = html(r)
    assert "You claimed 2 task(s)." in text
    assert "1 task(s) could not be claimed" in text
    assert row_ids(li.get("/inbox?tab=mine")) == [a, b]
    assert "Select the tasks to claim first." in html(li.post("/inbox/claim", data={}, follow_redirects=True))


def test_english_and_chinese_labels(pages, survey):
    survey()
    assert "我的待办" in html(pages("li", ["regional_manager"], lang="zh").get("/inbox"))
    assert "My tasks" in html(pages("wu", ["regional_manager"], lang="en").get("/inbox"))


# --- the task page ----------------------------------------------------------------------

def test_task_page_shows_form_and_context(pages, survey, platform):
    task_id = survey("BK-42", urgency="urgent")
    li = pages("li", ["regional_manager"], lang="zh")
    text = html(li.get(f"/tasks/{task_id}"))
    for shown in ("站址名称", "筛查结果", "塔高（米）", "勘察日期", "下次上站时间", "共享运营商", "市电可用",
                  "勘察说明", "现场照片及扫描件", 'type="date"', 'type="datetime-local"', 'type="file"',
                  "<textarea", "<select", 'type="radio"', 'type="checkbox"', "BK-42", "紧急程度"):
        assert shown in text, shown
    assert 'value="Tower A"' in field_block(text, "site_name")  # prefilled from the instance
    assert "请先领取该任务再填写表单" in text and "disabled" in field_block(text, "site_name")


def test_claim_and_unclaim_from_the_task_page(pages, survey, platform):
    task_id = survey()
    li = pages("li", ["regional_manager"])
    r = li.post(f"/tasks/{task_id}/claim", follow_redirects=True)
    assert "You claimed this task." in html(r) and 'data-testid="unclaim"' in html(r)
    wu = pages("wu", ["regional_manager"])
    r = wu.post(f"/tasks/{task_id}/claim", follow_redirects=True)
    assert "li has already claimed this task." in html(r)
    r = li.post(f"/tasks/{task_id}/unclaim", follow_redirects=True)
    assert "The task is back in its group&#39;s tasks." in html(r)
    assert task_of(platform, task_of(platform, 1).instance_id).assignee is None
    outsider = pages("zhou", ["maintenance"])
    assert "You may not do this" in html(outsider.post(f"/tasks/{task_id}/claim", follow_redirects=True))


def test_a_wrong_value_is_shown_at_its_field_and_typed_values_kept(pages, survey, platform):
    task_id = survey()
    li = pages("li", ["regional_manager"])
    li.post(f"/tasks/{task_id}/claim")
    wrong = {**VALID, "tower_height": "abc", "action": "complete"}
    r = li.post(f"/tasks/{task_id}", data=wrong)
    assert r.status_code == 422
    text = html(r)
    height = field_block(text, "tower_height")
    assert "has-error" in height and "Enter a number." in height and 'value="abc"' in height
    assert "field-error" not in field_block(text, "site_name")
    assert 'value="Tower A"' in field_block(text, "site_name")
    assert re.search(r'value="success"\s+selected', field_block(text, "result"))
    sharing = field_block(text, "sharing")
    assert 'value="china_mobile" checked' in sharing and 'value="china_telecom" checked' in sharing
    assert 'value="china_unicom" >' in sharing
    assert 'value="true" checked' in field_block(text, "power_available")
    assert "Roof is accessible</textarea>" in text
    assert 'value="2026-11-20"' in text and 'value="2026-12-01T09:30"' in text
    assert task_of(platform, 1).state == "open"
    out_of_range = li.post(f"/tasks/{task_id}", data={**VALID, "tower_height": "200", "action": "complete"})
    assert "Must be between 0 and 150." in field_block(html(out_of_range), "tower_height")


def test_completing_returns_to_the_inbox_with_a_confirmation(pages, survey, platform):
    task_id = survey()
    li = pages("li", ["regional_manager"])
    li.post(f"/tasks/{task_id}/claim")
    li.post(f"/tasks/{task_id}", data={**VALID, "action": "draft"})
    r = li.post(f"/tasks/{task_id}", data={**VALID, "action": "complete"})
    assert r.status_code == 302 and r.location.endswith("/inbox")
    assert "Task “站址筛查回单” completed." in html(li.get("/inbox"))
    with platform.Session() as session:
        done = session.get(HumanTask, task_id)
        variables = session.get(ProcessInstance, done.instance_id).variables
        assert done.state == "completed" and done.completed_by == "li"
        assert session.scalars(select(TaskDraft)).all() == []
    assert variables["tower_height"] == 35.5 and variables["sharing"] == ["china_mobile", "china_telecom"]
    assert variables["power_available"] is True and variables["survey_date"] == "2026-11-20"


def test_a_candidate_must_claim_before_submitting(pages, survey, platform):
    task_id = survey()
    li = pages("li", ["regional_manager"])
    r = li.post(f"/tasks/{task_id}", data={**VALID, "action": "complete"}, follow_redirects=True)
    assert "Claim this task before you work on it." in html(r)
    assert task_of(platform, 1).state == "open"


def test_draft_saved_resumed_and_private(pages, survey, platform):
    task_id = survey()
    li = pages("li", ["regional_manager"])
    li.post(f"/tasks/{task_id}/claim")
    r = li.post(f"/tasks/{task_id}", data={"site_name": "Half done", "tower_height": "not yet",
                                           "sharing": ["china_unicom"], "action": "draft"},
                follow_redirects=True)
    text = html(r)
    assert "The draft was saved." in text and 'data-testid="draft-notice"' in text
    assert 'value="Half done"' in text and 'value="not yet"' in text
    assert 'value="china_unicom" checked' in field_block(text, "sharing")
    with platform.Session() as session:
        assert drafts.load(session, Principal("li", frozenset({"regional_manager"})), task_id) is not None
        assert drafts.load(session, Principal("wu", frozenset({"regional_manager"})), task_id) is None
    text = html(li.post(f"/tasks/{task_id}", data={"action": "discard"}, follow_redirects=True))
    assert "The draft was discarded." in text and 'value="Half done"' not in text


def test_context_lists_steps_done_and_history(pages, survey, platform):
    task_id = survey()
    li = pages("li", ["regional_manager"])
    li.post(f"/tasks/{task_id}/claim")
    li.post(f"/tasks/{task_id}", data={**VALID, "action": "complete"})
    with platform.Session() as session:
        confirm = session.scalar(select(HumanTask).where(HumanTask.state == "open"))
    boss = pages("boss", ["admin"])
    text = html(boss.get(f"/tasks/{confirm.id}"))
    steps = text[text.index('data-testid="steps"'):]
    assert "站址筛查回单" in steps and "li" in steps
    assert "started the process" in text and "claimed" in text
    assert "Tower height (m)" in text and "35.5" in text


# --- files ------------------------------------------------------------------------------

def _claimed(pages, survey, tenant=None):
    task_id = survey(tenant=tenant)
    li = pages("li", ["regional_manager"])
    li.post(f"/tasks/{task_id}/claim")
    return li, task_id


def test_upload_a_photo_then_download_it(pages, survey, platform):
    li, task_id = _claimed(pages, survey)
    data = {**VALID, "action": "complete", "photos": [(BytesIO(PNG), "mast.png")]}
    r = li.post(f"/tasks/{task_id}", data=data, content_type="multipart/form-data")
    assert r.status_code == 302
    with platform.Session() as session:
        stored = session.scalars(select(StoredFile)).one()
        variables = session.get(ProcessInstance, stored.instance_id).variables
    assert variables["photos"] == [stored.id]
    assert (stored.filename, stored.content_type, stored.size) == ("mast.png", "image/png", len(PNG))
    download = li.get(f"/files/{stored.id}")
    assert download.status_code == 200 and download.data == PNG and download.mimetype == "image/png"


def test_upload_limits_size_and_type(pages, survey, platform):
    li, task_id = _claimed(pages, survey)
    big = PNG + b"\x00" * (5 * 1024 * 1024)
    r = li.post(f"/tasks/{task_id}", content_type="multipart/form-data",
                data={**VALID, "tower_height": "x", "action": "complete", "photos": [(BytesIO(big), "big.png")]})
    assert r.status_code == 422
    assert "The file is larger than 5 MB." in field_block(html(r), "photos")
    assert "Enter a number." in field_block(html(r), "tower_height")  # every mistake at once
    r = li.post(f"/tasks/{task_id}", content_type="multipart/form-data",
                data={**VALID, "action": "complete", "photos": [(BytesIO(b"MZ not a photo"), "fake.png")]})
    assert "This file type is not allowed." in field_block(html(r), "photos")
    with platform.Session() as session:
        assert session.scalars(select(StoredFile)).all() == []
        assert session.get(HumanTask, task_id).state == "open"


def test_an_upload_is_kept_when_another_field_is_wrong(pages, survey, platform):
    li, task_id = _claimed(pages, survey)
    r = li.post(f"/tasks/{task_id}", content_type="multipart/form-data",
                data={**VALID, "tower_height": "", "action": "complete", "photos": [(BytesIO(PNG), "mast.png")]})
    assert r.status_code == 422
    photos = field_block(html(r), "photos")
    file_id = int(re.search(r'name="photos" value="(\d+)" checked', photos)[1])
    assert "mast.png" in photos
    assert "This field is required." in field_block(html(r), "tower_height")
    r = li.post(f"/tasks/{task_id}", data={**VALID, "photos": [str(file_id)], "action": "complete"})
    assert r.status_code == 302
    with platform.Session() as session:
        assert session.get(ProcessInstance, 1).variables["photos"] == [file_id]


def test_files_are_scoped_to_their_instance_and_tenant(pages, survey, platform):
    li, mobile_task = _claimed(pages, survey, tenant="china_mobile")
    li.post(f"/tasks/{mobile_task}", content_type="multipart/form-data",
            data={**VALID, "action": "draft", "photos": [(BytesIO(PNG), "mast.png")]})
    with platform.Session() as session:
        file_id = session.scalars(select(StoredFile.id)).one()
    assert pages("cmcc", ["operator"], tenant="china_mobile").get(f"/files/{file_id}").status_code == 200
    assert pages("cucc", ["operator"], tenant="china_unicom").get(f"/files/{file_id}").status_code == 404
    other_task = survey("OTHER")
    li.post(f"/tasks/{other_task}/claim")
    r = li.post(f"/tasks/{other_task}", data={**VALID, "photos": [str(file_id)], "action": "complete"})
    assert r.status_code == 422 and "This file is not available" in field_block(html(r), "photos")
    assert "mast.png" not in field_block(html(r), "photos")  # not even the name of another instance's file


def test_an_operator_never_reaches_another_tenants_task(pages, survey, platform):
    task_id = survey(tenant="china_mobile")
    li = pages("li", ["regional_manager"])
    li.post(f"/tasks/{task_id}/claim")
    assert li.post(f"/tasks/{task_id}", data={**VALID, "action": "complete"}).status_code == 302
    with platform.Session() as session:
        confirm = session.scalar(select(HumanTask).where(HumanTask.state == "open"))
    assert confirm.tenant == "china_mobile"
    unicom = pages("cucc", ["operator"], tenant="china_unicom")
    assert row_ids(unicom.get("/inbox?tab=group")) == []
    assert unicom.get("/inbox/counts").json == {"work": 0, "mine": 0, "group": 0, "overdue": 0}
    for response in (unicom.get(f"/tasks/{confirm.id}"), unicom.post(f"/tasks/{confirm.id}/claim"),
                     unicom.post(f"/tasks/{confirm.id}", data={"approved": "true", "action": "complete"})):
        assert response.status_code == 404
    assert "筛查确认" not in html(unicom.get(f"/tasks/{confirm.id}"))
    mobile = pages("cmcc", ["operator"], tenant="china_mobile")
    assert row_ids(mobile.get("/inbox?tab=group")) == [confirm.id]


# --- the start page ---------------------------------------------------------------------

def test_start_page_lists_what_each_user_may_start(pages, platform):
    deploy(platform, "ui_survey.bpmn", "ui_quick.bpmn")
    listed = lambda client: re.findall(r'data-process="([^"]+)"', html(client.get("/start")))  # noqa: E731
    assert listed(pages("disp", ["dispatcher"])) == ["ui_quick", "ui_survey"]
    assert listed(pages("li", ["regional_manager"])) == ["ui_quick"]
    assert listed(pages("boss", ["admin"])) == ["ui_quick", "ui_survey"]
    text = html(pages("disp2", ["dispatcher"], lang="zh").get("/start"))
    assert "需求附件" in text and "紧急程度" in text and 'enctype="multipart/form-data"' in text


def test_start_form_errors_keep_values_then_start(pages, platform):
    deploy(platform, "ui_survey.bpmn")
    disp = pages("disp", ["dispatcher"])
    r = disp.post("/start/ui_survey", data={"business_key": "DEM-1", "site_name": "", "urgency": "urgent",
                                            "deadline": "soon"})
    assert r.status_code == 422
    text = html(r)
    assert "This field is required." in field_block(text, "site_name")
    assert "Enter a valid date." in field_block(text, "deadline") and 'value="soon"' in text
    assert 'value="DEM-1"' in text and re.search(r'value="urgent"\s+selected', text)
    r = disp.post("/start/ui_survey", content_type="multipart/form-data",
                  data={"business_key": "DEM-1", "site_name": "Tower B", "urgency": "urgent",
                        "deadline": "2026-12-24", "attachment": [(BytesIO(b"%PDF-1.4 demand"), "demand.pdf")]})
    assert r.status_code == 302 and r.location.endswith("/start")
    assert "started (instance #1)" in html(disp.get("/start"))
    with platform.Session() as session:
        row = session.get(ProcessInstance, 1)
        stored = session.scalars(select(StoredFile)).one()
    assert row.business_key == "DEM-1" and row.variables["site_name"] == "Tower B"
    assert row.variables["attachment"] == stored.id and stored.instance_id == 1
    li = pages("li", ["regional_manager"])
    assert li.get(f"/files/{stored.id}").status_code == 200
    assert "demand.pdf" in html(li.get(f"/tasks/{task_of(platform, 1).id}"))


def test_starting_goes_to_the_first_task_when_i_may_work_on_it(pages, platform):
    deploy(platform, "ui_quick.bpmn")
    li = pages("li", ["regional_manager"])
    r = li.post("/start/ui_quick", data={"business_key": "Q-1"})
    task_id = task_of(platform, 1).id
    assert r.status_code == 302 and r.location.endswith(f"/tasks/{task_id}")


def test_an_operator_starts_in_its_own_tenant_only(pages, platform):
    deploy(platform, "ui_quick.bpmn")
    cmcc = pages("cmcc", ["operator"], tenant="china_mobile")
    assert 'name="tenant"' not in html(cmcc.get("/start"))
    assert cmcc.post("/start/ui_quick", data={"tenant": "china_unicom"}).status_code == 403
    assert cmcc.post("/start/ui_quick", data={}).status_code == 302
    with platform.Session() as session:
        assert session.get(ProcessInstance, 1).tenant == "china_mobile"


def test_a_process_i_may_not_start_is_refused(pages, platform):
    deploy(platform, "ui_survey.bpmn")
    assert pages("li", ["regional_manager"]).post("/start/ui_survey", data={"site_name": "x"}).status_code == 403


def test_a_completed_task_shows_who_did_it_and_no_form(pages, survey, platform):
    li, task_id = _claimed(pages, survey)
    li.post(f"/tasks/{task_id}", data={**VALID, "action": "complete"})
    text = html(li.get(f"/tasks/{task_id}"))
    assert "This task is completed." in text and "Completed by li" in text
    assert 'data-testid="complete"' not in text
    r = li.post(f"/tasks/{task_id}", data={**VALID, "action": "complete"}, follow_redirects=True)
    assert "This task is no longer open." in html(r)


def test_a_suspended_process_cannot_be_completed(pages, survey, platform):
    li, task_id = _claimed(pages, survey)
    instances.suspend(platform, Principal("boss", frozenset({"supervisor"})), task_of(platform, 1).instance_id)
    r = li.post(f"/tasks/{task_id}", data={**VALID, "action": "complete"})
    assert r.status_code == 409 and "The process is suspended" in html(r)
    assert 'value="Tower A"' in field_block(html(r), "site_name")


def test_an_admin_may_give_back_someone_elses_task(pages, survey, platform):
    li, task_id = _claimed(pages, survey)
    boss = pages("boss", ["admin"])
    assert 'data-testid="unclaim"' in html(boss.get(f"/tasks/{task_id}"))
    boss.post(f"/tasks/{task_id}/unclaim")
    assert task_of(platform, 1).assignee is None


# --- the pieces -------------------------------------------------------------------------

def test_every_widget_kind_is_drawn_from_the_schema(platform):
    from forms import FORMS
    from web.ui import form_widgets as fw

    app = create_app({"TESTING": True}, platform=platform)
    with app.test_request_context("/?lang=en"):
        ws = fw.widgets(FORMS["site_survey"])
        assert [w.kind for w in ws] == ["text", "choice", "number", "date", "datetime", "multichoice", "yesno",
                                        "textarea", "file"]
        photos = ws[-1]
        assert photos.multiple and photos.max_size == 5 * 1024 * 1024 and "image/png" in photos.accept
        assert ws[1].choices == [("success", "Screening succeeded"), ("failure", "Screening failed")]
        assert (ws[2].minimum, ws[2].maximum, ws[2].required) == (0, 150, True)
        raw = {"site_name": " A ", "tower_height": "", "notes": "  keep  ", "sharing": [], "photos": ["3"]}
        assert fw.form_data(ws, raw) == {"site_name": "A", "notes": "  keep  ", "sharing": [], "photos": ["3"]}
    with app.test_request_context("/?lang=zh"):
        assert fw.widgets(FORMS["site_survey"])[0].label == "站址名称"
        assert fw.translate("Must be greater than or equal to 0 and less than or equal to 150.") == \
            "必须在 0 到 150 之间。"


def test_file_types_are_judged_by_their_bytes():
    from engine.runtime import files

    assert files.sniff(PNG, "photo.jpg") == "image/png"
    assert files.sniff(b"%PDF-1.7", "scan") == "application/pdf"
    assert files.sniff(b"MZ\x90\x00", "photo.png") == "application/octet-stream"
    assert files.type_allowed("image/png", ["image/*"]) and not files.type_allowed("text/html", ["image/*"])
    limits = files.Limits(10, ("image/*",))
    assert files.check(files.Upload("a.png", PNG), limits)[1] == "The file is larger than 10 B."
    assert files.check(files.Upload("a.png", b""), files.Limits(100, ("image/*",)))[1] == "The file is empty."


def test_drafts_are_per_user_and_go_when_the_task_is_done(platform, survey):
    task_id = survey()
    li = Principal("li", frozenset({"regional_manager"}))
    wu = Principal("wu", frozenset({"regional_manager"}))
    drafts.save(platform, li, task_id, {"site_name": "mine"})
    drafts.save(platform, wu, task_id, {"site_name": "his"})
    drafts.save(platform, li, task_id, {"site_name": "mine again"})
    with platform.Session() as session:
        assert drafts.load(session, li, task_id).data == {"site_name": "mine again"}
    tasks.claim(platform, li, task_id)
    drafts.complete(platform, li, task_id, dict(VALID))
    with platform.Session() as session:
        assert session.scalars(select(TaskDraft)).all() == []
    outsider = Principal("cucc", frozenset({"operator"}), "china_unicom")
    other = survey("X", tenant="china_mobile")
    with pytest.raises(NotFound):
        drafts.save(platform, outsider, other, {})


def test_supervisors_also_see_all_tasks_of_their_scope(pages, survey, platform):
    a, b = survey("A"), survey("B", tenant="china_mobile")
    tasks.claim(platform, Principal("wu", frozenset({"regional_manager"})), a)
    boss = pages("boss", ["supervisor"])
    assert boss.get("/inbox/counts").json == {"work": 0, "mine": 0, "group": 0, "all": 2, "overdue": 0}
    assert row_ids(boss.get("/inbox?tab=all")) == [a, b]
    li = pages("li", ["regional_manager"])
    assert "all" not in li.get("/inbox/counts").json
    assert 'data-testid="tab-all"' not in html(li.get("/inbox?tab=all"))

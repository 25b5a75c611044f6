"""Issue 14, the inbox helps: all my work first, claim opens the task, suspended tasks refused,
comments in the timeline, handing a task on, saved filters, refused files that keep the others;
through the pages (Flask's test client) and the REST API."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

import pytest
from helpers import deploy
from sqlalchemy import select

from engine import identity
from engine.models import AuditEvent, HumanTask, SavedFilter, StoredFile, TaskComment
from engine.principal import Principal
from engine.runtime import instances, tasks
from web.app import create_app

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
DISPATCHER = Principal("disp", frozenset({"dispatcher"}))
BOSS = Principal("boss", frozenset({"supervisor"}))
VALID = {"site_name": "Tower A", "result": "success", "tower_height": "35.5", "survey_date": "2026-11-20",
         "power_available": "true"}


@pytest.fixture
def pages(platform):
    """``pages("li", ["regional_manager"], tenant=None, lang="zh")``: a signed-in test client."""
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, platform=platform)

    def make(username: str, groups: list[str], tenant: str | None = None, lang: str = "zh"):
        with platform.transaction() as session:
            identity.add_user(session, username, "password123", groups, tenant)
        client = app.test_client()
        client.get(f"/lang/{lang}")
        assert client.post("/login", data={"username": username, "password": "password123"}).status_code == 302
        return client

    return make


@pytest.fixture
def survey(platform):
    deploy(platform, "ui_survey.bpmn", "ui_quick.bpmn")

    def start(business_key: str = "BK-1", tenant: str | None = None, **variables) -> HumanTask:
        variables.setdefault("site_name", "Tower A")
        instance_id = instances.start(platform, DISPATCHER, "ui_survey", business_key, variables, tenant)
        return open_task(platform, instance_id)

    return start


def open_task(platform, instance_id: int) -> HumanTask:
    with platform.Session() as session:
        return session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                      HumanTask.state == "open"))


def task_row(platform, task_id: int) -> HumanTask:
    with platform.Session() as session:
        return session.get(HumanTask, task_id)


def html(response) -> str:
    return response.get_data(as_text=True)


def row_ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'data-task-id="(\d+)"', html(response))]


def flashes(client) -> str:
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>([^<]*)<', html(client.get("/inbox"))))


# --- all my work, overdue first -------------------------------------------------------------

def test_the_inbox_opens_on_all_my_work_with_overdue_first(pages, survey, platform, clock):
    li = pages("li", ["regional_manager"])
    mine = survey("MINE-1")
    li.post(f"/tasks/{mine.id}/claim")
    clock.advance(timedelta(minutes=20))
    late = survey("LATE-1")  # due 30 minutes after it was made: overdue below
    clock.advance(timedelta(minutes=40))
    fresh = survey("FRESH-1")
    taken = survey("TAKEN-1")
    pages("wu", ["regional_manager"]).post(f"/tasks/{taken.id}/claim")  # someone else's now: not my work

    page = li.get("/inbox")
    assert page.status_code == 200
    assert row_ids(page)[:1] == [mine.id]  # due first (it is the most overdue), then the others
    assert set(row_ids(page)) == {mine.id, late.id, fresh.id}
    assert 'data-testid="tab-work"' in html(page) and "我的全部待办" in html(page)
    assert html(page).count('class="badge overdue"') == 2
    assert li.get("/inbox/counts").json["overdue"] == 2
    assert row_ids(li.get("/inbox?tab=work&overdue=1")) == [mine.id, late.id]


def test_claiming_from_the_list_opens_the_task(pages, survey, platform):
    li = pages("li", ["regional_manager"])
    first, second, third = survey("A"), survey("B"), survey("C")
    r = li.post(f"/tasks/{first.id}/claim", data={"next": "/inbox?tab=group"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/tasks/{first.id}")
    assert task_row(platform, first.id).assignee == "li"
    r = li.post("/inbox/claim", data={"task_id": [str(second.id)], "next": "/inbox?tab=group"})
    assert r.headers["Location"].endswith(f"/tasks/{second.id}")
    wu = pages("wu", ["regional_manager"])
    r = wu.post(f"/tasks/{first.id}/claim", data={"next": "/inbox?tab=group"})
    assert r.headers["Location"].endswith("/inbox?tab=group")  # refused: back to the list, which says why
    assert "该任务已被 li 领取" in flashes(wu)
    assert task_row(platform, third.id).assignee is None


# --- a suspended process --------------------------------------------------------------------

def test_a_suspended_process_marks_its_tasks_and_refuses_them(pages, survey, platform):
    li = pages("li", ["regional_manager"])
    held, free = survey("HELD-1"), survey("FREE-1")
    li.post(f"/tasks/{free.id}/claim")
    instances.suspend(platform, BOSS, held.instance_id, "等待资料")

    listing = html(li.get("/inbox?tab=group"))
    assert f'data-testid="suspended-{held.id}"' in listing and f'data-testid="claim-{held.id}"' not in listing
    r = li.post(f"/tasks/{held.id}/claim", data={"next": "/inbox?tab=group"})
    assert r.status_code == 302 and task_row(platform, held.id).assignee is None
    assert "流程已挂起" in flashes(li)

    page = html(li.get(f"/tasks/{held.id}"))
    assert 'data-testid="suspended-badge"' in page and 'data-testid="suspended-notice"' in page
    assert 'data-testid="claim"' not in page and 'data-testid="complete"' not in page
    assert re.search(r'<select id="task-result" name="result"\s+disabled', page)

    # claimed before the suspension, submitted after: refused, typed values kept, nothing stored
    instances.suspend(platform, BOSS, free.instance_id)
    r = li.post(f"/tasks/{free.id}", data={**VALID, "tower_height": "41", "action": "complete"})
    assert r.status_code == 409
    assert "流程已挂起" in html(r) and 'value="41"' in html(r)
    assert task_row(platform, free.id).state == "open"


def test_the_api_answers_409_instance_suspended(api, platform, survey):
    li = api("li", ["regional_manager"])
    held = survey("HELD-2")
    claimed = survey("HELD-3")
    assert li.post(f"/api/v1/tasks/{claimed.id}/claim").status_code == 200
    for task in (held, claimed):
        instances.suspend(platform, BOSS, task.instance_id)
    r = li.post(f"/api/v1/tasks/{held.id}/claim")
    assert r.status_code == 409 and r.json["error"]["code"] == "instance_suspended"
    r = li.post(f"/api/v1/tasks/{claimed.id}/complete", json={"data": {"result": "success", "site_name": "A",
                                                                       "power_available": True}})
    assert r.status_code == 409 and r.json["error"]["code"] == "instance_suspended"
    api("wu", ["regional_manager"])
    r = li.post(f"/api/v1/tasks/{claimed.id}/delegate", json={"user": "wu"})
    assert r.status_code == 409 and r.json["error"]["code"] == "instance_suspended"
    assert task_row(platform, claimed.id).assignee == "li" and task_row(platform, held.id).assignee is None
    instances.resume(platform, BOSS, held.instance_id)
    assert li.post(f"/api/v1/tasks/{held.id}/claim").status_code == 200


# --- comments -------------------------------------------------------------------------------

def test_a_comment_shows_in_the_task_timeline(pages, survey, platform):
    li = pages("li", ["regional_manager"])
    task = survey("C-1")
    r = li.post(f"/tasks/{task.id}/comments", data={"body": "  塔顶需要登高证  "})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/tasks/{task.id}#timeline")
    page = html(li.get(f"/tasks/{task.id}"))
    timeline = page[page.index('data-testid="timeline"'):]
    assert "塔顶需要登高证" in timeline and "发表了评论" in timeline and "li" in timeline
    assert li.post(f"/tasks/{task.id}/comments", data={"body": "   "}).status_code == 302
    assert "请先输入评论内容" in flashes(li)
    li.post(f"/tasks/{task.id}/comments", data={"body": "长" * 2001})
    with platform.Session() as session:
        assert [c.body for c in session.scalars(select(TaskComment))] == ["塔顶需要登高证"]


def test_operators_read_comments_only_on_tasks_they_take_part_in(pages, api, survey, platform):
    li = pages("li", ["regional_manager"])
    survey_task = survey("C-2", tenant="china_mobile")
    li.post(f"/tasks/{survey_task.id}/comments", data={"body": "内部备注：报价偏高"})
    li.post(f"/tasks/{survey_task.id}/claim")
    li.post(f"/tasks/{survey_task.id}", data={**VALID, "action": "complete"})
    confirm = open_task(platform, survey_task.instance_id)
    li.post(f"/tasks/{confirm.id}/comments", data={"body": "请确认筛查结果"})

    cmcc = pages("cmcc", ["operator"], tenant="china_mobile")
    page = html(cmcc.get(f"/tasks/{confirm.id}"))
    assert "请确认筛查结果" in page and "内部备注" not in page
    cmcc_api = api("cmcc", ["operator"], tenant="china_mobile")
    assert cmcc_api.get(f"/api/v1/tasks/{survey_task.id}/comments").status_code == 404
    assert cmcc_api.post(f"/api/v1/tasks/{survey_task.id}/comments", json={"body": "x"}).status_code == 404
    assert [c["body"] for c in cmcc_api.get(f"/api/v1/tasks/{confirm.id}/comments").json] == ["请确认筛查结果"]
    unicom = api("cucc", ["operator"], tenant="china_unicom")
    assert unicom.get(f"/api/v1/tasks/{confirm.id}/comments").status_code == 404


def test_comments_through_the_api(api, survey, platform):
    li = api("li", ["regional_manager"])
    task = survey("C-3")
    r = li.post(f"/api/v1/tasks/{task.id}/comments", json={"body": "先联系业主"})
    assert r.status_code == 201 and r.json["author"] == "li" and r.json["body"] == "先联系业主"
    assert li.post(f"/api/v1/tasks/{task.id}/comments", json={"body": ""}).status_code == 422
    assert li.post(f"/api/v1/tasks/{task.id}/comments", json={"body": "x" * 2001}).status_code == 422
    assert li.post(f"/api/v1/tasks/{task.id}/comments", json={}).status_code == 422
    assert li.post("/api/v1/tasks/999999/comments", json={"body": "x"}).status_code == 404
    assert [c["body"] for c in li.get(f"/api/v1/tasks/{task.id}/comments").json] == ["先联系业主"]


# --- handing a task on ----------------------------------------------------------------------

def test_the_assignee_hands_a_task_on_to_another_candidate(pages, survey, platform):
    li = pages("li", ["regional_manager"])
    pages("wu", ["regional_manager"])
    pages("sun", ["field_engineer"])
    task = survey("D-1")
    li.post(f"/tasks/{task.id}/claim")
    page = html(li.get(f"/tasks/{task.id}"))
    assert 'data-testid="delegate"' in page and '<option value="wu">' in page and '<option value="sun">' not in page

    r = li.post(f"/tasks/{task.id}/delegate", data={"user": "sun", "reason": "出差"})
    assert r.status_code == 302 and task_row(platform, task.id).assignee == "li"
    assert "sun 不在该任务的候选组中" in flashes(li)
    li.post(f"/tasks/{task.id}/delegate", data={"user": "nobody"})
    assert "没有名为 nobody 的用户" in flashes(li)

    li.post(f"/tasks/{task.id}/delegate", data={"user": "wu", "reason": "我出差三天"})
    assert task_row(platform, task.id).assignee == "wu"
    with platform.Session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "task.delegated"))
    assert (event.actor, event.data["from"], event.data["to"], event.data["reason"]) == ("li", "li", "wu", "我出差三天")
    page = html(li.get(f"/tasks/{task.id}"))
    assert "转交了任务" in page and "从 li 转给 wu" in page and "我出差三天" in page
    assert 'data-testid="delegate"' not in page  # li no longer holds it


def test_delegate_through_the_api(api, survey, platform):
    li, wu = api("li", ["regional_manager"]), api("wu", ["regional_manager"])
    boss = api("boss", ["supervisor"])
    api("sun", ["field_engineer"])
    task = survey("D-2")
    assert wu.post(f"/api/v1/tasks/{task.id}/delegate", json={"user": "li"}).status_code == 403
    assert li.post(f"/api/v1/tasks/{task.id}/claim").status_code == 200
    r = li.post(f"/api/v1/tasks/{task.id}/delegate", json={"user": "sun"})
    assert r.status_code == 422 and r.json["error"]["details"]["why"] == "not_candidate"
    assert li.post(f"/api/v1/tasks/{task.id}/delegate", json={"user": "li"}).status_code == 422
    assert li.post(f"/api/v1/tasks/{task.id}/delegate", json={}).status_code == 422
    r = li.post(f"/api/v1/tasks/{task.id}/delegate", json={"user": "wu", "reason": "休假"})
    assert r.status_code == 200 and r.json["assignee"] == "wu"
    r = boss.post(f"/api/v1/tasks/{task.id}/delegate", json={"user": "li", "reason": "wu 请假"})
    assert r.status_code == 200 and r.json["assignee"] == "li"
    with platform.Session() as session:
        moves = [(e.actor, e.data["from"], e.data["to"]) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "task.delegated").order_by(AuditEvent.id))]
    assert moves == [("li", "li", "wu"), ("boss", "wu", "li")]


# --- saved filters --------------------------------------------------------------------------

def test_saved_filters_are_quick_links_of_their_owner(pages, survey, platform):
    li, wu = pages("li", ["regional_manager"]), pages("wu", ["regional_manager"])
    survey("F-1")
    r = li.post("/inbox/filters", data={"name": "超期筛查", "tab": "work", "process": "ui_survey", "overdue": "1"})
    assert r.status_code == 302 and "process=ui_survey" in r.headers["Location"]
    page = html(li.get("/inbox"))
    link = re.search(r'<a href="([^"]+)" data-testid="saved-filter">超期筛查</a>', page)
    assert link and "overdue=1" in link[1] and "process=ui_survey" in link[1]
    assert 'data-testid="saved-filter"' not in html(wu.get("/inbox"))
    li.post("/inbox/filters", data={"name": "", "process": "ui_survey"})
    assert "请为筛选起个名字" in flashes(li)
    with platform.Session() as session:
        saved = session.scalars(select(SavedFilter)).all()
    assert [(f.username, f.name) for f in saved] == [("li", "超期筛查")]
    wu.post(f"/inbox/filters/{saved[0].id}/delete")
    assert 'data-testid="saved-filter"' in html(li.get("/inbox"))  # only its owner may delete it
    li.post(f"/inbox/filters/{saved[0].id}/delete")
    assert 'data-testid="saved-filter"' not in html(li.get("/inbox"))


def test_saved_filters_through_the_api(api):
    li, wu = api("li", ["regional_manager"]), api("wu", ["regional_manager"])
    r = li.post("/api/v1/tasks/filters", json={"name": "我的超期", "params": {"tab": "work", "overdue": "1"}})
    assert r.status_code == 201 and r.json["params"] == {"tab": "work", "overdue": "1"}
    assert li.post("/api/v1/tasks/filters", json={"name": "坏", "params": {"colour": "red"}}).status_code == 422
    assert li.post("/api/v1/tasks/filters", json={"name": "空", "params": {}}).status_code == 422
    assert [f["name"] for f in li.get("/api/v1/tasks/filters").json] == ["我的超期"]
    assert wu.get("/api/v1/tasks/filters").json == []
    assert wu.delete(f"/api/v1/tasks/filters/{r.json['id']}").status_code == 404
    assert li.delete(f"/api/v1/tasks/filters/{r.json['id']}").status_code == 204
    assert li.get("/api/v1/tasks/filters").json == []


# --- files ----------------------------------------------------------------------------------

def test_a_refused_file_keeps_the_accepted_ones_and_says_why(pages, survey, platform):
    li = pages("li", ["regional_manager"])
    task = survey("FILE-1")
    li.post(f"/tasks/{task.id}/claim")
    page = html(li.get(f"/tasks/{task.id}"))
    photos = page[page.index('data-field="photos"'):]
    assert 'accept="image/jpeg,' in photos and "拍照或选择文件" not in photos  # takes PDF scans: no camera only
    r = li.post(f"/tasks/{task.id}", content_type="multipart/form-data", data={
        **VALID, "tower_height": "高", "action": "complete",
        "photos": [(BytesIO(PNG), "mast.png"), (BytesIO(b"MZ\x90\x00" * 20), "virus.exe")]})
    assert r.status_code == 422
    body = html(r)
    field = body[body.index('data-field="photos"'):body.index('data-field="photos"') + 3000]
    assert "mast.png" in field and 'class="option kept-file"' in field
    assert "“virus.exe”未能上传" in field
    with platform.Session() as session:
        stored = session.scalars(select(StoredFile)).all()
    assert [f.filename for f in stored] == ["mast.png"]
    kept = re.search(r'name="photos" value="(\d+)" checked', field)[1]
    r = li.post(f"/tasks/{task.id}", data={**VALID, "photos": [kept], "action": "complete"})
    assert r.status_code == 302 and task_row(platform, task.id).state == "completed"


def test_a_file_sent_on_its_own_is_stored_or_refused_in_words(pages, survey, platform):
    li, wu = pages("li", ["regional_manager"]), pages("wu", ["regional_manager"])
    task = survey("FILE-2")
    upload = f"/tasks/{task.id}/uploads"
    li.post(f"/tasks/{task.id}/claim")
    r = li.post(upload, data={"field": "photos", "file": (BytesIO(PNG), "mast.png")})
    assert r.status_code == 201 and r.json["filename"] == "mast.png" and r.json["url"] == f"/files/{r.json['id']}"
    r = li.post(upload, data={"field": "photos", "file": (BytesIO(b"MZ" * 40), "virus.exe")})
    assert r.status_code == 422 and r.json["error"].startswith("“virus.exe”未能上传")
    assert li.post(upload, data={"field": "site_name", "file": (BytesIO(PNG), "a.png")}).status_code == 422
    assert wu.post(upload, data={"field": "photos", "file": (BytesIO(PNG), "b.png")}).status_code == 409
    instances.suspend(platform, BOSS, task.instance_id)
    r = li.post(upload, data={"field": "photos", "file": (BytesIO(PNG), "c.png")})
    assert r.status_code == 409 and "流程已挂起" in r.json["error"]
    with platform.Session() as session:
        assert [(f.filename, f.instance_id) for f in session.scalars(select(StoredFile))] == [
            ("mast.png", task.instance_id)]


def test_photo_only_fields_open_the_camera(platform):
    from forms.faults import FirstLevelRepair
    from web.ui import form_widgets as fw

    photos = {w.name: w for w in fw.widgets(FirstLevelRepair)}["first_level_photos"]
    assert photos.camera and photos.multiple and "application/pdf" not in photos.accept
    assert tasks.TaskSuspended.code == "instance_suspended"


def test_the_new_inbox_parts_speak_chinese(pages, survey, platform):
    from chinese_text import english_on_page, identifiers_shown

    li = pages("li", ["regional_manager"])
    pages("wu", ["regional_manager"])
    task = survey("XQ-2026-0001", tenant="china_mobile")
    held = survey("XQ-2026-0002")
    li.post(f"/tasks/{task.id}/comments", data={"body": "备注"})
    li.post(f"/tasks/{task.id}/claim")
    li.post(f"/tasks/{task.id}/delegate", data={"user": "wu", "reason": "出差"})
    li.post("/inbox/filters", data={"name": "超期", "overdue": "1", "tab": "work"})
    instances.suspend(platform, BOSS, held.instance_id)
    allowed = ("li", "wu", "disp", "Tower", "English")  # user names, the test's site name, the language switch
    for url in ("/inbox", "/inbox?tab=group", "/inbox?tab=mine", f"/tasks/{task.id}", f"/tasks/{held.id}"):
        page = html(li.get(url))
        assert english_on_page(page, allowed) == [], url
    wu = pages("wu2", ["regional_manager"])
    other = survey("XQ-2026-0003")
    wu.post(f"/tasks/{other.id}/claim")
    assert english_on_page(html(wu.get(f"/tasks/{other.id}")), (*allowed, "wu2")) == []
    operator = html(pages("cmcc", ["operator"], tenant="china_mobile").get("/inbox"))
    assert english_on_page(operator, (*allowed, "cmcc")) == [] and identifiers_shown(operator) == []

"""Human tasks through the REST API: the inbox, claim, unclaim, assign, complete, starting.

Users: directors (``city_director``) and regional managers are the candidates of "Review
request"; ``wang`` and ``zhao`` are named candidates of "File the decision"; ``sun`` is a field
engineer, a candidate for nothing in the inbox process.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from helpers import deploy, start

TASK_FIELDS = {"id", "title", "process_key", "process_instance_id", "business_key", "tenant",
               "candidate_groups", "candidate_users", "assignee", "due_at", "priority", "form_key",
               "created_at"}


# --- helpers ---------------------------------------------------------------------------------



def only_task(instance: dict) -> dict:
    assert len(instance["active_tasks"]) == 1, instance["active_tasks"]
    return instance["active_tasks"][0]


def inbox(client, **query) -> dict:
    r = client.get("/api/v1/tasks", query_string=query)
    assert r.status_code == 200, r.json
    return r.json


def inbox_ids(client, **query) -> list[int]:
    return [t["id"] for t in inbox(client, **query)["items"]]


def get_task(client, task_id: int) -> dict:
    r = client.get(f"/api/v1/tasks/{task_id}")
    assert r.status_code == 200, r.json
    return r.json


def get_instance(client, instance_id: int) -> dict:
    r = client.get(f"/api/v1/process-instances/{instance_id}")
    assert r.status_code == 200, r.json
    return r.json


def history(client, instance_id: int) -> list[dict]:
    r = client.get(f"/api/v1/process-instances/{instance_id}/history")
    assert r.status_code == 200, r.json
    return r.json["items"]


def actions(client, instance_id: int) -> list[str]:
    return [event["action"] for event in history(client, instance_id)]


def post(client, url: str, status: int, json: dict | None = None) -> dict:
    r = client.post(url, json=json if json is not None else {})
    assert r.status_code == status, (r.status_code, r.json)
    return r.json


def parse(stamp: str) -> datetime:
    assert stamp.endswith("Z"), stamp
    return datetime.fromisoformat(stamp[:-1])


def error_code(body: dict) -> str:
    return body["error"]["code"]


@pytest.fixture
def inbox_process(platform):
    deploy(platform, "tasks_inbox.bpmn")


@pytest.fixture
def admin(api):
    return api("admin", ["admin"])


@pytest.fixture
def li(api):
    return api("li", ["city_director"])


@pytest.fixture
def zhou(api):
    return api("zhou", ["regional_manager"])


@pytest.fixture
def sun(api):
    return api("sun", ["field_engineer"])


# --- the task row ------------------------------------------------------------------------------

def test_a_task_row_has_every_field_of_the_contract(inbox_process, admin, li, clock):
    clock.advance(timedelta(days=3))  # the platform's clock, not the wall clock, stamps the task
    instance = start(admin, "tasks_inbox", "SITE-1", tenant="china_mobile", site="Tower 17")

    rows = inbox(li)["items"]
    assert len(rows) == 1
    row = rows[0]
    assert TASK_FIELDS <= set(row)
    assert row == only_task(instance)
    assert row["title"] == "Review request"
    assert row["process_key"] == "tasks_inbox"
    assert row["process_instance_id"] == instance["id"]
    assert row["business_key"] == "SITE-1"
    assert row["tenant"] == "china_mobile"
    assert row["candidate_groups"] == ["city_director", "regional_manager"]
    assert row["candidate_users"] == []
    assert row["assignee"] is None
    assert row["priority"] == 70
    assert row["form_key"] == "approval"
    created = parse(row["created_at"])
    assert abs(created - clock.now()) < timedelta(minutes=5)
    assert parse(row["due_at"]) - created == timedelta(hours=2)  # dueIn PT2H


def test_a_task_without_priority_or_due_time_gets_the_defaults(platform, admin, li):
    deploy(platform, "tasks_lanes.bpmn")
    row = only_task(start(admin, "tasks_lanes", "SURVEY-1"))
    assert row["priority"] == 50
    assert row["due_at"] is None


def test_a_task_shows_its_forms_field_description(inbox_process, admin, li):
    task = only_task(start(admin, "tasks_inbox", "SITE-1", site="Tower 17"))

    detail = get_task(li, task["id"])
    assert TASK_FIELDS <= set(detail)
    fields = {f["name"]: f for f in detail["form"]}
    assert set(fields) == {"approved", "comment"}
    assert fields["approved"]["required"] is True
    assert fields["approved"]["type"] == "Boolean"
    assert fields["approved"]["label"] == {"zh": "是否同意", "en": "Approved"}
    assert fields["comment"]["required"] is False
    assert fields["comment"]["widget"] == "textarea"
    assert detail["variables"]["site"] == "Tower 17"


def test_an_unknown_task_answers_404(li):
    r = li.get("/api/v1/tasks/999999")
    assert r.status_code == 404
    assert error_code(r.json) == "not_found"


# --- the inbox: filters, order, pages ----------------------------------------------------------

def test_inbox_filters_assignee_me_and_candidate_me(inbox_process, admin, li, zhou, sun):
    tasks = [only_task(start(admin, "tasks_inbox", f"SITE-{n}"))["id"] for n in range(3)]
    post(li, f"/api/v1/tasks/{tasks[0]}/claim", 200)

    assert inbox_ids(li, assignee="me") == [tasks[0]]
    assert sorted(inbox_ids(li, candidate="me")) == sorted(tasks[1:])
    assert inbox_ids(zhou, assignee="me") == []
    assert sorted(inbox_ids(zhou, candidate="me")) == sorted(tasks[1:])
    assert inbox(sun, candidate="me")["total"] == 0
    assert inbox(sun)["total"] == 0


def test_inbox_filters_by_process_key_and_business_key(platform, admin, li):
    deploy(platform, "tasks_inbox.bpmn", "tasks_restricted.bpmn")
    first = only_task(start(admin, "tasks_inbox", "SITE-1"))
    second = only_task(start(admin, "tasks_inbox", "SITE-2"))
    other = only_task(start(admin, "tasks_restricted", "SITE-1", approved=True))

    assert sorted(inbox_ids(li, process_key="tasks_inbox")) == sorted([first["id"], second["id"]])
    assert inbox_ids(li, process_key="tasks_restricted") == [other["id"]]
    assert sorted(inbox_ids(li, business_key="SITE-1")) == sorted([first["id"], other["id"]])
    assert inbox_ids(li, process_key="tasks_inbox", business_key="SITE-2") == [second["id"]]
    assert inbox(li, business_key="NO-SUCH-SITE")["total"] == 0


def test_overdue_filter_follows_the_clock(inbox_process, admin, li, clock):
    early = only_task(start(admin, "tasks_inbox", "SITE-EARLY"))
    assert inbox(li, overdue="true")["total"] == 0

    clock.advance(timedelta(hours=2, minutes=1))  # past the PT2H due time of the first task
    late = only_task(start(admin, "tasks_inbox", "SITE-LATE"))

    overdue = inbox(li, overdue="true")
    assert [t["id"] for t in overdue["items"]] == [early["id"]]
    assert overdue["total"] == 1
    assert inbox_ids(li, overdue="false") == [late["id"]]


def test_inbox_is_sorted_by_due_time_then_priority(platform, admin, api):
    deploy(platform, "tasks_sorting.bpmn")
    checker = api("qian", ["checker"])
    start(admin, "tasks_sorting", "LATER", deadline="2031-05-02T12:00:00")
    start(admin, "tasks_sorting", "SOONER", deadline="2031-05-01T12:00:00")

    order = [(t["business_key"], t["title"]) for t in inbox(checker)["items"]]
    assert order[:6] == [
        ("SOONER", "High priority check"), ("SOONER", "Default priority check"), ("SOONER", "Low priority check"),
        ("LATER", "High priority check"), ("LATER", "Default priority check"), ("LATER", "Low priority check"),
    ]
    assert sorted(order[6:]) == [("LATER", "Undated check"), ("SOONER", "Undated check")]


def test_inbox_is_paginated_with_the_right_total(platform, admin, api):
    deploy(platform, "tasks_sorting.bpmn")
    checker = api("qian", ["checker"])
    start(admin, "tasks_sorting", "A", deadline="2031-05-01T12:00:00")
    start(admin, "tasks_sorting", "B", deadline="2031-05-02T12:00:00")  # 8 tasks in all

    everything = inbox_ids(checker)
    pages = [inbox(checker, page=n, page_size=3) for n in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [8, 8, 8, 8]
    assert [len(p["items"]) for p in pages] == [3, 3, 2, 0]
    assert [t["id"] for p in pages for t in p["items"]] == everything
    assert len(set(everything)) == 8



def test_a_total_past_the_cap_is_marked_capped_and_the_pages_keep_their_order(platform, admin, api, monkeypatch):
    from engine.runtime import tasks

    deploy(platform, "tasks_sorting.bpmn")
    checker = api("qian", ["checker"])
    start(admin, "tasks_sorting", "A", deadline="2031-05-01T12:00:00")
    start(admin, "tasks_sorting", "B", deadline="2031-05-02T12:00:00")  # 8 tasks in all
    everything = inbox_ids(checker)
    assert inbox(checker)["total"] == 8 and inbox(checker)["total_capped"] is False

    monkeypatch.setattr(tasks, "TASK_COUNT_CAP", 5)  # more than 5: counted no further
    pages = [inbox(checker, page=n, page_size=3) for n in (1, 2, 3)]
    assert [(p["total"], p["total_capped"]) for p in pages] == [(5, True), (6, True), (8, False)]
    assert [t["id"] for p in pages for t in p["items"]] == everything  # the walk keeps the sort's order
    assert (inbox(checker, page=5, page_size=3)["total"], inbox(checker, page=5, page_size=3)["items"]) == (8, [])
    monkeypatch.setattr(tasks, "TASK_COUNT_CAP", 8)  # exactly the cap: exact
    assert (inbox(checker)["total"], inbox(checker)["total_capped"]) == (8, False)


def test_capped_counts_and_process_keys_in_the_engine(platform, admin, api):
    from engine.principal import Principal
    from engine.runtime import tasks

    deploy(platform, "tasks_sorting.bpmn", "tasks_inbox.bpmn")
    start(admin, "tasks_sorting", "A", deadline="2031-05-01T12:00:00")
    start(admin, "tasks_sorting", "B", deadline="2031-05-02T12:00:00")
    checker = Principal("qian", frozenset({"checker"}))
    boss = Principal("boss", frozenset({"supervisor"}))
    now = platform.clock.now()
    with platform.Session() as session:
        work = tasks.TaskFilter(my_work=True)
        assert [tasks.count_tasks(session, checker, work, now, cap=c) for c in (None, 3, 7, 8, 20)] == [8, 4, 8, 8, 8]
        exact, _ = tasks.list_tasks(session, checker, work, now, 0, 50)
        capped = tasks.find_tasks(session, checker, work, now, 0, 4, cap=3)
        assert (capped.total, capped.capped, [t.id for t in capped.rows]) == (4, True, [t.id for t in exact[:4]])
        later = tasks.find_tasks(session, checker, work, now, 2, 3, cap=3, sort="priority", desc=True)
        by_priority, _ = tasks.list_tasks(session, checker, work, now, 0, 50, sort="priority", desc=True)
        assert [t.id for t in later.rows] == [t.id for t in by_priority[2:5]] and later.capped
        assert tasks.process_keys(session, checker) == tasks.process_keys(session, checker, cap=2) == ["tasks_sorting"]
        assert tasks.process_keys(session, boss, cap=2) == tasks.process_keys(session, boss) == ["tasks_sorting"]


# --- claim, unclaim, assign ----------------------------------------------------------------------

def test_claim_then_unclaim(inbox_process, admin, li, zhou):
    task = only_task(start(admin, "tasks_inbox", "SITE-1"))
    url = f"/api/v1/tasks/{task['id']}"

    assert post(li, f"{url}/claim", 200)["assignee"] == "li"
    assert get_task(zhou, task["id"])["assignee"] == "li"

    conflict = post(zhou, f"{url}/claim", 409)
    assert error_code(conflict) == "conflict"
    assert "li" in conflict["error"]["message"]
    assert error_code(post(zhou, f"{url}/unclaim", 403)) == "forbidden"
    assert get_task(li, task["id"])["assignee"] == "li"

    assert post(li, f"{url}/unclaim", 200)["assignee"] is None
    assert post(zhou, f"{url}/claim", 200)["assignee"] == "zhou"
    assert actions(admin, task["process_instance_id"]).count("task.claimed") == 2
    assert "task.unclaimed" in actions(admin, task["process_instance_id"])


def test_admin_may_assign_to_anyone(inbox_process, admin, li, sun):
    task = only_task(start(admin, "tasks_inbox", "SITE-1"))
    url = f"/api/v1/tasks/{task['id']}"
    post(li, f"{url}/claim", 200)

    assert error_code(post(admin, f"{url}/assign", 422, {"user": "nobody"})) == "validation_failed"
    assert post(admin, f"{url}/assign", 200, {"user": "sun"})["assignee"] == "sun"
    # the assignee may do the work even though it is no candidate
    done = post(sun, f"{url}/complete", 200, {"data": {"approved": False, "comment": "site flooded"}})
    assert done["variables"]["approved"] is False


def test_only_admins_and_the_assignee_may_assign(inbox_process, admin, li, zhou, sun):
    task = only_task(start(admin, "tasks_inbox", "SITE-1"))
    url = f"/api/v1/tasks/{task['id']}"

    # unclaimed: a candidate still may not hand it out
    assert error_code(post(li, f"{url}/assign", 403, {"user": "li"})) == "forbidden"
    post(li, f"{url}/claim", 200)
    assert error_code(post(zhou, f"{url}/assign", 403, {"user": "zhou"})) == "forbidden"
    assert error_code(post(sun, f"{url}/assign", 403, {"user": "sun"})) == "forbidden"
    assert get_task(li, task["id"])["assignee"] == "li"

    # the assignee may hand it to another candidate, but not to someone who is none
    assert error_code(post(li, f"{url}/assign", 403, {"user": "sun"})) == "forbidden"
    assert post(li, f"{url}/assign", 200, {"user": "zhou"})["assignee"] == "zhou"
    assert "task.assigned" in actions(admin, task["process_instance_id"])


def test_a_non_candidate_can_neither_claim_nor_complete(inbox_process, admin, sun):
    task = only_task(start(admin, "tasks_inbox", "SITE-1"))
    url = f"/api/v1/tasks/{task['id']}"

    assert error_code(post(sun, f"{url}/claim", 403)) == "forbidden"
    assert error_code(post(sun, f"{url}/complete", 403, {"data": {"approved": True}})) == "forbidden"
    after = get_task(admin, task["id"])
    assert after["state"] == "open"
    assert after["assignee"] is None
    assert "task.completed" not in actions(admin, task["process_instance_id"])


def test_completing_a_task_claimed_by_someone_else_conflicts(inbox_process, admin, li, zhou):
    task = only_task(start(admin, "tasks_inbox", "SITE-1"))
    url = f"/api/v1/tasks/{task['id']}"
    post(li, f"{url}/claim", 200)

    conflict = post(zhou, f"{url}/complete", 409, {"data": {"approved": True}})
    assert error_code(conflict) == "conflict"
    assert get_task(li, task["id"])["state"] == "open"
    assert "task.completed" not in actions(admin, task["process_instance_id"])


# --- complete ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, bad_fields", [
    ({}, {"approved"}),
    ({"approved": "perhaps", "comment": "x" * 2001}, {"approved", "comment"}),
    ({"approved": True, "surprise": 1}, {"surprise"}),
])
def test_completion_with_wrong_data_changes_nothing(inbox_process, admin, li, data, bad_fields):
    task = only_task(start(admin, "tasks_inbox", "SITE-1", site="Tower 17"))
    url = f"/api/v1/tasks/{task['id']}"
    post(li, f"{url}/claim", 200)
    before = get_instance(admin, task["process_instance_id"])
    events_before = history(admin, task["process_instance_id"])

    refused = post(li, f"{url}/complete", 422, {"data": data})
    assert error_code(refused) == "validation_failed"
    assert set(refused["error"]["details"]["fields"]) == bad_fields

    after = get_instance(admin, task["process_instance_id"])
    assert after["variables"] == before["variables"]
    assert after["state"] == before["state"]
    assert after["active_tasks"] == before["active_tasks"]
    assert get_task(li, task["id"])["state"] == "open"
    assert history(admin, task["process_instance_id"]) == events_before


def test_a_correct_completion_moves_the_instance_on(inbox_process, admin, li):
    task = only_task(start(admin, "tasks_inbox", "SITE-1", site="Tower 17"))
    url = f"/api/v1/tasks/{task['id']}"
    post(li, f"{url}/claim", 200)

    instance = post(li, f"{url}/complete", 200, {"data": {"approved": True, "comment": "go ahead"}})
    assert instance["id"] == task["process_instance_id"]
    assert instance["state"] == "waiting"
    assert instance["variables"] == {"site": "Tower 17", "approved": True, "comment": "go ahead"}
    assert [t["title"] for t in instance["active_tasks"]] == ["File the decision"]

    done = get_task(li, task["id"])
    assert done["state"] == "completed"
    assert task["id"] not in inbox_ids(li)
    completed = [e for e in history(admin, instance["id"]) if e["action"] == "task.completed"]
    assert len(completed) == 1
    assert completed[0]["actor"] == "li"
    assert completed[0]["task_id"] == task["id"]
    assert completed[0]["data"]["data"] == {"approved": True, "comment": "go ahead"}

    assert error_code(post(li, f"{url}/complete", 409, {"data": {"approved": True}})) == "conflict"


def test_a_candidate_may_complete_without_claiming_first(inbox_process, admin, zhou):
    task = only_task(start(admin, "tasks_inbox", "SITE-1"))
    instance = post(zhou, f"/api/v1/tasks/{task['id']}/complete", 200, {"data": {"approved": False}})
    assert instance["variables"]["approved"] is False
    assert get_task(zhou, task["id"])["state"] == "completed"


def test_candidate_users_are_offered_the_task_by_name(inbox_process, admin, li, api):
    wang, zhao = api("wang", ["clerk"]), api("zhao", ["clerk"])
    outsider = api("qian", ["clerk"])
    review = only_task(start(admin, "tasks_inbox", "SITE-1"))
    filing = only_task(post(li, f"/api/v1/tasks/{review['id']}/complete", 200, {"data": {"approved": True}}))
    assert filing["candidate_users"] == ["wang", "zhao"]
    assert filing["candidate_groups"] == []
    assert filing["priority"] == 20

    assert inbox_ids(wang, candidate="me") == [filing["id"]]
    assert inbox_ids(zhao, candidate="me") == [filing["id"]]
    assert inbox_ids(li, candidate="me") == []
    assert error_code(post(outsider, f"/api/v1/tasks/{filing['id']}/claim", 403)) == "forbidden"

    post(wang, f"/api/v1/tasks/{filing['id']}/claim", 200)
    instance = post(wang, f"/api/v1/tasks/{filing['id']}/complete", 200, {"data": {"comment": "filed"}})
    assert instance["state"] == "completed"
    assert instance["active_tasks"] == []


def test_the_lane_name_is_the_candidate_group_when_candidate_groups_is_absent(platform, admin, api):
    deploy(platform, "tasks_lanes.bpmn")
    engineer = api("sun", ["field_engineer"])
    director = api("li", ["city_director"])
    manager = api("zhou", ["regional_manager"])
    survey = only_task(start(admin, "tasks_lanes", "SURVEY-1"))
    assert survey["candidate_groups"] == ["field_engineer"]
    assert error_code(post(director, f"/api/v1/tasks/{survey['id']}/claim", 403)) == "forbidden"

    post(engineer, f"/api/v1/tasks/{survey['id']}/claim", 200)
    sign_off = only_task(post(engineer, f"/api/v1/tasks/{survey['id']}/complete", 200,
                              {"data": {"comment": "mast is fine"}}))
    # an explicit candidateGroups wins over the lane (city_director)
    assert sign_off["candidate_groups"] == ["regional_manager"]
    assert error_code(post(director, f"/api/v1/tasks/{sign_off['id']}/claim", 403)) == "forbidden"
    assert post(manager, f"/api/v1/tasks/{sign_off['id']}/claim", 200)["assignee"] == "zhou"


@pytest.mark.parametrize("reported_at, due_at", [
    ("2031-03-01T08:00:00", "2031-03-04T08:00:00Z"),
    ("2031-03-01T08:00:00+08:00", "2031-03-04T00:00:00Z"),  # stored and shown in UTC
])
def test_due_date_expression_sets_the_due_time(platform, admin, reported_at, due_at):
    deploy(platform, "tasks_due_date.bpmn")
    task = only_task(start(admin, "tasks_due_date", "FAULT-1", reported_at=reported_at, sla_days=3))
    assert task["due_at"] == due_at


# --- starting: starterGroups and the start form --------------------------------------------------

def count_instances(client, process_key: str) -> int:
    r = client.get("/api/v1/process-instances", query_string={"process_key": process_key})
    assert r.status_code == 200, r.json
    return r.json["total"]


def test_only_starter_groups_and_admins_may_start(platform, admin, li, zhou, sun):
    deploy(platform, "tasks_restricted.bpmn")
    body = {"process_key": "tasks_restricted", "business_key": "BUDGET-1", "variables": {"approved": True}}

    refused = post(sun, "/api/v1/process-instances", 403, body)
    assert error_code(refused) == "forbidden"
    assert "city_director" in refused["error"]["message"]
    assert count_instances(admin, "tasks_restricted") == 0

    assert post(li, "/api/v1/process-instances", 201, body)["started_by"] == "li"
    assert post(zhou, "/api/v1/process-instances", 201, body)["started_by"] == "zhou"
    assert post(admin, "/api/v1/process-instances", 201, body)["started_by"] == "admin"
    assert count_instances(admin, "tasks_restricted") == 3


@pytest.mark.parametrize("variables, bad_fields", [
    ({}, {"approved"}),
    ({"approved": "maybe"}, {"approved"}),
    ({"approved": True, "comment": ["not", "text"]}, {"comment"}),
])
def test_the_start_form_refuses_bad_start_variables_and_creates_nothing(platform, admin, li, variables,
                                                                       bad_fields):
    deploy(platform, "tasks_restricted.bpmn")
    refused = post(li, "/api/v1/process-instances", 422,
                   {"process_key": "tasks_restricted", "business_key": "BUDGET-1", "variables": variables})
    assert error_code(refused) == "validation_failed"
    assert set(refused["error"]["details"]["fields"]) == bad_fields
    assert count_instances(admin, "tasks_restricted") == 0
    assert inbox(admin)["total"] == 0


def test_the_start_form_cleans_good_start_variables(platform, li):
    deploy(platform, "tasks_restricted.bpmn")
    instance = start(li, "tasks_restricted", "BUDGET-1", approved=True)
    assert instance["variables"] == {"approved": True, "comment": ""}
    assert only_task(instance)["title"] == "Follow up the exception"

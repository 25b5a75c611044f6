"""The cockpit diagram's server side: the version page's count badges (listeners apart, with
incidents), the JSON list of the instances at a step (tenant-scoped, supervisors and
designers only), and an instance's visits of a step; in Chinese, with no English."""

from __future__ import annotations

import json
import re

import pytest
from chinese_text import latin_words
from helpers import deploy
from sqlalchemy import select

from engine import identity
from engine.models import HumanTask, ProcessDefinition
from engine.principal import Principal
from engine.runtime import instances, tasks

STAFF = Principal("staff", frozenset({"clerk"}))


@pytest.fixture
def deployed(platform):
    deploy(platform, "jobs_reminder.bpmn")
    with platform.Session() as session:
        definition_id = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == "jobs_reminder"))
    return definition_id


@pytest.fixture
def client_of(app, platform):
    def make(username: str, groups: list[str], tenant: str | None = None, lang: str = "zh"):
        with platform.transaction() as session:
            identity.add_user(session, username, "password123", groups, tenant)
        client = app.test_client()
        client.get(f"/lang/{lang}")
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'name="csrf-token" content="([^"]+)"', page)
        response = client.post("/login", data={"username": username, "password": "password123",
                                               "csrf_token": token.group(1)})
        assert response.status_code == 302
        return client

    return make


def drawing_of(page: str, diagram_id: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{diagram_id}-data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def test_version_page_badges_count_listeners_apart(platform, deployed, client_of):
    for n in range(2):
        instances.start(platform, STAFF, "jobs_reminder", f"R-{n}")
    boss = client_of("boss", ["supervisor"])
    page = boss.get("/definitions/jobs_reminder/1").get_data(as_text=True)
    drawing = drawing_of(page, "definition-diagram")
    badges = {(b["element"], b["className"]): b["text"] for b in drawing["badges"]}
    assert badges[("review", "tf-badge-now")] == "2"
    assert badges[("remind", "tf-badge-listener")] == "2"
    assert ("remind", "tf-badge-now") not in badges  # a waiting boundary event is not "here"
    assert drawing["elementUrl"].endswith("/elements/__ELEMENT__")
    assert drawing["words"]["current"] == "定位到当前步骤"
    assert 'data-testid="diagram-legend"' in page


def test_the_instances_at_a_step_follow_the_tenant(platform, deployed, client_of):
    mine = instances.start(platform, STAFF, "jobs_reminder", "M-1", tenant="china_mobile")
    instances.start(platform, STAFF, "jobs_reminder", "U-1", tenant="china_unicom")
    boss = client_of("boss", ["supervisor"])
    answer = boss.get(f"/cockpit/definitions/{deployed}/elements/review").get_json()
    assert answer["total"] == 2 and {item["label"] for item in answer["items"]} == {"M-1", "U-1"}
    assert answer["title"] == "停留在“Review the order”的实例"  # the test process names its steps in English
    assert latin_words([answer["empty"]] + [i["detail"] + i["stateLabel"] for i in answer["items"]]) == []

    operator = client_of("cm", ["supervisor"], tenant="china_mobile")
    answer = operator.get(f"/cockpit/definitions/{deployed}/elements/review").get_json()
    assert [item["url"] for item in answer["items"]] == [f"/instances/{mine}"]
    listeners = operator.get(f"/cockpit/definitions/{deployed}/elements/remind").get_json()
    assert listeners["total"] == 1 and "等待" in listeners["items"][0]["detail"]


def test_the_list_refuses_strangers_and_unknown_steps(platform, deployed, client_of):
    clerk = client_of("wu", ["clerk"])
    assert clerk.get(f"/cockpit/definitions/{deployed}/elements/review").status_code == 403
    boss = client_of("boss", ["supervisor"])
    assert boss.get(f"/cockpit/definitions/{deployed}/elements/nowhere").status_code == 404
    assert boss.get("/cockpit/definitions/99999/elements/review").status_code == 404


def test_an_instance_lists_the_visits_of_a_step(platform, deployed, client_of):
    instance_id = instances.start(platform, STAFF, "jobs_reminder", "V-1", tenant="china_mobile")
    boss = client_of("boss", ["supervisor"])
    answer = boss.get(f"/cockpit/instances/{instance_id}/elements/review").get_json()
    assert answer["items"][0]["state"] == "running" and not answer["items"][0]["label"].isascii()  # here now
    assert len(answer["items"]) == 2  # and the task, opened
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id))
    tasks.complete(platform, STAFF, task_id, {})
    answer = boss.get(f"/cockpit/instances/{instance_id}/elements/review").get_json()
    assert len(answer["items"]) == 1 and "完成" in answer["items"][0]["detail"]
    assert latin_words([i["detail"] for i in answer["items"]], allow=["staff", "UTC"]) == []
    unicom = client_of("cu", ["supervisor"], tenant="china_unicom")
    assert unicom.get(f"/cockpit/instances/{instance_id}/elements/review").status_code == 404
    page = boss.get(f"/instances/{instance_id}").get_data(as_text=True)
    wanted = f"/cockpit/instances/{instance_id}/elements/__ELEMENT__"
    assert drawing_of(page, "instance-diagram")["elementUrl"] == wanted

"""POST /api/v1/migrations/plan and /api/v1/migrations: what is refused and why, who may, bad bodies."""

from __future__ import annotations

import pytest
from migration_world import definition_id, deploy_variant, renamed_with_new_step, without_accept, without_timer
from test_flow_negotiation import complete, negotiating, open_elements, start_negotiation
from test_flow_negotiation import deployed as negotiation_deployed  # noqa: F401
from test_flow_negotiation import people as negotiation_people  # noqa: F401


@pytest.fixture
def people(negotiation_deployed, negotiation_people):  # noqa: F811
    return negotiation_people


def versions(platform, variant) -> tuple[int, int]:
    return definition_id(platform, "site_negotiation", 1), deploy_variant(platform, variant())


def test_plan_then_migrate_a_waiting_negotiation(platform, people):
    iid = negotiating(people)
    v1, v2 = versions(platform, renamed_with_new_step)
    body = {"source_definition_id": v1, "target_definition_id": v2, "instance_ids": [iid]}
    plan = people.supervisor.post("/api/v1/migrations/plan", json=body)
    assert plan.status_code == 200, plan.json
    assert (plan.json["total"], plan.json["movable"], plan.json["refused"]) == (1, 1, 0)
    assert {"element_id": "check_report", "name": "复核谈址进展"} in plan.json["added"]
    report = next(m for m in plan.json["mapping"] if m["element_id"] == "report")
    assert (report["target_id"], report["status"], report["target_name"]) == ("report", "changed", "反馈谈址进展（新）")

    done = people.supervisor.post("/api/v1/migrations", json={**body, "reason": "修正流程"})
    assert done.status_code == 200, done.json
    assert (done.json["migrated"], done.json["instances"][0]["migrated"]) == (1, True)
    shown = people.supervisor.get(f"/api/v1/process-instances/{iid}").json
    assert shown["version"] == 2
    complete(people.negotiator, iid, "report", progress_outcome="in_progress", progress_note="还在谈")
    assert open_elements(people.negotiator, iid) == ["check_report"]


def test_refusals_an_unmapped_task_and_a_removed_timer(platform, people):
    at_accept = start_negotiation(people)["id"]
    complete(people.regional, at_accept, "plan", negotiator="sun", plan="先谈业主")
    at_report = negotiating(people)
    v1, no_accept = versions(platform, without_accept)
    no_timer = deploy_variant(platform, without_timer())

    r = people.supervisor.post("/api/v1/migrations", json={
        "source_definition_id": v1, "target_definition_id": no_accept, "instance_ids": [at_accept],
        "reason": "去掉接收"})
    assert r.status_code == 200 and r.json["migrated"] == 0
    [refusal] = r.json["instances"][0]["refusals"]
    assert refusal["code"] == "lost_token" and "接收谈址任务" in refusal["reason"]

    r = people.supervisor.post("/api/v1/migrations/plan", json={
        "source_definition_id": v1, "target_definition_id": no_timer, "filter": {"state": "waiting"}},
        headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 200
    by_id = {i["id"]: i for i in r.json["instances"]}
    assert by_id[at_accept]["ok"] is True  # its timer is not armed yet
    assert [x["code"] for x in by_id[at_report]["refusals"]] == ["lost_timer"]
    assert by_id[at_report]["refusals"][0]["reason"] == "定时器“谈址期限到”正在计时，目标版本没有它：迁移会丢失定时器。"
    shown = people.supervisor.get(f"/api/v1/process-instances/{at_report}").json
    assert shown["version"] == 1


def test_another_tenants_instance_is_refused_as_not_found(platform, people, api):
    iid = negotiating(people)
    v1, v2 = versions(platform, renamed_with_new_step)
    other = api("cmcc_zhou", ["supervisor"], tenant="china_mobile")
    r = other.post("/api/v1/migrations", json={"source_definition_id": v1, "target_definition_id": v2,
                                               "instance_ids": [iid], "reason": "x"})
    assert r.status_code == 200
    assert r.json["instances"][0]["refusals"][0]["code"] == "not_found"
    assert r.json["instances"][0]["business_key"] is None  # nothing of it leaks
    assert people.supervisor.get(f"/api/v1/process-instances/{iid}").json["version"] == 1


def test_only_supervisors_and_bad_bodies(platform, people):
    iid = negotiating(people)
    v1, v2 = versions(platform, renamed_with_new_step)
    good = {"source_definition_id": v1, "target_definition_id": v2, "instance_ids": [iid]}
    assert people.negotiator.post("/api/v1/migrations/plan", json=good).status_code == 403
    assert people.negotiator.post("/api/v1/migrations", json={**good, "reason": "x"}).status_code == 403
    for bad in ({}, {**good, "instance_ids": []}, {**good, "filter": {"state": "nonsense"}},
                {"source_definition_id": v1, "target_definition_id": v2},
                {**good, "target_definition_id": v1}, {**good, "target_definition_id": 999999},
                {**good, "source_definition_id": "one"}):
        r = people.supervisor.post("/api/v1/migrations/plan", json=bad)
        assert r.status_code == 422, (bad, r.status_code, r.json)
    assert people.supervisor.post("/api/v1/migrations", json=good).status_code == 422  # no reason
    assert people.supervisor.get(f"/api/v1/process-instances/{iid}").json["version"] == 1


def test_the_endpoints_are_documented_and_need_a_token(api):
    paths = api.anonymous.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/migrations", "/api/v1/migrations/plan"} <= set(paths)
    assert "reason" in str(paths["/api/v1/migrations"]["post"])
    assert api.anonymous.post("/api/v1/migrations/plan", json={}).status_code == 401

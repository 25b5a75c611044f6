"""Decisions (DMN) and their versions: a process version holds the decision tables it was
deployed with, so deploying a decision alone versions the processes that use it.

Flow 4 (fault dispatch) takes its repair limit from processes/fault_time_limits.dmn through a
business rule task evaluated after acceptance; the repair timer then runs for that limit.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import instance, start

from engine.definitions import deployments
from engine.errors import Conflict, ValidationFailed
from engine.models import DecisionDefinition, DeploymentFile, ProcessDefinition
from engine.principal import SYSTEM
from engine.runtime import jobs

PROCESSES = Path(__file__).parents[2] / "processes"
BPMN, DMN = "fault_dispatch.bpmn", "fault_time_limits.dmn"
DECISION = "fault_repair_limit"
GROUP_BANDWIDTH_4H = b'<outputEntry id="rule_1_limit"><text>"PT4H"</text></outputEntry>'
GROUP_BANDWIDTH_2H = b'<outputEntry id="rule_1_limit"><text>"PT2H"</text></outputEntry>'

REPORT = {
    "customer_name": "杭州市公安局", "customer_level": "group", "business_category": "bandwidth",
    "circuit_id": "MPLS-VPN-0571-0042", "contact_phone": "13800571234",
    "description": "专线中断，业务不通", "channel": "on_behalf",
}


def original(name: str) -> bytes:
    return (PROCESSES / name).read_bytes()


def two_hours() -> bytes:
    data = original(DMN)
    assert GROUP_BANDWIDTH_4H in data
    return data.replace(GROUP_BANDWIDTH_4H, GROUP_BANDWIDTH_2H)


def upload(client, files: dict[str, bytes]):
    data = {"files": [(io.BytesIO(content), name) for name, content in files.items()]}
    return client.post("/api/v1/deployments", data=data, content_type="multipart/form-data")


@pytest.fixture
def users(api):
    class Users:
        designer = api("des", ["designer"])
        monitor = api("sun_mc", ["monitoring_center"])
        repairer = api("li_mt", ["maintenance"])
        boss = api("zhou_sv", ["supervisor"])
    return Users


@pytest.fixture
def deployed(platform):
    return deployments.deploy(platform, SYSTEM, {BPMN: original(BPMN), DMN: original(DMN)})


def open_tasks(user, iid: int) -> dict[str, dict]:
    return {t["title"]: t for t in instance(user, iid)["active_tasks"]}


def complete(user, iid: int, title: str, data: dict) -> dict:
    tasks = open_tasks(user, iid)
    assert title in tasks, sorted(tasks)
    r = user.post(f"/api/v1/tasks/{tasks[title]['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return r.json


def report(users, key: str) -> dict:
    return start(users.monitor, "fault_dispatch", key, **{**REPORT, "channel": "self_found"})


def accept(users, iid: int) -> dict:
    """受理: the business rule task right after it evaluates the repair limit table."""
    record = {k: v for k, v in REPORT.items() if k != "channel"}
    return complete(users.monitor, iid, "受理故障", {**record, "acceptance_note": "已受理"})


def to_first_repair(users, iid: int) -> None:
    complete(users.monitor, iid, "派单", {"first_level_team": "西湖区传输一班"})
    complete(users.repairer, iid, "一级接单", {"first_level_engineer": "李工"})


def repair_escalates_after(platform, clock, users, iid: int) -> int:
    """Hours until the first-level repair escalates (the repair limit's timer), to the hour."""
    for hours in range(1, 9):
        clock.advance(timedelta(hours=1))
        jobs.run_due_jobs(platform)
        if "一级修复超时督办" in open_tasks(users.boss, iid):
            return hours
    raise AssertionError("the repair did not escalate within 8 hours")


def versions(platform, model, key: str) -> list[int]:
    with platform.Session() as session:
        return sorted(r.version for r in session.query(model).filter(model.key == key))


# --- the engine -----------------------------------------------------------------------------

def test_a_decision_deployed_alone_versions_the_process_that_uses_it(platform, clock, deployed, users):
    assert deployed["decisions"] == [{"key": DECISION, "version": 1, "new": True,
                                      "affects": [{"key": "fault_dispatch", "version": 1}]}]
    assert deployed["processes"] == [{"key": "fault_dispatch", "version": 1, "new": True,
                                      "decisions": [{"key": DECISION, "version": 1}]}]
    before = report(users, "FAULT-OLD")["id"]  # started on v1, accepted (and decided) after the deploy

    summary = deployments.deploy(platform, SYSTEM, {DMN: two_hours()})

    assert summary["deployment_id"] is not None
    assert summary["decisions"] == [{"key": DECISION, "version": 2, "new": True,
                                     "affects": [{"key": "fault_dispatch", "version": 2}]}]
    assert summary["processes"] == [{"key": "fault_dispatch", "version": 2, "new": True, "rebuilt": True,
                                     "decisions": [{"key": DECISION, "version": 2}]}]
    after = report(users, "FAULT-NEW")["id"]
    assert (instance(users.monitor, before)["version"], instance(users.monitor, after)["version"]) == (1, 2)

    assert accept(users, before)["variables"]["repair_limit"] == "PT4H"
    assert accept(users, after)["variables"]["repair_limit"] == "PT2H"
    to_first_repair(users, before)
    to_first_repair(users, after)
    assert repair_escalates_after(platform, clock, users, after) == 2
    assert "一级修复超时督办" not in open_tasks(users.boss, before)
    assert repair_escalates_after(platform, clock, users, before) == 2  # 4 hours after its repair began


def test_the_rebuilt_version_keeps_the_deployed_bpmn_file(platform, deployed):
    deployments.deploy(platform, SYSTEM, {DMN: two_hours()})
    with platform.Session() as session:
        v1, v2 = session.query(ProcessDefinition).filter_by(key="fault_dispatch").order_by(ProcessDefinition.version)
        assert v2.file_id == v1.file_id and v2.deployment_id != v1.deployment_id
        assert r'\"PT2H\"' in v2.spec_json and r'\"PT2H\"' not in v1.spec_json
        assert (v2.starter_groups, v2.start_form_key, v2.message_starts) == (
            v1.starter_groups, v1.start_form_key, v1.message_starts)
        files = session.query(DeploymentFile.filename).filter_by(deployment_id=v2.deployment_id).all()
        assert [f for (f,) in files] == [DMN]  # the deployment holds what was sent


def test_redeploying_the_same_decision_creates_nothing(platform, deployed):
    again = deployments.deploy(platform, SYSTEM, {DMN: original(DMN)})

    assert again == {"deployment_id": None, "processes": [],
                     "decisions": [{"key": DECISION, "version": 1, "new": False, "affects": []}]}
    assert versions(platform, ProcessDefinition, "fault_dispatch") == [1]
    assert versions(platform, DecisionDefinition, DECISION) == [1]


def test_both_files_again_answer_unchanged_with_the_decision_they_use(platform, deployed):
    deployments.deploy(platform, SYSTEM, {DMN: two_hours()})

    again = deployments.deploy(platform, SYSTEM, {BPMN: original(BPMN), DMN: two_hours()})

    assert again["deployment_id"] is None
    assert again["processes"] == [{"key": "fault_dispatch", "version": 2, "new": False,
                                   "decisions": [{"key": DECISION, "version": 2}]}]


def test_a_decision_and_its_process_in_one_deployment(platform, deployed):
    bpmn = original(BPMN).replace('name="确定修复时限"'.encode(), 'name="确定修复时限 (表)"'.encode())

    summary = deployments.deploy(platform, SYSTEM, {BPMN: bpmn, DMN: two_hours()})

    assert summary["decisions"] == [{"key": DECISION, "version": 2, "new": True,
                                     "affects": [{"key": "fault_dispatch", "version": 2}]}]
    assert summary["processes"] == [{"key": "fault_dispatch", "version": 2, "new": True,
                                     "decisions": [{"key": DECISION, "version": 2}]}]
    with platform.Session() as session:
        latest = session.query(ProcessDefinition).filter_by(key="fault_dispatch", version=2).one()
        assert session.get(DeploymentFile, latest.file_id).deployment_id == summary["deployment_id"]


def test_a_decision_no_process_uses_affects_nothing(platform, deployed):
    other = original(DMN).replace(b'decision id="fault_repair_limit"', b'decision id="spare_limit"')

    summary = deployments.deploy(platform, SYSTEM, {"spare_limit.dmn": other})

    assert summary["decisions"] == [{"key": "spare_limit", "version": 1, "new": True, "affects": []}]
    assert summary["processes"] == []
    assert versions(platform, ProcessDefinition, "fault_dispatch") == [1]


def test_a_decision_changed_only_in_a_comment_versions_no_process(platform, deployed):
    commented = original(DMN).replace(b"<!-- ", b"<!-- (reviewed) ", 1)

    summary = deployments.deploy(platform, SYSTEM, {DMN: commented})

    assert summary["decisions"] == [{"key": DECISION, "version": 2, "new": True, "affects": []}]
    assert summary["processes"] == []  # the table in its spec is the same


def test_a_broken_table_deploys_nothing_and_names_its_cell(platform, deployed):
    broken = original(DMN).replace(GROUP_BANDWIDTH_4H,
                                   b'<outputEntry id="rule_1_limit"><text>"PT2H</text></outputEntry>')

    with pytest.raises(ValidationFailed) as refused:
        deployments.deploy(platform, SYSTEM, {DMN: broken})

    problems = refused.value.details["problems"]
    assert [(p["file"], p["element_id"]) for p in problems] == [(DMN, "rule_1_limit")]
    assert "the output entry of rule 1 is not a valid expression" in problems[0]["message"]
    assert versions(platform, ProcessDefinition, "fault_dispatch") == [1]


def test_feel_tests_are_refused_with_their_rule(platform, deployed):
    feel = original(DMN).replace(b'<inputEntry id="rule_2_level"><text>"provincial"</text>',
                                 b'<inputEntry id="rule_2_level"><text>not("group")</text>')
    feel = feel.replace(b'<inputEntry id="rule_3_level"><text>"local_a"</text>',
                        b'<inputEntry id="rule_3_level"><text>"local_a", "local_b"</text>')

    with pytest.raises(ValidationFailed) as refused:
        deployments.deploy(platform, SYSTEM, {DMN: feel})

    problems = {p["element_id"]: p["message"] for p in refused.value.details["problems"]}
    assert set(problems) == {"rule_2_level", "rule_3_level"}
    assert "input entry of rule 2" in problems["rule_2_level"] and "!=" in problems["rule_2_level"]
    assert "input entry of rule 3" in problems["rule_3_level"] and "in (" in problems["rule_3_level"]


def test_a_called_process_that_uses_the_decision_versions_its_caller_too(platform, deployed):
    caller = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_caller"
                  targetNamespace="http://towerflow.example/bpmn">
  <bpmn:process id="fault_caller" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call" calledElement="fault_dispatch"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""
    first = deployments.deploy(platform, SYSTEM, {"fault_caller.bpmn": caller})
    assert first["processes"] == [{"key": "fault_caller", "version": 1, "new": True,
                                   "decisions": [{"key": DECISION, "version": 1}]}]

    summary = deployments.deploy(platform, SYSTEM, {DMN: two_hours()})

    assert sorted((p["key"], p["version"]) for p in summary["processes"]) == [
        ("fault_caller", 2), ("fault_dispatch", 2)]
    assert sorted(a["key"] for a in summary["decisions"][0]["affects"]) == ["fault_caller", "fault_dispatch"]


def test_plan_says_what_a_deploy_would_do(platform, deployed):
    planned = deployments.plan(platform, {DMN: two_hours()})
    assert planned == {"problems": [], "decisions": [{"key": DECISION, "new": True,
                                                      "affects": [{"key": "fault_dispatch"}]}],
                       "processes": [{"key": "fault_dispatch", "new": True, "rebuilt": True,
                                      "decisions": [{"key": DECISION}]}]}
    assert deployments.plan(platform, {DMN: original(DMN)})["processes"] == []
    assert versions(platform, DecisionDefinition, DECISION) == [1]


def test_a_process_deployed_meanwhile_is_not_overwritten(platform, deployed, monkeypatch):
    """The lint read v1's file; another deployment stores v2 before this one writes: refused."""
    real_lint = deployments.lint
    changed = original(BPMN).replace('name="确定修复时限"'.encode(), 'name="确定修复时限 (新)"'.encode())

    def lint_then_someone_deploys(pf, files):
        result = real_lint(pf, files)
        if DMN in files:
            deployments.deploy(pf, SYSTEM, {BPMN: changed})
        return result

    monkeypatch.setattr(deployments, "lint", lint_then_someone_deploys)
    with pytest.raises(Conflict):
        deployments.deploy(platform, SYSTEM, {DMN: two_hours()})
    assert versions(platform, ProcessDefinition, "fault_dispatch") == [1, 2]
    assert versions(platform, DecisionDefinition, DECISION) == [1]


# --- the API ----------------------------------------------------------------------------------

def test_the_api_answer_names_the_affected_processes(deployed, users):
    r = upload(users.designer, {DMN: two_hours()})

    assert r.status_code == 201, r.json
    assert r.json["decisions"] == [{"key": DECISION, "version": 2, "new": True,
                                    "affects": [{"key": "fault_dispatch", "version": 2}]}]
    assert r.json["processes"] == [{"key": "fault_dispatch", "version": 2, "new": True, "rebuilt": True,
                                    "decisions": [{"key": DECISION, "version": 2}]}]


def test_the_api_documents_the_new_fields(app):
    spec = app.test_client().get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    result = schemas["DeploymentResult"]["properties"]
    assert "affects" in schemas[result["decisions"]["items"]["$ref"].rsplit("/", 1)[-1]]["properties"]
    process = schemas[result["processes"]["items"]["$ref"].rsplit("/", 1)[-1]]["properties"]
    assert {"decisions", "rebuilt"} <= set(process)


# --- the command line -------------------------------------------------------------------------

def test_towerflow_deploy_says_which_decision_each_process_uses(database_url, tmp_path):
    from click.testing import CliRunner

    from web.cli import main

    def deploy(*names: str) -> str:
        result = CliRunner().invoke(main, ["--database", database_url, "deploy", *names], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    CliRunner().invoke(main, ["--database", database_url, "init-db"], catch_exceptions=False)
    (tmp_path / BPMN).write_bytes(original(BPMN))
    (tmp_path / DMN).write_bytes(original(DMN))
    first = deploy(str(tmp_path))
    assert f"fault_dispatch v1 deployed (uses {DECISION} v1)" in first
    assert f"{DECISION} v1 deployed (affects fault_dispatch v1)" in first
    (tmp_path / "edited").mkdir()
    (tmp_path / "edited" / DMN).write_bytes(two_hours())
    second = deploy(str(tmp_path / "edited" / DMN))
    assert f"fault_dispatch v2 deployed (uses {DECISION} v2; rebuilt from its deployed file" in second
    assert f"{DECISION} v2 deployed (affects fault_dispatch v2)" in second

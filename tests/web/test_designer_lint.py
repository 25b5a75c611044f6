"""The modeler's lint and deploy endpoints say the engine's problems in the page's language,
with their severity: warnings are listed but never refuse a deployment."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from helpers import read
from test_designer_pages import PASSWORD, Browser

import forms
from engine import identity
from engine.definitions.parsing import MAX_FILE_BYTES, parse_files
from web.ui.problem_text import MESSAGES, localized_problem

NO_FORM = read("ui_des_order.bpmn").decode().replace(
    '<spiffworkflow:property name="formKey" value="approval" />', "").replace(
    '<spiffworkflow:property name="candidateGroups" value="ops" />', "")
BROKEN = read("ui_des_broken.bpmn").decode()


@pytest.fixture
def designer(app, platform):
    def make(lang: str) -> Browser:
        with platform.transaction() as session:
            identity.add_user(session, f"des_{lang}", PASSWORD, ["designer"], None)
        signed_in = Browser(app.test_client()).sign_in(f"des_{lang}")
        signed_in.client.get(f"/lang/{lang}")
        return signed_in

    return make


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh", "表单 no_such_form 未注册"), ("en", "The form no_such_form is not registered")])
def test_lint_says_the_engines_errors_in_the_pages_language(designer, lang, expected):
    r = designer(lang).post_json("/designer/lint", {"filename": "ui_des_broken.bpmn", "xml": BROKEN})

    assert r.status_code == 200 and r.json["ok"] is False
    problem = r.json["problems"][0]
    assert problem["element_id"] == "review" and problem["severity"] == "error"
    assert problem["code"] == "unknown_form" and problem["message"].startswith(expected), problem


@pytest.mark.parametrize(("lang", "expected"), [("zh", "用户任务没有表单"), ("en", "The user task has no form")])
def test_lint_lists_warnings_and_still_says_ok(designer, lang, expected):
    r = designer(lang).post_json("/designer/lint", {"filename": "ui_des_order.bpmn", "xml": NO_FORM})

    assert r.status_code == 200 and r.json["ok"] is True
    assert {(p["element_id"], p["severity"], p["code"]) for p in r.json["problems"]} == {
        ("review", "warning", "user_task_no_form"), ("review", "warning", "user_task_no_candidates")}
    assert any(p["message"].startswith(expected) for p in r.json["problems"])


def test_deploy_with_only_warnings_deploys_and_returns_them(designer):
    r = designer("zh").post_json("/designer/deploy", {"filename": "ui_des_order.bpmn", "xml": NO_FORM})

    assert r.status_code == 201, r.json
    assert [p["version"] for p in r.json["processes"]] == [1]
    assert {w["code"] for w in r.json["warnings"]} == {"user_task_no_form", "user_task_no_candidates"}
    assert all(w["severity"] == "warning" for w in r.json["warnings"])


def test_deploy_refuses_errors_in_the_pages_language(designer):
    r = designer("zh").post_json("/designer/deploy", {"filename": "ui_des_broken.bpmn", "xml": BROKEN})

    assert r.status_code == 422
    assert [p["severity"] for p in r.json["problems"]] == ["error"]
    assert "未注册" in r.json["problems"][0]["message"]


def test_the_api_deploy_answer_lists_warnings_and_its_422_only_errors(api):
    designer = api("api_des", ["designer"])
    upload = (io.BytesIO(NO_FORM.encode()), "ui_des_order.bpmn")
    r = designer.post("/api/v1/deployments", content_type="multipart/form-data", data={"files": [upload]})

    assert r.status_code == 201, r.json
    assert sorted(w["code"] for w in r.json["warnings"]) == ["user_task_no_candidates", "user_task_no_form"]
    assert all(w["severity"] == "warning" and w["element_id"] == "review" for w in r.json["warnings"])
    broken = (io.BytesIO(BROKEN.encode()), "ui_des_broken.bpmn")
    refused = designer.post("/api/v1/deployments", content_type="multipart/form-data", data={"files": [broken]})
    assert refused.status_code == 422
    assert all(p.get("severity", "error") == "error" for p in refused.json["error"]["details"]["problems"])


def test_towerflow_lint_prints_warnings_and_exits_zero(database_url, tmp_path):
    from click.testing import CliRunner

    from web.cli import main

    (tmp_path / "ui_des_order.bpmn").write_text(NO_FORM)
    result = CliRunner().invoke(main, ["--database", database_url, "lint", str(tmp_path / "ui_des_order.bpmn")])

    assert result.exit_code == 0, result.output
    assert "ui_des_order.bpmn:" in result.output and "warning: [review] the user task has no form" in result.output
    assert "1 process(es), 0 decision(s), 2 warning(s)" in result.output


# --- every problem has a code, and the designer reads each in the page's language ------

LINT_DATA = Path(__file__).parents[1] / "data" / "lint"
RELIABILITY_DATA = Path(__file__).parents[1] / "reliability" / "data"
CJK = re.compile(r"[\u4e00-\u9fff]")
DEFINITIONS = ('<?xml version="1.0" encoding="UTF-8"?>\n'
               '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
               'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="t">\n'
               '{body}\n</bpmn:definitions>\n')
PROPS = ('<spiffworkflow:properties><spiffworkflow:property name="formKey" value="approval" />'
         '<spiffworkflow:property name="candidateGroups" value="ops" /></spiffworkflow:properties>')
FLOW = "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>"


def process(task: str, executable: str = "true", f2: str = "") -> str:
    return DEFINITIONS.format(body=f"""<bpmn:process id="p" isExecutable="{executable}">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {task}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end">{f2}</bpmn:sequenceFlow>
  </bpmn:process>""")


def user_task(extensions: str = "", after: str = "") -> str:
    return (f'<bpmn:userTask id="task"><bpmn:extensionElements>{PROPS}{extensions}</bpmn:extensionElements>'
            f"{FLOW}{after}</bpmn:userTask>")


def dmn(*pairs: tuple[str, str]) -> str:
    text = (LINT_DATA / "good" / "site_fee.dmn").read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text


def no_table() -> str:
    text = dmn()
    start, end = text.index("<decisionTable"), text.index("</decisionTable>") + len("</decisionTable>")
    return text[:start] + '<literalExpression id="lit"><text>1</text></literalExpression>' + text[end:]


def broken_cases() -> dict[str, dict[str, bytes]]:
    """Every broken file of the test data, and one case for each other problem the lint gives."""
    cases = {path.name: {path.name: path.read_bytes()} for path in sorted((LINT_DATA / "broken").iterdir())}
    cases.update({path.name: {path.name: path.read_bytes()} for path in sorted(RELIABILITY_DATA.glob("*.bpmn"))})
    survey = (LINT_DATA / "good" / "site_survey.bpmn").read_bytes()
    inline = {
        "notes.txt": "hello",
        "empty.bpmn": "",
        "not_bpmn.bpmn": "<notes>hello</notes>",
        "not_dmn.dmn": "<notes>hello</notes>",
        "not_executable.bpmn": process(user_task(), executable="false"),
        "no_script.bpmn": process(f"<bpmn:scriptTask id=\"task\">{FLOW}</bpmn:scriptTask>"),
        "bad_pre_script.bpmn": process(user_task("<spiffworkflow:preScript>x = (</spiffworkflow:preScript>")),
        "bad_loop.bpmn": process(user_task(after="<bpmn:standardLoopCharacteristics><bpmn:loopCondition>done =="
                                                 "</bpmn:loopCondition></bpmn:standardLoopCharacteristics>")),
        "empty_condition.bpmn": process(user_task(), f2="<bpmn:conditionExpression>  </bpmn:conditionExpression>"),
        "bad_retry.bpmn": process(
            '<bpmn:serviceTask id="task"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="core.echo">'
            '<spiffworkflow:parameters /><spiffworkflow:retry retries="50" /></spiffworkflow:serviceTaskOperator>'
            "</bpmn:extensionElements>"
            f"{FLOW}</bpmn:serviceTask>"),
        "no_call.bpmn": process(f'<bpmn:callActivity id="task">{FLOW}</bpmn:callActivity>'),
        "unknown_call.bpmn": process(f'<bpmn:callActivity id="task" calledElement="nowhere">{FLOW}'
                                     "</bpmn:callActivity>"),
        "no_decision.bpmn": process(f'<bpmn:businessRuleTask id="task">{FLOW}</bpmn:businessRuleTask>'),
        "due.bpmn": process(user_task().replace(
            '<spiffworkflow:property name="formKey"', '<spiffworkflow:property name="dueDate" value="today +" />'
            '<spiffworkflow:property name="formKey"')),
        "no_table.dmn": no_table(),
        "aggregation.dmn": dmn(('hitPolicy="UNIQUE"', 'hitPolicy="COLLECT" aggregation="SUM"')),
        "cells.dmn": dmn(("<text>tower_type</text>", "<text>tower_type ==</text>"),
                         ('<text>"monopole"</text>', '<text>not("monopole")</text>'),
                         ("<text>100</text>", "<text>100 +</text>")),
        "list_entry.dmn": dmn(('<text>"monopole"</text>', '<text>"monopole", "lattice"</text>')),
        "bad_entry.dmn": dmn(('<text>"monopole"</text>', "<text>=== 3</text>")),
        "bad_end.bpmn": process(user_task()).replace(
            '<bpmn:endEvent id="end">', '<bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="endState" value="canceled" />'
            '<spiffworkflow:property name="endReason" value="${reason +}" />'
            "</spiffworkflow:properties></bpmn:extensionElements>"),
        "subprocess_end.bpmn": process(
            '<bpmn:subProcess id="task">' + FLOW + '<bpmn:startEvent id="s0"><bpmn:outgoing>s1</bpmn:outgoing>'
            '</bpmn:startEvent><bpmn:endEvent id="s_end"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="endState" value="cancelled" /></spiffworkflow:properties>'
            '</bpmn:extensionElements><bpmn:incoming>s1</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="s1" sourceRef="s0" targetRef="s_end" /></bpmn:subProcess>'),
    }
    cases.update({name: {name: text.encode()} for name, text in inline.items()})
    cases["duplicate"] = {"site_survey.bpmn": survey, "copy.bpmn": survey}
    cases["duplicate_decision"] = {"site_fee.dmn": dmn().encode(), "copy.dmn": dmn().encode()}
    utf16 = survey.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    cases["utf16.bpmn"] = {"utf16.bpmn": utf16}
    padding = b"<!--" + b"x" * MAX_FILE_BYTES + b"-->\n"
    cases["huge.bpmn"] = {"huge.bpmn": survey.replace(b"<bpmn:def", padding + b"<bpmn:def")}
    return cases


def lint_problems(files: dict[str, bytes]) -> list[dict]:
    result = parse_files(files, form_keys=set(forms.FORMS), operators={"core.echo"})
    return [p.as_dict() for p in result.problems + result.warnings]


BROKEN_CASES = broken_cases()


@pytest.mark.parametrize("case", sorted(BROKEN_CASES))
def test_every_lint_problem_has_a_code_the_designer_knows(case):
    problems = lint_problems(BROKEN_CASES[case])

    if not case.startswith("rel_"):
        assert problems, case
    for problem in problems:
        assert problem.get("code") in MESSAGES, problem


def test_the_broken_cases_reach_every_kind_of_problem():
    codes = {p["code"] for files in BROKEN_CASES.values() for p in lint_problems(files)}

    unreached = {"xml_unreadable", "empty_file", "spiff_parse_error", "spec_not_serializable", "flow_sourceRef"}
    assert codes >= set(MESSAGES) - unreached, sorted(set(MESSAGES) - codes)


@pytest.mark.parametrize("case", sorted(BROKEN_CASES))
def test_every_lint_problem_reads_in_chinese_and_in_english(app, case):
    problems = lint_problems(BROKEN_CASES[case])

    for problem in problems:
        with app.test_request_context("/?lang=en"):
            english = localized_problem(problem)["message"]
        with app.test_request_context("/?lang=zh"):
            chinese = localized_problem(problem)["message"]
        assert not CJK.search(english), english
        assert chinese != english and chinese != problem["message"], chinese
        assert CJK.search(chinese), chinese


BPMN_CASES = sorted(name for name, files in BROKEN_CASES.items() if list(files) == [name]
                    and name.endswith(".bpmn") and name not in {"huge.bpmn", "utf16.bpmn", "empty.bpmn"})


def test_the_lint_endpoint_says_every_problem_in_chinese_on_a_chinese_page(designer):
    browser = designer("zh")
    seen = 0
    for name in BPMN_CASES:
        xml = BROKEN_CASES[name][name].decode()
        r = browser.post_json("/designer/lint", {"filename": name, "xml": xml})
        assert r.status_code == 200, (name, r.json)
        for problem in r.json["problems"]:
            seen += 1
            assert problem["code"] in MESSAGES, problem
            assert CJK.search(problem["message"]), (name, problem)
    assert seen > len(BPMN_CASES) // 2


def test_the_lint_endpoint_keeps_english_on_an_english_page(designer):
    r = designer("en").post_json("/designer/lint", {"filename": "malformed.bpmn",
                                                    "xml": BROKEN_CASES["malformed.bpmn"]["malformed.bpmn"].decode()})

    problem = r.json["problems"][0]
    assert problem["code"] == "xml_not_well_formed" and "startEvnt" in problem["params"]["detail"]
    assert problem["message"].startswith("The XML is not well-formed (") and not CJK.search(problem["message"])

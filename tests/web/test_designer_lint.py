"""The modeler's lint and deploy endpoints say the engine's problems in the page's language,
with their severity: warnings are listed but never refuse a deployment."""

from __future__ import annotations

import io

import pytest
from helpers import read
from test_designer_pages import PASSWORD, Browser

from engine import identity

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

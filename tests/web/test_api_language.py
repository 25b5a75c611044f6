"""The API speaks codes, and its words in the language of Accept-Language: English when none is asked
for (the engine's own messages, marshmallow's own rule texts), Chinese for zh; pages keep the session's
language whatever the browser asks for."""

from __future__ import annotations

import io

from helpers import deploy, start
from sqlalchemy import func, select

from engine import identity
from engine.models import ProcessInstance

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def test_an_error_message_follows_accept_language(api, supervisor):
    plain = supervisor.get("/api/v1/process-instances/999999")
    english = supervisor.get("/api/v1/process-instances/999999", headers=EN)
    chinese = supervisor.get("/api/v1/process-instances/999999", headers=ZH)
    assert plain.status_code == english.status_code == chinese.status_code == 404
    assert plain.json["error"]["message"] == english.json["error"]["message"] == \
        "process instance 999999 does not exist"
    assert chinese.json["error"] == {"code": "not_found", "message": "流程实例 999999 不存在", "details": None}


def test_a_language_the_platform_does_not_speak_gets_english(supervisor):
    answer = supervisor.get("/api/v1/process-instances/999999", headers={"Accept-Language": "fr-FR"})
    assert answer.json["error"]["message"] == "process instance 999999 does not exist"


def test_a_state_named_in_a_refusal_is_said_in_words(platform, api, supervisor):
    deploy(platform, "ui_survey.bpmn")
    dispatcher = api("disp", ["dispatcher"])
    instance = start(dispatcher, "ui_survey", "BK-1", site_name="一号站")
    terminated = supervisor.post(f"/api/v1/process-instances/{instance['id']}/terminate",
                                 json={"reason": "重复立项"})
    assert terminated.status_code == 200, terminated.json
    english = supervisor.post(f"/api/v1/process-instances/{instance['id']}/suspend", json={})
    chinese = supervisor.post(f"/api/v1/process-instances/{instance['id']}/suspend", json={}, headers=ZH)
    assert english.status_code == chinese.status_code == 409
    assert english.json["error"]["message"] == f"instance {instance['id']} is terminated and cannot be suspended"
    assert chinese.json["error"]["message"] == f"流程实例 {instance['id']} 处于“已终止”状态，不能挂起"
    assert chinese.json["error"]["code"] == "conflict"  # codes never change with the language


def test_form_rule_messages_in_422_details_follow_accept_language(platform, api):
    deploy(platform, "ui_survey.bpmn")
    dispatcher = api("disp", ["dispatcher"])
    body = {"process_key": "ui_survey", "variables": {"urgency": "whenever"}}
    english = dispatcher.post("/api/v1/process-instances", json=body)
    chinese = dispatcher.post("/api/v1/process-instances", json=body, headers=ZH)
    assert english.status_code == chinese.status_code == 422
    assert english.json["error"]["details"]["fields"] == {
        "site_name": ["Missing data for required field."], "urgency": ["Must be one of: normal, urgent."]}
    assert chinese.json["error"]["message"] == "表单有错误"
    assert chinese.json["error"]["details"]["fields"] == {
        "site_name": ["此项为必填项。"], "urgency": ["请从给定选项中选择。"]}
    with platform.Session() as session:  # refused: nothing was started
        assert session.scalar(select(func.count(ProcessInstance.id))) == 0


def test_lint_problems_of_a_refused_deployment_follow_accept_language(api):
    designer = api("dora", ["designer"])
    broken = b"<?xml version=\"1.0\"?><definitions"
    english = designer.post("/api/v1/deployments", data={"files": (io.BytesIO(broken), "x.bpmn")},
                            content_type="multipart/form-data")
    chinese = designer.post("/api/v1/deployments", data={"files": (io.BytesIO(broken), "x.bpmn")},
                            content_type="multipart/form-data", headers=ZH)
    assert english.status_code == chinese.status_code == 422
    assert english.json["error"]["message"] == "1 problem(s) found; nothing was deployed"
    assert chinese.json["error"]["message"] == "发现 1 个问题，未部署任何内容"
    problem_en = english.json["error"]["details"]["problems"][0]
    problem_zh = chinese.json["error"]["details"]["problems"][0]
    assert problem_en["code"] == problem_zh["code"] == "xml_not_well_formed"
    assert problem_en["message"].startswith("the XML is not well-formed")
    assert problem_zh["message"].startswith("XML 格式不正确")


def test_an_unknown_route_and_werkzeug_errors_are_not_english_in_chinese(api, supervisor):
    chinese = supervisor.get("/api/v1/no-such-thing", headers=ZH)
    english = supervisor.get("/api/v1/no-such-thing")
    assert chinese.status_code == english.status_code == 404
    assert chinese.json["error"]["code"] == english.json["error"]["code"] == "not_found"
    assert chinese.json["error"]["message"] == "您要找的页面或记录不存在，或您无权查看。"
    assert "not found" in english.json["error"]["message"].lower()


def test_pages_keep_the_session_language_whatever_the_browser_asks(app, platform):
    with platform.transaction() as session:
        identity.add_user(session, "li", "password123", ["supervisor"])
    client = app.test_client()
    headers = {**EN, "Accept": "text/html"}
    login = client.get("/login", headers=headers).get_data(as_text=True)
    assert "登录" in login and 'lang="zh-CN"' in login  # Chinese by default, even for an English browser
    client.get("/lang/en", headers=headers)
    assert 'lang="en"' in client.get("/login", headers={**ZH, "Accept": "text/html"}).get_data(as_text=True)


def test_tasks_and_instances_carry_words_beside_their_codes(platform, api, supervisor):
    deploy(platform, "ui_survey.bpmn")
    dispatcher = api("disp", ["dispatcher"])
    instance = start(dispatcher, "ui_survey", "BK-2", site_name="二号站")
    english = supervisor.get(f"/api/v1/process-instances/{instance['id']}").json
    chinese = supervisor.get(f"/api/v1/process-instances/{instance['id']}", headers=ZH).json
    assert (english["process_key"], english["state"]) == (chinese["process_key"], chinese["state"]) == \
        ("ui_survey", "waiting")
    assert (english["process_label"], english["state_label"]) == ("站址筛查", "Waiting")  # the diagram's own name
    assert (chinese["process_label"], chinese["state_label"]) == ("站址筛查", "等待中")
    task = api("rm", ["regional_manager"]).get("/api/v1/tasks", headers=ZH).json["items"][0]
    assert (task["process_key"], task["process_label"], task["state"], task["state_label"]) == \
        ("ui_survey", "站址筛查", "open", "待处理")

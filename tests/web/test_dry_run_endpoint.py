"""POST /designer/dry-run: designers only, with the CSRF token; the steps as JSON, nothing stored."""

from __future__ import annotations

from helpers import read
from sqlalchemy import func, select
from test_designer_pages import browser  # noqa: F401  (the fixture)

from engine.models import AuditEvent, Job, ProcessInstance

URL = "/designer/dry-run"


def body(**extra) -> dict:
    return {"filename": "dry_run.bpmn", "xml": read("dry_run.bpmn").decode(),
            "sample": {"start": {"comment": "x"}, "tasks": {"review": {"approved": True}}}, **extra}


def test_a_designer_gets_the_steps(browser, platform):  # noqa: F811
    des = browser("des", ["designer"])
    r = des.post_json(URL, body())
    assert r.status_code == 200, r.text
    assert r.json["ok"] and r.json["state"] == "completed" and r.json["process_key"] == "dry_run"
    assert [s["element_id"] for s in r.json["steps"]][-1] == "done"
    assert r.json["variables"]["notified"] == {"status": "dry-run"}
    with platform.Session() as db:
        for model in (ProcessInstance, Job, AuditEvent):
            assert db.scalar(select(func.count()).select_from(model)) == 0


def test_a_non_designer_is_refused(browser):  # noqa: F811
    clerk = browser("wang", ["clerk"])
    assert clerk.post_json(URL, body()).status_code == 403


def test_without_the_csrf_token_it_is_refused(browser):  # noqa: F811
    des = browser("des", ["designer"])
    assert des.post_json(URL, body(), token=False).status_code == 400


def test_problems_and_bad_samples(browser):  # noqa: F811
    des = browser("des", ["designer"])
    bad = body(xml=read("dry_run.bpmn").decode().replace('id="core.echo"', 'id="no.such_op"'))
    r = des.post_json(URL, bad)
    assert r.status_code == 422 and not r.json["ok"]
    assert any(p["element_id"] == "notify" for p in r.json["problems"])
    assert des.post_json(URL, body(sample=[1])).status_code == 400
    assert des.post_json(URL, body(sample={"tasks": {"review": 3}})).status_code == 400
    assert des.post_json(URL, {"filename": "x.bpmn"}).status_code == 400

"""Request ids and JSON log lines: a real ``towerflow serve`` and ``towerflow worker`` writing
JSON, the id sent back, stored with the job the request queued, and in the worker's lines."""

from __future__ import annotations

import json
import os
import re

from observe_help import http, live_server
from reliability.relhelp import Server, Worker, wait_until
from sqlalchemy import select

from engine import identity
from engine.definitions import deployments
from engine.models import Job
from engine.principal import SYSTEM

FAILS_LATER = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_h2_log"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="h2_log" name="Wait a second, then fail" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="pause" name="Wait">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="ted"><bpmn:timeDuration>"PT1S"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="broken" name="Broken script">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>value = {}["missing"]</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pause"/>
    <bpmn:sequenceFlow id="f2" sourceRef="pause" targetRef="broken"/>
    <bpmn:sequenceFlow id="f3" sourceRef="broken" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def json_lines(text: str) -> list[dict]:
    """The JSON log lines of a process's output (the CLI's own messages are plain text)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_request_id_follows_the_work_from_the_server_into_the_worker(platform, database_url, tmp_path):
    deployments.deploy(platform, SYSTEM, {"h2_log.bpmn": FAILS_LATER})
    with platform.transaction() as session:
        identity.add_user(session, "wang", "password123", ["clerk"], None)
        token = identity.create_token(session, "wang")
    env = {**os.environ, "TOWERFLOW_LOG_FORMAT": "json", "TOWERFLOW_SECRET_KEY": "log-tests", "PYTHONUNBUFFERED": "1"}
    server = Server(database_url, env, tmp_path / "server.log", clock=False).start()
    worker = Worker(database_url, env, tmp_path / "worker.log").start()
    rid = "order-7f3a-0001"
    try:
        status, headers, body = http("POST", f"{server.base}/api/v1/process-instances", {"process_key": "h2_log"},
                                     {"Authorization": f"Bearer {token}", "X-Request-Id": rid})
        assert status == 201, body
        assert headers["X-Request-Id"] == rid

        def failed_job_logged() -> bool:
            return any(line.get("request_id") == rid and line["message"].startswith("job ")
                       for line in json_lines(worker.output()))

        wait_until(failed_job_logged, 60, lambda: f"no worker line with the request id:\n{worker.output()}")
    finally:
        worker.stop()
        server.stop()

    served = json_lines(server.output())
    assert served, server.output()
    access = [line for line in served if line["logger"] == "towerflow.access" and line.get("request_id") == rid]
    assert [(line["method"], line["path"], line["status"]) for line in access] == \
        [("POST", "/api/v1/process-instances", 201)]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in served)

    failure = next(line for line in json_lines(worker.output()) if line.get("request_id") == rid)
    assert failure["level"] == "INFO" and "KeyError" in failure["exc_info"]
    with platform.Session() as session:
        stored = session.scalars(select(Job.request_id).where(Job.instance_id == body["id"])).all()
    assert stored and set(stored) == {rid}


def test_a_request_id_that_does_not_look_sane_is_replaced(app):
    with live_server(app) as base:
        kept = http("GET", f"{base}/healthz", headers={"X-Request-Id": "lb-42.a:b_c"})[1]["X-Request-Id"]
        spaced = http("GET", f"{base}/healthz", headers={"X-Request-Id": "two words"})[1]["X-Request-Id"]
        long = http("GET", f"{base}/healthz", headers={"X-Request-Id": "x" * 65})[1]["X-Request-Id"]
        made = http("GET", f"{base}/healthz")[1]["X-Request-Id"]
    assert kept == "lb-42.a:b_c"
    for generated in (spaced, long, made):
        assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert len({spaced, long, made}) == 3

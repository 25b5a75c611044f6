"""/metrics over real HTTP: each series moves when its work happens, and several real
``towerflow serve`` processes sharing a metrics folder add up."""

from __future__ import annotations

import http.cookiejar as http_cookies
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

from helpers import set_settings
from observe_help import free_port, http, live_server, names, scrape, value
from reliability.relhelp import Server

from engine import identity
from engine.definitions import deployments
from engine.principal import SYSTEM
from engine.runtime import jobs
from handlers.outbound import call_system

WORK = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_h2_work"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="h2_work" name="Approve, wait, call a system" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="approve" name="Approve">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="comment"/>
        <spiffworkflow:property name="candidateGroups" value="clerk"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:intermediateCatchEvent id="pause" name="Wait an hour">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="ted"><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="ping" name="Tell the system">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="h2.ping" resultVariable="answer">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="note" type="str" value="'hello'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="pause"/>
    <bpmn:sequenceFlow id="f3" sourceRef="pause" targetRef="ping"/>
    <bpmn:sequenceFlow id="f4" sourceRef="ping" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def ping(params, call):
    """Calls the system ``h2sys`` through the outbox, as the project's handlers do."""
    return call_system("h2sys", "ping", {}, call)


def test_each_series_moves_when_its_work_happens(platform, services, clock, app):
    services.add("h2.ping", ping)
    set_settings(platform, TOWERFLOW_H2SYS_URL=f"http://127.0.0.1:{free_port()}/ping")  # nobody listens
    deployments.deploy(platform, SYSTEM, {"h2_work.bpmn": WORK})
    with platform.transaction() as session:
        identity.add_user(session, "wang", "password123", ["clerk"], None)
        token = identity.create_token(session, "wang")
    auth = {"Authorization": f"Bearer {token}"}

    with live_server(app) as base:
        before = scrape(base)
        assert {"towerflow_step_duration_seconds_count",
                "towerflow_timer_lateness_seconds_count", "towerflow_jobs_due", "towerflow_jobs_pending",
                "towerflow_job_oldest_due_age_seconds", "towerflow_signin_failures_total",
                "towerflow_signin_throttled_total", "towerflow_database_up"} <= names(before)
        assert value(before, "towerflow_database_up") == 1

        status, _, started = http("POST", f"{base}/api/v1/process-instances", {"process_key": "h2_work"}, auth)
        assert status == 201, started
        status, _, tasks = http("GET", f"{base}/api/v1/tasks?candidate=me", headers=auth)
        task_id = tasks["items"][0]["id"]
        assert http("POST", f"{base}/api/v1/tasks/{task_id}/claim", headers=auth)[0] == 200
        status, _, body = http("POST", f"{base}/api/v1/tasks/{task_id}/complete", {"data": {"comment": "ok"}}, auth)
        assert status == 200, body

        waiting = scrape(base)
        route = "/api/v1/tasks/<int:task_id>/complete"
        assert value(waiting, "towerflow_http_request_duration_seconds_count", route=route, status="200") == \
            value(before, "towerflow_http_request_duration_seconds_count", route=route, status="200") + 1
        assert value(waiting, "towerflow_step_duration_seconds_count") >= \
            value(before, "towerflow_step_duration_seconds_count") + 2  # the start and the completion
        assert value(waiting, "towerflow_jobs_pending", kind="timer") == 1
        assert value(waiting, "towerflow_jobs_due", kind="timer") == 0

        clock.advance(timedelta(hours=2))
        due = scrape(base)
        assert value(due, "towerflow_jobs_due", kind="timer") == 1
        assert value(due, "towerflow_job_oldest_due_age_seconds") >= 3000  # due an hour ago on the test's clock

        jobs.run_due_jobs(platform)  # the worker's round: the timer fires an hour late
        fired = scrape(base)
        assert value(fired, "towerflow_timer_lateness_seconds_count") == \
            value(before, "towerflow_timer_lateness_seconds_count") + 1
        assert value(fired, "towerflow_timer_lateness_seconds_sum") - \
            value(before, "towerflow_timer_lateness_seconds_sum") >= 3000
        assert value(fired, "towerflow_jobs_run_total", kind="timer", outcome="done") >= 1

        jobs.run_due_jobs(platform)  # the call fails: nobody listens; a retry is queued
        retrying = scrape(base)
        assert value(retrying, "towerflow_jobs_run_total", kind="service", outcome="failed") == \
            value(before, "towerflow_jobs_run_total", kind="service", outcome="failed") + 1
        assert value(retrying, "towerflow_outbox_pending", system="h2sys") == 1
        assert value(retrying, "towerflow_outbox_failed", system="h2sys") == 0
        assert value(retrying, "towerflow_incidents_open", process="h2_work") == 0

        for _ in range(5):  # the other attempts, each after its backoff
            clock.advance(timedelta(hours=1))
            jobs.run_due_jobs(platform)
        given_up = scrape(base)
        assert value(given_up, "towerflow_incidents_open", process="h2_work") == 1
        assert value(given_up, "towerflow_outbox_failed", system="h2sys") == 1
        assert value(given_up, "towerflow_outbox_pending", system="h2sys") == 0

        statuses = [http("POST", f"{base}/api/v1/auth/token", {"username": "wang", "password": "wrong"})[0]
                    for _ in range(identity.FREE_LOGIN_FAILURES + 1)]
        assert statuses[0] == 401 and statuses[-1] == 429
        signed = scrape(base)
        assert value(signed, "towerflow_signin_failures_total", via="api") == \
            value(before, "towerflow_signin_failures_total", via="api") + identity.FREE_LOGIN_FAILURES
        assert value(signed, "towerflow_signin_throttled_total", via="api") == \
            value(before, "towerflow_signin_throttled_total", via="api") + 1


def test_two_serve_processes_sharing_a_metrics_folder_add_up(platform, database_url, tmp_path):
    folder = tmp_path / "metrics"
    env = {**os.environ, "TOWERFLOW_METRICS_DIR": str(folder), "TOWERFLOW_SECRET_KEY": "metrics-tests",
           "PYTHONUNBUFFERED": "1"}
    first = Server(database_url, env, tmp_path / "first.log", clock=False).start()
    second = Server(database_url, env, tmp_path / "second.log", clock=False).start()
    try:
        for _ in range(3):
            assert http("GET", f"{first.base}/healthz")[0] == 200
        for _ in range(5):
            assert http("GET", f"{second.base}/healthz")[0] == 200
        both = scrape(first.base)
        assert value(both, "towerflow_http_request_duration_seconds_count", route="/healthz") == 8
        assert value(both, "towerflow_processes", role="serve") == 2
        assert scrape(second.base).count("towerflow_http_request_duration_seconds_count{") >= 1

        second.kill9()  # what it counted stays; it no longer counts as alive
        after = scrape(first.base)
        assert value(after, "towerflow_http_request_duration_seconds_count", route="/healthz") == 8
        assert value(after, "towerflow_processes", role="serve") == 1
    finally:
        first.stop()
        second.stop()


def test_sign_in_failures_on_the_page_are_counted(platform, app):
    with platform.transaction() as session:
        identity.add_user(session, "li", "password123", ["clerk"], None)
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http_cookies.CookieJar()))

    def sign_in(password: str) -> int:
        page = browser.open(f"{base}/login", timeout=60).read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "username": "li", "password": password}).encode()
        try:
            return browser.open(f"{base}/login", data=form, timeout=60).status
        except urllib.error.HTTPError as err:
            return err.code

    with live_server(app) as base:
        before = scrape(base)
        statuses = [sign_in("wrong") for _ in range(identity.FREE_LOGIN_FAILURES + 1)]
        after = scrape(base)
    assert statuses[0] == 200 and statuses[-1] == 429  # the page again with its message, then throttled
    assert value(after, "towerflow_signin_failures_total", via="page") == \
        value(before, "towerflow_signin_failures_total", via="page") + identity.FREE_LOGIN_FAILURES
    assert value(after, "towerflow_signin_throttled_total", via="page") == \
        value(before, "towerflow_signin_throttled_total", via="page") + 1


def test_a_metrics_token_when_set_is_required(platform, app):
    set_settings(platform, TOWERFLOW_METRICS_TOKEN="a-long-random-secret")
    with live_server(app) as base:
        assert http("GET", f"{base}/metrics")[0] == 401
        assert http("GET", f"{base}/metrics", headers={"Authorization": "Bearer wrong"})[0] == 401
        status, _, text = http("GET", f"{base}/metrics", headers={"Authorization": "Bearer a-long-random-secret"})
        assert status == 200 and value(text, "towerflow_database_up") == 1
        assert http("GET", f"{base}/readyz")[0] == 200  # the probes stay open

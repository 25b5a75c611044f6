"""Service tasks: a failing handler never loses the user's work; it is retried with backoff,
then raised as an incident that a supervisor can retry. Scripts that fail do the same."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import deploy, instance, read, start
from sqlalchemy import select

from engine.definitions import validation
from engine.models import Job
from engine.runtime import jobs


class FlakyHandler:
    """A handler that fails while ``broken`` and records every call it gets."""

    def __init__(self, error: str = "the billing system is down"):
        self.broken = True
        self.error = error
        self.calls: list[dict] = []

    def __call__(self, params, call):
        self.calls.append({"params": params, "key": call.idempotency_key, "attempt": call.attempt})
        if self.broken:
            raise RuntimeError(self.error)
        return {"invoice": "INV-7", "amount": params["amount"]}

    @property
    def keys(self) -> set[str]:
        return {c["key"] for c in self.calls}

    @property
    def attempts(self) -> list[int]:
        return [c["attempt"] for c in self.calls]


@pytest.fixture
def flaky(services):
    handler = FlakyHandler()
    services.add("test.flaky", handler)
    return handler




def complete_review(user, instance: dict, data: dict) -> dict:
    task = instance["active_tasks"][0]
    r = user.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return r.json




def open_incidents(user) -> list[dict]:
    r = user.get("/api/v1/incidents")
    assert r.status_code == 200, r.json
    return r.json["items"]


def history(user, instance_id: int) -> list[str]:
    r = user.get(f"/api/v1/process-instances/{instance_id}/history")
    assert r.status_code == 200, r.json
    return [e["action"] for e in r.json["items"]]


def test_failing_handler_keeps_the_users_work_retries_then_raises_an_incident(
        platform, clock, flaky, clerk, supervisor):
    deploy(platform, "jobs_flaky.bpmn")
    started = start(clerk, "jobs_flaky", site_id="0571", amount=150)
    task_id = started["active_tasks"][0]["id"]

    # The user's completion answers 200 although the service task after it failed.
    after = complete_review(clerk, started, {"approved": True, "comment": "fine by me"})
    assert after["variables"]["approved"] is True
    assert after["variables"]["comment"] == "fine by me"
    assert after["active_tasks"] == []
    assert after["state"] == "running"  # a retry is queued
    assert clerk.get(f"/api/v1/tasks/{task_id}").json["state"] == "completed"
    assert flaky.attempts == [1]

    # Retried with exponential backoff (2 s, then 4 s), never before it is due.
    clock.advance(timedelta(seconds=1))
    assert jobs.run_due_jobs(platform) == 0
    assert flaky.attempts == [1]
    clock.advance(timedelta(seconds=1.5))
    assert jobs.run_due_jobs(platform) == 1
    assert flaky.attempts == [1, 2]
    clock.advance(timedelta(seconds=3))
    assert jobs.run_due_jobs(platform) == 0
    assert flaky.attempts == [1, 2]
    assert open_incidents(supervisor) == []
    clock.advance(timedelta(seconds=1.5))
    assert jobs.run_due_jobs(platform) == 1
    assert flaky.attempts == [1, 2, 3]
    assert len(flaky.keys) == 1, "the idempotency key must be the same on every attempt"

    # Three attempts: an incident with the handler's error and traceback.
    incidents = open_incidents(supervisor)
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["process_instance_id"] == started["id"]
    assert incident["element_id"] == "charge"
    assert "the billing system is down" in incident["message"]
    assert "Traceback" in incident["traceback"]
    assert "RuntimeError: the billing system is down" in incident["traceback"]
    failed = instance(supervisor, started["id"])
    assert failed["state"] == "error"
    assert [i["id"] for i in failed["incidents"]] == [incident["id"]]
    assert failed["variables"]["comment"] == "fine by me"

    # Nothing more happens on its own.
    clock.advance(timedelta(hours=1))
    assert jobs.run_due_jobs(platform) == 0
    assert flaky.attempts == [1, 2, 3]

    # Only supervisors may retry.
    r = clerk.post(f"/api/v1/incidents/{incident['id']}/retry")
    assert r.status_code == 403, r.json
    assert r.json["error"]["code"] == "forbidden"
    assert len(open_incidents(supervisor)) == 1

    # Still broken: the supervisor's retry runs it at once, with a fresh set of attempts.
    r = supervisor.post(f"/api/v1/incidents/{incident['id']}/retry")
    assert r.status_code == 200, r.json
    assert r.json["state"] == "resolved"
    assert r.json["resolved_by"] == "zhao"
    assert flaky.attempts == [1, 2, 3, 1]

    # The system is back: the next attempt works and the instance completes.
    flaky.broken = False
    clock.advance(timedelta(seconds=2.5))
    assert jobs.run_due_jobs(platform) == 1
    assert flaky.attempts == [1, 2, 3, 1, 2]
    assert len(flaky.keys) == 1
    done = instance(supervisor, started["id"])
    assert done["state"] == "completed", done
    assert done["incidents"] == []
    assert done["variables"]["invoice"] == {"invoice": "INV-7", "amount": 300}
    assert open_incidents(supervisor) == []
    actions = history(supervisor, started["id"])
    assert actions.count("service.failed") == 4
    assert actions.count("incident.raised") == 1
    assert actions.count("incident.retried") == 1
    assert actions.count("service.completed") == 1


def test_supervisor_retry_after_the_incident_completes_the_instance(
        platform, clock, flaky, clerk, supervisor):
    deploy(platform, "jobs_flaky.bpmn")
    started = start(clerk, "jobs_flaky", site_id="0571", amount=10)
    complete_review(clerk, started, {"approved": True})
    for _ in range(2):
        clock.advance(timedelta(minutes=1))
        jobs.run_due_jobs(platform)
    [incident] = open_incidents(supervisor)
    assert instance(supervisor, started["id"])["state"] == "error"

    flaky.broken = False
    r = supervisor.post(f"/api/v1/incidents/{incident['id']}/retry")
    assert r.status_code == 200, r.json
    assert r.json["state"] == "resolved"
    done = instance(supervisor, started["id"])
    assert done["state"] == "completed"
    assert done["variables"]["invoice"]["invoice"] == "INV-7"
    assert flaky.attempts == [1, 2, 3, 1]
    assert len(flaky.keys) == 1

    r = supervisor.post(f"/api/v1/incidents/{incident['id']}/retry")
    assert r.status_code == 409, r.json


def test_retry_of_a_suspended_instance_waits_until_it_is_resumed(platform, clock, flaky, clerk, supervisor):
    deploy(platform, "jobs_flaky.bpmn")
    started = start(clerk, "jobs_flaky", site_id="0571", amount=10)
    complete_review(clerk, started, {"approved": True})
    assert flaky.attempts == [1]
    r = supervisor.post(f"/api/v1/process-instances/{started['id']}/suspend")
    assert r.status_code == 200, r.json

    flaky.broken = False
    clock.advance(timedelta(minutes=5))
    assert jobs.run_due_jobs(platform) == 0
    assert flaky.attempts == [1]
    assert instance(supervisor, started["id"])["state"] == "suspended"

    r = supervisor.post(f"/api/v1/process-instances/{started['id']}/resume")
    assert r.status_code == 200, r.json
    assert r.json["state"] == "running"
    assert jobs.run_due_jobs(platform) == 1
    assert flaky.attempts == [1, 2]
    assert instance(supervisor, started["id"])["state"] == "completed"


def test_handler_gets_evaluated_parameters_and_its_result_lands_in_the_result_variable(
        platform, flaky, clerk):
    flaky.broken = False
    deploy(platform, "jobs_flaky.bpmn")
    started = start(clerk, "jobs_flaky", site_id="0571", amount=150)
    done = complete_review(clerk, started, {"approved": False, "comment": "too dear"})

    assert flaky.calls[0]["params"] == {"site": "SITE-0571", "amount": 300, "note": "TOO DEAR",
                                        "approved": False}
    assert flaky.calls[0]["key"]
    assert done["state"] == "completed"
    assert done["variables"]["invoice"] == {"invoice": "INV-7", "amount": 300}


def test_retries_property_gives_five_attempts(platform, clock, services, clerk, supervisor):
    down = FlakyHandler("operator gateway refused the connection")
    services.add("test.down", down)
    deploy(platform, "jobs_retry5.bpmn")

    started = start(clerk, "jobs_retry5", order_no="ORD-1")  # the first attempt runs at once
    assert started["state"] == "running"
    for _ in range(4):
        assert open_incidents(supervisor) == []
        clock.advance(timedelta(minutes=1))  # past any backoff of these attempts
        assert jobs.run_due_jobs(platform) == 1

    assert down.attempts == [1, 2, 3, 4, 5]
    assert len(down.keys) == 1
    [incident] = open_incidents(supervisor)
    assert "operator gateway refused the connection" in incident["message"]
    assert instance(supervisor, started["id"])["state"] == "error"
    with platform.Session() as session:
        job = session.scalars(select(Job).where(Job.instance_id == started["id"])).one()
        assert (job.kind, job.attempts, job.max_attempts, job.state) == ("service", 5, 5, "failed")


class OperatorSystem(BaseHTTPRequestHandler):
    """A stand-in for an operator's HTTP API: answers 500 twice, then accepts the order."""

    failures_left = 2
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"body": body, "key": self.headers["Idempotency-Key"]})
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self._answer(500, {"error": "database locked"})
        else:
            self._answer(200, {"accepted": True, "ticket": f"T-{body['order']}"})

    def _answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def operator_system():
    OperatorSystem.failures_left = 2
    OperatorSystem.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), OperatorSystem)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/orders", OperatorSystem
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def http_post(params, call):
    request = urllib.request.Request(
        params["url"], data=json.dumps(params["body"]).encode(), method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": call.idempotency_key},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_http_handler_retried_after_server_errors(platform, clock, services, clerk, operator_system):
    url, server = operator_system
    services.add("test.http_post", http_post)
    deploy(platform, "jobs_http.bpmn")

    started = start(clerk, "jobs_http", endpoint=url, order_no="ORD-9", towers=3)
    assert started["state"] == "running"
    assert len(server.received) == 1
    for expected_calls in (2, 3):
        clock.advance(timedelta(minutes=1))
        assert jobs.run_due_jobs(platform) == 1
        assert len(server.received) == expected_calls

    done = instance(clerk, started["id"])
    assert done["state"] == "completed", done
    assert done["variables"]["reply"] == {"accepted": True, "ticket": "T-ORD-9"}
    assert [r["body"] for r in server.received] == [{"order": "ORD-9", "towers": 3}] * 3
    assert len({r["key"] for r in server.received}) == 1
    actions = history(clerk, started["id"])
    assert actions.count("service.failed") == 2
    assert "HTTP Error 500" in str(clerk.get(f"/api/v1/process-instances/{started['id']}/history").json)


def test_failing_script_after_a_user_task_keeps_the_completion_and_raises_an_incident(
        platform, clerk, supervisor):
    deploy(platform, "jobs_script_error.bpmn")
    started = start(clerk, "jobs_script_error")
    task_id = started["active_tasks"][0]["id"]

    after = complete_review(clerk, started, {"approved": True, "comment": "go"})
    assert after["variables"]["approved"] is True
    assert after["variables"]["comment"] == "go"
    assert after["state"] == "error"
    assert clerk.get(f"/api/v1/tasks/{task_id}").json["state"] == "completed"

    [incident] = open_incidents(supervisor)
    assert incident["process_instance_id"] == started["id"]
    assert incident["element_id"] == "compute"
    assert "division by zero" in incident["message"]
    assert "ZeroDivisionError" in incident["traceback"]
    assert "task.completed" in history(supervisor, started["id"])


def test_deploy_refuses_a_script_that_imports(api):
    designer = api("des", ["designer"])
    upload = (io.BytesIO(read("jobs_script_import.bpmn")), "jobs_script_import.bpmn")
    r = designer.post("/api/v1/deployments", content_type="multipart/form-data", data={"files": [upload]})
    assert r.status_code == 422, r.json
    [problem] = r.json["error"]["details"]["problems"]
    assert problem["element_id"] == "compute"
    assert "import statements are not allowed" in problem["message"]


def test_script_that_imports_becomes_an_incident_saying_why(platform, monkeypatch, clerk, supervisor):
    """Should such a script reach the engine anyway (deployed before the check existed), the
    sandbox refuses it at run time and the user's completion is still kept."""
    monkeypatch.setattr(validation, "script_findings", lambda task_spec: iter(()))
    deploy(platform, "jobs_script_import.bpmn")
    monkeypatch.undo()
    started = start(clerk, "jobs_script_import")

    after = complete_review(clerk, started, {"approved": True})
    assert after["variables"]["approved"] is True
    assert after["state"] == "error"
    [incident] = open_incidents(supervisor)
    assert incident["element_id"] == "compute"
    assert "import statements are not allowed" in incident["message"]
    assert "cwd" not in instance(supervisor, started["id"])["variables"]

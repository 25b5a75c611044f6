"""External-system handlers: POST to the configured URL with retries, or record in the outbox.

Local HTTP servers stand in for the systems: one that accepts, one that fails twice with 500,
one too slow for the timeout. Time-based retries run on the manual clock.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import deploy, instance, set_settings, start
from helpers import outbox_rows as rows
from sqlalchemy import func, select

from engine.errors import Forbidden
from engine.models import OutboxMessage
from engine.principal import Principal
from engine.runtime import jobs, outbox
from engine.services import ServiceCall, registry
from engine.settings import Settings, SettingsError
from handlers import outbound

OPERATORS = {
    "sms.send": ("to", "text"),
    "operator_platform.notify": ("tenant", "event", "business_key", "data"),
    "pms.create_project": ("demand_no", "site", "data"),
    "eoms.create_work_order": ("kind", "business_key", "data"),
    "boss.activate": ("product", "business_key", "data"),
    "resource.sync_contract": ("site_code", "contract"),
    "resource.update_site": ("site_code", "status", "data"),
}
SYSTEM_URLS = [f"TOWERFLOW_{s.upper()}_URL" for s in outbound.SYSTEMS]


# --- a stand-in external system -------------------------------------------------------------------


class ExternalSystem(BaseHTTPRequestHandler):
    """Records each POST; answers ``status`` (500 while ``failures_left``), after ``delay`` s."""

    received: list[dict] = []
    failures_left = 0
    delay = 0.0
    content_type = "application/json"
    answer: bytes = b'{"accepted": true, "ticket": "T-1"}'

    def do_POST(self):  # noqa: N802 (http.server's naming)
        cls = type(self)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls.received.append({"path": self.path, "body": json.loads(body), "headers": dict(self.headers)})
        if cls.delay:
            time.sleep(cls.delay)
        if cls.failures_left > 0:
            cls.failures_left -= 1
            self._send(500, "application/json", b'{"error": "database locked"}')
        else:
            self._send(200, cls.content_type, cls.answer)

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout test)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def system_server():
    """Start the stand-in on 127.0.0.1 (port 0) in a thread; yields (base URL, handler class)."""
    handler = type("System", (ExternalSystem,), {"received": [], "failures_left": 0, "delay": 0.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_configured_urls(monkeypatch):
    """Every system records only, unless a test sets its URL; the transport knows the platform."""
    for name in SYSTEM_URLS + ["TOWERFLOW_HTTP_TIMEOUT"]:
        monkeypatch.delenv(name, raising=False)


def history(user, instance_id: int) -> list[dict]:
    r = user.get(f"/api/v1/process-instances/{instance_id}/history")
    assert r.status_code == 200, r.json
    return r.json["items"]


def a_call(operator: str = "sms.send", key: str = "7:abc", tenant: str | None = "cmcc") -> ServiceCall:
    return ServiceCall(operator=operator, idempotency_key=key, instance_id=7, business_key="D-7",
                       tenant=tenant, element_id="send", attempt=1)


# --- record mode --------------------------------------------------------------------------------------


def test_every_operator_is_registered_and_takes_missing_params_as_none(configured):
    for operator, names in OPERATORS.items():
        handler = registry.get(operator)
        assert handler is not None, operator
        result = handler({}, a_call(operator, key=f"k-{operator}", tenant=None))
        assert result["status"] == "recorded"
        json.dumps(result)
        [row] = rows(configured, idempotency_key=f"k-{operator}")
        system, operation = operator.split(".")
        assert (row.system, row.operation, row.status, row.url) == (system, operation, "recorded", None)
        assert result["outbox_id"] == row.id
        assert set(row.payload["params"]) == set(names)
    # Missing parameters are None, except where the instance's own values stand in.
    [sms] = rows(configured, system="sms")
    assert sms.payload == {"operation": "sms.send", "params": {"to": None, "text": None},
                           "business_key": "D-7", "tenant": None, "instance_id": 7}
    [eoms] = rows(configured, system="eoms")
    assert eoms.payload["params"] == {"kind": None, "business_key": "D-7", "data": None}


def test_a_flow_without_urls_records_every_call_and_completes(platform, clerk):
    deploy(platform, "ext_all.bpmn")
    started = start(clerk, "ext_all", business_key="D-1", demand_no="D-1", site="S-9", mobile="13800000000")
    assert started["state"] == "completed", started
    variables = started["variables"]
    recorded = rows(platform)
    assert [(r.system, r.operation) for r in recorded] == [
        ("operator_platform", "notify"), ("pms", "create_project"), ("eoms", "create_work_order"),
        ("boss", "activate"), ("resource", "sync_contract"), ("resource", "update_site"), ("sms", "send")]
    assert {r.status for r in recorded} == {"recorded"}
    assert {r.instance_id for r in recorded} == {started["id"]}
    assert {r.business_key for r in recorded} == {"D-1"}
    assert variables["r_pms"] == {"status": "recorded", "outbox_id": recorded[1].id}
    pms = recorded[1].payload
    assert pms == {"operation": "pms.create_project",
                   "params": {"demand_no": "D-1", "site": "S-9", "data": {"towers": 1}},
                   "business_key": "D-1", "tenant": None, "instance_id": started["id"]}
    assert recorded[4].payload["params"] == {"site_code": "S-9", "contract": {"rent": 12000, "years": 5}}
    assert recorded[6].payload["params"] == {"to": "13800000000", "text": None}
    assert len({r.idempotency_key for r in recorded}) == 7


def test_recording_twice_with_the_same_idempotency_key_keeps_one_row(configured):
    handler = registry.get("pms.create_project")
    first = handler({"demand_no": "D-2", "site": "S-1"}, a_call("pms.create_project", key="9:task"))
    again = handler({"demand_no": "D-2", "site": "S-1"}, a_call("pms.create_project", key="9:task"))
    assert first == again == {"status": "recorded", "outbox_id": first["outbox_id"]}
    assert len(rows(configured)) == 1
    # Straight through the engine's record(): still one row per system, operation and key.
    with configured.transaction() as session:
        for _ in range(2):
            outbox.record(session, system="pms", operation="create_project", idempotency_key="9:task",
                          payload={}, status="recorded", now=configured.clock.now())
    with configured.Session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    # Another key, or another operation with the same key, is another call.
    handler({}, a_call("pms.create_project", key="9:other"))
    registry.get("sms.send")({}, a_call("sms.send", key="9:task"))
    assert len(rows(configured)) == 3


def test_a_job_that_fails_after_recording_rolls_the_row_back_and_its_retry_records_once(
        platform, clock, services, clerk):
    """The row is written in the job's own transaction: a crash after recording leaves nothing."""
    attempts = []

    def sms_then_crash(params, call):
        result = registry.get("sms.send")(params, call)
        attempts.append(call.attempt)
        if len(attempts) == 1:
            raise RuntimeError("the worker died after recording")
        return result

    services.add("test.sms_then_crash", sms_then_crash)
    deploy(platform, "ext_crash.bpmn")
    started = start(clerk, "ext_crash", demand_no="D-6", mobile="139")
    assert started["state"] == "running"
    assert attempts == [1]
    assert rows(platform) == [], "the failed job's transaction took the outbox row with it"
    clock.advance(timedelta(minutes=1))
    assert jobs.run_due_jobs(platform) == 1
    done = instance(clerk, started["id"])
    assert done["state"] == "completed"
    [row] = rows(platform)
    assert row.status == "recorded" and row.payload["params"] == {"to": "139", "text": "Demand D-6 accepted"}
    assert done["variables"]["sms_result"] == {"status": "recorded", "outbox_id": row.id}


# --- sending ------------------------------------------------------------------------------------------


def test_a_configured_system_receives_the_json_and_the_idempotency_key(platform, clerk, system_server,
                                                                       monkeypatch):
    base, server = system_server
    set_settings(platform, TOWERFLOW_SMS_URL=f"{base}/sms")
    deploy(platform, "ext_sms.bpmn")
    started = start(clerk, "ext_sms", business_key="D-3", demand_no="D-3", mobile="13900000000")
    assert started["state"] == "completed", started
    [received] = server.received
    assert received["path"] == "/sms"
    assert received["headers"]["Content-Type"] == "application/json"
    assert received["headers"]["Idempotency-Key"].startswith(f"{started['id']}:")
    assert received["body"] == {"operation": "sms.send",
                                "params": {"to": "13900000000", "text": "Demand D-3 accepted"},
                                "business_key": "D-3", "tenant": None, "instance_id": started["id"]}
    result = started["variables"]["sms_result"]
    assert result["status"] == "sent"
    assert result["response"] == {"accepted": True, "ticket": "T-1"}
    [row] = rows(platform)
    assert (row.status, row.url, row.attempts, row.error) == ("sent", f"{base}/sms", 1, None)
    assert row.idempotency_key == received["headers"]["Idempotency-Key"]
    assert row.response == {"accepted": True, "ticket": "T-1"}
    assert row.sent_at is not None


def test_a_text_answer_is_returned_as_text(configured, system_server, monkeypatch):
    base, server = system_server
    server.content_type, server.answer = "text/plain", b"OK 42"
    set_settings(configured, TOWERFLOW_BOSS_URL=f"{base}/boss")
    result = registry.get("boss.activate")({"product": "dedicated_line"}, a_call("boss.activate"))
    assert result["status"] == "sent" and result["response"] == "OK 42"
    [row] = rows(configured)
    assert (row.response, row.response_text) == (None, "OK 42")


def test_a_server_error_is_retried_with_backoff_until_it_succeeds(platform, clock, clerk, supervisor,
                                                                  system_server, monkeypatch):
    base, server = system_server
    server.failures_left = 2
    url = f"{base}/pms/projects"
    set_settings(platform, TOWERFLOW_PMS_URL=url)
    deploy(platform, "ext_all.bpmn")

    started = start(clerk, "ext_all", business_key="D-4", demand_no="D-4", site="S-4", mobile="137")
    assert started["state"] == "running"  # operator_platform recorded, PMS failed, a retry is queued
    assert len(server.received) == 1
    [failed] = rows(platform, system="pms")
    assert (failed.status, failed.attempts, failed.url) == ("failed", 1, url)
    assert "pms" in failed.error and url in failed.error and "500" in failed.error
    events = history(clerk, started["id"])
    [error] = [e for e in events if e["action"] == "service.failed"]
    assert "pms" in str(error) and url in str(error) and "HTTP 500" in str(error)

    clock.advance(timedelta(seconds=1))  # the first backoff (2 s) has not passed
    assert jobs.run_due_jobs(platform) == 0
    clock.advance(timedelta(seconds=1.5))
    assert jobs.run_due_jobs(platform) == 1
    assert len(server.received) == 2
    assert rows(platform, system="pms")[0].attempts == 2
    clock.advance(timedelta(seconds=4.5))
    assert jobs.run_due_jobs(platform) == 1
    assert len(server.received) == 3
    jobs.drain(platform, started["id"])  # the steps after PMS, queued by the successful retry

    done = instance(clerk, started["id"])
    assert done["state"] == "completed", done
    assert done["variables"]["r_pms"]["status"] == "sent"
    assert done["variables"]["r_pms"]["response"] == {"accepted": True, "ticket": "T-1"}
    assert len({r["headers"]["Idempotency-Key"] for r in server.received}) == 1
    [sent] = rows(platform, system="pms")
    assert (sent.status, sent.attempts, sent.error) == ("sent", 3, None)
    assert len(rows(platform, system="operator_platform")) == 1, "the recorded call was not repeated"
    assert supervisor.get("/api/v1/incidents").json["items"] == []


def test_a_slow_server_times_out_and_becomes_an_incident_after_the_retries(
        platform, clock, clerk, supervisor, system_server, monkeypatch):
    base, server = system_server
    server.delay = 1.0
    url = f"{base}/eoms"
    set_settings(platform, TOWERFLOW_EOMS_URL=url)
    set_settings(platform, TOWERFLOW_HTTP_TIMEOUT="0.2")
    deploy(platform, "ext_all.bpmn")

    started = start(clerk, "ext_all", business_key="D-5", demand_no="D-5", site="S-5", mobile="136")
    assert started["state"] == "running"
    for _ in range(2):
        clock.advance(timedelta(minutes=1))
        assert jobs.run_due_jobs(platform) == 1
    assert len(server.received) == 3

    [incident] = supervisor.get("/api/v1/incidents").json["items"]
    assert incident["process_instance_id"] == started["id"]
    assert incident["element_id"] == "open_work_order"
    assert "eoms" in incident["message"] and url in incident["message"]
    assert "timed out" in incident["message"]
    assert "OutboundTimeout" in incident["traceback"]
    assert instance(supervisor, started["id"])["state"] == "error"
    [row] = rows(platform, system="eoms")
    assert (row.status, row.attempts) == ("failed", 3)
    assert "timed out" in row.error
    assert rows(platform, system="boss") == [], "nothing after the failed step ran"


def test_post_json_errors_name_the_system_url_and_status(system_server):
    base, server = system_server
    server.failures_left = 1
    with pytest.raises(outbound.OutboundError) as failed:
        outbound.post_json("boss", f"{base}/x", {"a": 1}, "k", 5)
    assert (failed.value.system, failed.value.status) == ("boss", 500)
    assert str(failed.value).startswith(f"boss: POST {base}/x answered HTTP 500")
    server.delay = 0.5
    with pytest.raises(outbound.OutboundTimeout) as slow:
        outbound.post_json("boss", f"{base}/x", {"a": 1}, "k", 0.1)
    assert isinstance(slow.value, TimeoutError)
    assert "boss" in str(slow.value) and f"{base}/x" in str(slow.value) and "timed out" in str(slow.value)
    with pytest.raises(outbound.OutboundError, match="boss: POST http://127.0.0.1:9/ failed"):
        outbound.post_json("boss", "http://127.0.0.1:9/", {}, "k", 2)  # nothing listens on port 9
    with pytest.raises(outbound.OutboundError, match="boss: POST ftp-ish://x failed"):
        outbound.post_json("boss", "ftp-ish://x", {}, "k", 2)


def test_system_urls_and_the_timeout_come_from_the_settings():
    assert outbound.system_url("operator_platform", Settings.from_env({})) is None
    settings = Settings.from_env({"TOWERFLOW_OPERATOR_PLATFORM_URL": " http://op.example/api "})
    assert outbound.system_url("operator_platform", settings) == "http://op.example/api"
    assert outbound.system_url("operator_platform", Settings.from_env({"TOWERFLOW_OPERATOR_PLATFORM_URL": ""})) is None
    assert outbound.http_timeout(Settings.from_env({})) == 10
    assert outbound.http_timeout(Settings.from_env({"TOWERFLOW_HTTP_TIMEOUT": "2.5"})) == 2.5
    with pytest.raises(SettingsError, match="TOWERFLOW_HTTP_TIMEOUT"):
        Settings.from_env({"TOWERFLOW_HTTP_TIMEOUT": "soon"})


# --- reading the outbox ----------------------------------------------------------------------------------


def test_the_outbox_api_shows_supervisors_everything_and_operators_their_tenant(platform, api, supervisor):
    deploy(platform, "ext_sms.bpmn")
    mobile_user = api("cm_li", ["operator"], tenant="cmcc")
    unicom_user = api("cu_wu", ["operator"], tenant="cucc")
    clerk = api("wang", ["clerk"])
    for n in range(3):
        start(mobile_user, "ext_sms", business_key=f"CM-{n}", demand_no=f"CM-{n}", mobile="138")
    start(unicom_user, "ext_sms", business_key="CU-1", demand_no="CU-1", mobile="186")

    r = supervisor.get("/api/v1/outbox")
    assert r.status_code == 200, r.json
    assert r.json["total"] == 4 and r.json["page"] == 1 and r.json["page_size"] == 50
    newest = r.json["items"][0]
    assert (newest["system"], newest["operation"], newest["status"]) == ("sms", "send", "recorded")
    assert (newest["business_key"], newest["tenant"], newest["url"]) == ("CU-1", "cucc", None)
    assert newest["payload"]["params"] == {"to": "186", "text": "Demand CU-1 accepted"}

    page = supervisor.get("/api/v1/outbox?page=2&page_size=3").json
    assert (page["total"], len(page["items"]), page["page"]) == (4, 1, 2)
    assert supervisor.get("/api/v1/outbox?business_key=CM-1").json["total"] == 1
    assert supervisor.get("/api/v1/outbox?system=sms&status=recorded").json["total"] == 4
    assert supervisor.get("/api/v1/outbox?system=boss").json["total"] == 0
    assert supervisor.get("/api/v1/outbox?status=sent").json["total"] == 0
    assert supervisor.get("/api/v1/outbox?status=lost").status_code == 422

    unicom = unicom_user.get("/api/v1/outbox").json
    assert [i["business_key"] for i in unicom["items"]] == ["CU-1"]
    assert unicom_user.get("/api/v1/outbox?business_key=CM-1").json == {
        "items": [], "total": 0, "page": 1, "page_size": 50}
    assert mobile_user.get("/api/v1/outbox").json["total"] == 3

    assert api("admin1", ["admin"]).get("/api/v1/outbox").json["total"] == 4
    assert clerk.get("/api/v1/outbox").status_code == 403
    assert api.anonymous.get("/api/v1/outbox").status_code == 401


def test_list_messages_refuses_staff_without_the_right(platform):
    with platform.Session() as session:
        with pytest.raises(Forbidden):
            outbox.list_messages(session, Principal("wang", frozenset({"clerk"})))
        assert outbox.list_messages(session, Principal("zhao", frozenset({"supervisor"}))) == ([], 0)

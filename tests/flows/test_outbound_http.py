"""The outbound transport on httpx: one pooled client per system, the connect and read timeouts
apart, the idempotency key kept on a retry.

Real local servers stand in for the systems: an HTTP/1.1 keep-alive server that counts the
connections it accepts, a port whose accept queue is full (a connection attempt gets no answer
to its SYN, so only the connect timeout ends it) and a server that accepts and never answers.
respx stands in where a fake answer is enough (status codes, malformed JSON).
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import respx
from helpers import deploy, set_settings, start
from helpers import outbox_rows as rows

from engine.runtime import jobs
from engine.services import ServiceCall, registry
from engine.settings import Settings
from handlers import http_clients, outbound
from handlers.http_clients import ClientConfig, clients

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_URLS = [f"TOWERFLOW_{s.upper()}_URL" for s in outbound.SYSTEMS]


# --- stand-in systems ------------------------------------------------------------------------------


class KeepAliveSystem(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; records each POST and the connection it came on. The first
    ``stalls`` requests get no answer until the client gives up (a read timeout)."""

    protocol_version = "HTTP/1.1"
    received: list[dict] = []
    connections: list[int] = []
    stalls = 0
    release: threading.Event

    def setup(self):
        super().setup()
        type(self).connections.append(id(self))

    def do_POST(self):  # noqa: N802 (http.server's naming)
        cls = type(self)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls.received.append({"connection": id(self), "path": self.path, "body": json.loads(body),
                             "headers": dict(self.headers)})
        if cls.stalls > 0:
            cls.stalls -= 1
            cls.release.wait(30)  # the client has timed out and closed by then (or the test ended)
            self.close_connection = True
            return
        data = b'{"accepted": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def serve(handler_class, tls: tuple[Path, Path] | None = None) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"{scheme}://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def keepalive():
    """A keep-alive system on 127.0.0.1; yields (base URL, handler class); more with ``.another()``."""
    started = []

    def another(tls=None):
        handler = type("System", (KeepAliveSystem,), {"received": [], "connections": [], "stalls": 0,
                                                      "release": threading.Event()})
        server, base = serve(handler, tls)
        started.append((server, handler))
        return base, handler

    base, handler = another()
    handler.another = staticmethod(another)
    yield base, handler
    for server, handler in started:
        handler.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def unreachable():
    """A port where a connection attempt hangs: a listening socket that never accepts, its accept
    queue filled until one more connect gets no answer to its SYN (the kernel drops it)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(64):
        filler = socket.socket()
        filler.settimeout(0.5)
        fillers.append(filler)
        try:
            filler.connect(("127.0.0.1", port))
        except TimeoutError:
            break  # the queue is full: the next SYN goes unanswered too
    else:
        pytest.fail("could not fill the accept queue of a local socket")
    yield f"http://127.0.0.1:{port}"
    for filler in fillers:
        filler.close()
    listener.close()


@pytest.fixture
def silent():
    """A server that accepts connections and reads requests but never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", held
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture(autouse=True)
def no_configured_urls(monkeypatch):
    for name in SYSTEM_URLS + ["TOWERFLOW_HTTP_TIMEOUT", "TOWERFLOW_HTTP_CONNECT_TIMEOUT"]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def idle_connections_kept(monkeypatch):
    """Idle connections kept for a minute, not 5 s, so that a machine slow enough to pause
    between two calls does not make the test count a second connection."""
    monkeypatch.setattr(http_clients, "KEEPALIVE_SECONDS", 60.0)
    clients.close()
    yield
    clients.close()


def a_call(operator: str = "sms.send", key: str = "7:abc") -> ServiceCall:
    return ServiceCall(operator=operator, idempotency_key=key, instance_id=7, business_key="D-7",
                       tenant="cmcc", element_id="send", attempt=1)


def incident_of(supervisor, instance_id: int) -> dict:
    [incident] = [i for i in supervisor.get("/api/v1/incidents").json["items"]
                  if i["process_instance_id"] == instance_id]
    return incident


# --- the pool ---------------------------------------------------------------------------------------


def test_calls_in_a_row_reuse_one_connection(configured, keepalive):
    base, server = keepalive
    set_settings(configured, TOWERFLOW_SMS_URL=f"{base}/sms")
    for n in range(5):
        result = registry.get("sms.send")({"to": "138", "text": f"#{n}"}, a_call(key=f"k-{n}"))
        assert result["status"] == "sent" and result["response"] == {"accepted": True}
    assert len(server.received) == 5
    assert len(server.connections) == 1, "every call after the first reused the open connection"
    assert [r["body"]["params"]["text"] for r in server.received] == [f"#{n}" for n in range(5)]
    assert [row.status for row in rows(configured)] == ["sent"] * 5


def test_each_system_has_its_own_pooled_client_in_a_flow(platform, clerk, keepalive):
    base, server = keepalive
    set_settings(platform, **{name: f"{base}/{name}" for name in SYSTEM_URLS})
    deploy(platform, "ext_all.bpmn")
    started = start(clerk, "ext_all", business_key="D-1", demand_no="D-1", site="S-9", mobile="138")
    jobs.drain(platform, started["id"])
    sent = rows(platform)
    assert [r.status for r in sent] == ["sent"] * 7
    assert len(server.received) == 7
    # Six systems, six clients, one connection each: the resource system's two calls shared one.
    assert len(server.connections) == 6
    resource = [r["connection"] for r in server.received if r["body"]["operation"].startswith("resource.")]
    assert len(resource) == 2 and resource[0] == resource[1]
    assert len({id(clients.client(system)) for system in outbound.SYSTEMS}) == 6


def test_threads_share_the_client_safely(configured, keepalive):
    base, server = keepalive
    set_settings(configured, TOWERFLOW_PMS_URL=f"{base}/pms")
    handler = registry.get("pms.create_project")
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for n in range(8):
                handler({"demand_no": f"D-{thread}-{n}"}, a_call("pms.create_project", key=f"{thread}:{n}"))
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(server.received) == 32
    assert {r["headers"]["Idempotency-Key"] for r in server.received} == {f"{t}:{n}" for t in range(4)
                                                                          for n in range(8)}
    assert len(server.connections) <= 4, "at most one connection per thread calling at once"
    assert len(rows(configured, status="sent")) == 32


def test_the_client_is_rebuilt_when_the_settings_change(configured, keepalive):
    base, first_server = keepalive
    set_settings(configured, TOWERFLOW_BOSS_URL=f"{base}/boss")
    handler = registry.get("boss.activate")
    handler({}, a_call("boss.activate", key="1"))
    first = clients.client("boss")
    handler({}, a_call("boss.activate", key="2"))
    assert clients.client("boss") is first, "the same settings keep the same client"

    other_base, second_server = first_server.another()
    set_settings(configured, TOWERFLOW_BOSS_URL=f"{other_base}/boss")
    handler({}, a_call("boss.activate", key="3"))
    second = clients.client("boss")
    assert second is not first and first.is_closed
    set_settings(configured, TOWERFLOW_HTTP_CONNECT_TIMEOUT="1.5")
    handler({}, a_call("boss.activate", key="4"))
    assert clients.client("boss") is not second and second.is_closed
    assert clients.client("boss").timeout == httpx.Timeout(10.0, connect=1.5, write=10.0, pool=10.0)
    assert (len(first_server.received), len(second_server.received)) == (2, 2)


def test_a_client_replaced_during_a_call_closes_after_it():
    config = ClientConfig.of("http://a.example/x", 3, 10)
    with clients.lease("test-system", config) as old:
        with clients.lease("test-system", ClientConfig.of("http://b.example/x", 3, 10)) as new:
            assert new is not old
        assert not old.is_closed, "a client is not closed under a call that is using it"
    assert old.is_closed
    clients.close()
    assert new.is_closed and clients.client("test-system") is None


def test_the_clients_are_closed_when_the_process_exits(keepalive):
    base, server = keepalive
    script = (
        "import atexit\n"
        "seen = []\n"
        "atexit.register(lambda: print('closed' if seen[0].is_closed else 'open'))\n"  # runs last
        "from handlers import outbound\n"
        "from handlers.http_clients import clients\n"
        f"outbound.post_json('sms', {base + '/sms'!r}, {{}}, 'k', 5)\n"
        "seen.append(clients.client('sms'))\n"
        "print('sent')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["sent", "closed"]
    assert len(server.received) == 1


def test_an_https_system_signed_by_a_private_ca_is_trusted_through_ssl_cert_file(
        configured, keepalive, tmp_path, monkeypatch):
    """A system with a certificate of the company's own CA: refused with a clear error until the CA
    is trusted (SSL_CERT_FILE, read by the system's trust store as urllib did), then sent."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command makes the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    base, server = keepalive[1].another(tls=(cert, key))
    set_settings(configured, TOWERFLOW_SMS_URL=f"{base}/sms")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(outbound.OutboundError, match="failed to connect .*CERTIFICATE_VERIFY_FAILED"):
        registry.get("sms.send")({}, a_call(key="untrusted"))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    clients.close()  # the trust store is read when a client is built
    result = registry.get("sms.send")({}, a_call(key="trusted"))
    assert result["status"] == "sent" and result["response"] == {"accepted": True}
    assert [r["headers"]["Idempotency-Key"] for r in server.received] == ["trusted"]
    assert [(r.idempotency_key, r.status) for r in rows(configured)] == [("untrusted", "failed"), ("trusted", "sent")]


def test_the_proxy_variables_apply_as_they_did_with_urllib(configured, keepalive, monkeypatch):
    base, proxy = keepalive
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", base)
    set_settings(configured, TOWERFLOW_PMS_URL="http://pms.example/api")
    clients.close()
    result = registry.get("pms.create_project")({"demand_no": "D-1"}, a_call("pms.create_project"))
    assert result["status"] == "sent"
    [received] = proxy.received
    assert received["path"] == "http://pms.example/api", "the request went through the proxy"
    assert received["headers"]["Idempotency-Key"] == "7:abc"
    clients.close()


# --- the two timeouts ----------------------------------------------------------------------------------


def test_a_connect_timeout_is_its_own_error_and_an_incident_after_the_retries(
        platform, clock, clerk, supervisor, unreachable):
    url = f"{unreachable}/sms"
    # The read timeout is long: only the connect timeout can end these calls.
    set_settings(platform, TOWERFLOW_SMS_URL=url, TOWERFLOW_HTTP_CONNECT_TIMEOUT="0.3",
                 TOWERFLOW_HTTP_TIMEOUT="60")
    deploy(platform, "ext_sms.bpmn")
    started = start(clerk, "ext_sms", business_key="D-8", demand_no="D-8", mobile="139")
    assert started["state"] == "running"
    [failed] = rows(platform)
    assert (failed.status, failed.attempts, failed.url) == ("failed", 1, url)
    assert "timed out connecting after 0.3 s" in failed.error and "connect timeout" in failed.error
    for _ in range(2):
        clock.advance(timedelta(minutes=1))
        assert jobs.run_due_jobs(platform) == 1
    incident = incident_of(supervisor, started["id"])
    assert url in incident["message"] and "connect timeout" in incident["message"]
    assert "read timeout" not in incident["message"]
    assert "OutboundTimeout" in incident["traceback"]
    [row] = rows(platform)
    assert (row.status, row.attempts) == ("failed", 3)


def test_post_json_says_which_timeout_ran_out(unreachable, silent):
    with pytest.raises(outbound.OutboundTimeout) as connect:
        outbound.post_json("eoms", f"{unreachable}/x", {}, "k", 60, 0.3)
    assert connect.value.phase == "connect" and isinstance(connect.value, TimeoutError)
    assert str(connect.value) == (f"eoms: POST {unreachable}/x timed out connecting after 0.3 s "
                                  "(connect timeout; nothing sent; status: no answer)")
    base, held = silent
    with pytest.raises(outbound.OutboundTimeout) as read:
        outbound.post_json("eoms", f"{base}/x", {}, "k", 0.3, 30)
    assert read.value.phase == "read"
    assert str(read.value) == (f"eoms: POST {base}/x timed out after 0.3 s waiting for the answer "
                               "(read timeout; status: no answer)")
    assert len(held) == 1, "the silent server did accept the connection"


def test_a_read_timeout_is_retried_with_the_same_idempotency_key(platform, clock, clerk, keepalive):
    base, server = keepalive
    server.stalls = 1  # the first request gets no answer
    set_settings(platform, TOWERFLOW_SMS_URL=f"{base}/sms", TOWERFLOW_HTTP_TIMEOUT="0.3")
    deploy(platform, "ext_sms.bpmn")
    started = start(clerk, "ext_sms", business_key="D-9", demand_no="D-9", mobile="139")
    assert started["state"] == "running"
    [failed] = rows(platform)
    assert failed.status == "failed" and "read timeout" in failed.error and "0.3 s" in failed.error
    clock.advance(timedelta(minutes=1))
    assert jobs.run_due_jobs(platform) == 1
    [row] = rows(platform)
    assert (row.status, row.attempts, row.error) == ("sent", 2, None)
    keys = [r["headers"]["Idempotency-Key"] for r in server.received]
    assert len(keys) == 2 and keys[0] == keys[1] == row.idempotency_key
    assert keys[0].startswith(f"{started['id']}:")


def test_the_timeouts_come_from_the_settings():
    defaults = Settings.from_env({})
    assert (outbound.connect_timeout(defaults), outbound.http_timeout(defaults)) == (3, 10)
    settings = Settings.from_env({"TOWERFLOW_HTTP_CONNECT_TIMEOUT": "0.5", "TOWERFLOW_HTTP_TIMEOUT": "20"})
    assert (outbound.connect_timeout(settings), outbound.http_timeout(settings)) == (0.5, 20)
    assert ClientConfig.of("http://PMS.example:8080/api", 0.5, 20).timeout() == httpx.Timeout(
        20, connect=0.5, write=20, pool=20)


# --- answers, faked with respx ------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body", "expected"), [
    (404, b"no such operation", "answered HTTP 404: no such operation"),
    (503, b"", "answered HTTP 503"),
    (302, b"", "answered HTTP 302"),  # not followed: a redirected POST would lose its body
])
def test_a_non_2xx_answer_fails_and_records_the_attempt(configured, status, body, expected):
    url = "http://pms.example/api"
    set_settings(configured, TOWERFLOW_PMS_URL=url)
    with respx.mock(assert_all_called=True) as fake:
        route = fake.post(url).mock(return_value=httpx.Response(status, content=body,
                                                                headers={"Location": "http://elsewhere/"}))
        with pytest.raises(outbound.OutboundError) as failed:
            registry.get("pms.create_project")({"demand_no": "D-1"}, a_call("pms.create_project"))
    assert route.call_count == 1
    assert failed.value.status == status
    assert str(failed.value) == f"pms: POST {url} {expected}"
    [row] = rows(configured)
    assert (row.status, row.attempts, row.error) == ("failed", 1, str(failed.value))


@pytest.mark.parametrize(("content_type", "body", "expected"), [
    ("application/json", b'{"ticket": "T-1"', '{"ticket": "T-1"'),  # malformed JSON: kept as text
    ("application/json", b"", None),
    ("text/plain", b'[1, 2]', [1, 2]),
    ("application/json; charset=utf-8", "{\"站点\": \"杭州\"}".encode(), {"站点": "杭州"}),
])
def test_a_2xx_answer_is_parsed_or_kept_as_text(configured, content_type, body, expected):
    url = "http://resource.example/api"
    set_settings(configured, TOWERFLOW_RESOURCE_URL=url)
    with respx.mock(assert_all_called=True) as fake:
        route = fake.post(url).mock(return_value=httpx.Response(201, content=body,
                                                                headers={"Content-Type": content_type}))
        result = registry.get("resource.update_site")({"site_code": "S-1"}, a_call("resource.update_site"))
    assert result["status"] == "sent" and result["response"] == expected
    sent = route.calls.last.request
    assert sent.headers["Idempotency-Key"] == "7:abc"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content)["operation"] == "resource.update_site"
    [row] = rows(configured)
    assert row.status == "sent"


def test_no_cookie_is_carried_from_one_call_to_the_next(configured):
    """The client is shared by every instance and tenant: a cookie one answer sets is not sent
    with the next call."""
    url = "http://sms.example/api"
    set_settings(configured, TOWERFLOW_SMS_URL=url)
    with respx.mock() as fake:
        route = fake.post(url).mock(return_value=httpx.Response(
            200, json={"ok": True}, headers={"Set-Cookie": "session=tenant-cmcc; Path=/"}))
        for key in ("first", "second"):
            assert registry.get("sms.send")({}, a_call(key=key))["status"] == "sent"
    assert [call.request.headers.get("Cookie") for call in route.calls] == [None, None]


def test_a_dropped_connection_is_a_clear_failure(configured):
    url = "http://eoms.example/api"
    set_settings(configured, TOWERFLOW_EOMS_URL=url)
    with respx.mock() as fake:
        fake.post(url).mock(side_effect=httpx.RemoteProtocolError("Server disconnected without sending a response."))
        with pytest.raises(outbound.OutboundError) as failed:
            registry.get("eoms.create_work_order")({}, a_call("eoms.create_work_order"))
    assert str(failed.value) == (f"eoms: POST {url} failed (status: no answer): "
                                 "Server disconnected without sending a response.")
    assert [(r.status, r.error) for r in rows(configured)] == [("failed", str(failed.value))]

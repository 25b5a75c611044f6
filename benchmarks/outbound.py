"""Outbound calls per second against a local keep-alive server: urllib (the transport before
issue 17, a new connection per call) against httpx with the pooled client of
``handlers/http_clients.py``. Run alone: ``python -m benchmarks.outbound [--calls N] [--runs R]``
(not part of ``make bench``). The numbers are in docs/integrations.md.

The server runs in this process's threads, as the handler tests do, so both transports pay for it
alike; on a quiet machine the absolute figures are higher, the ratio is the point.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from handlers import outbound
from handlers.http_clients import clients

from .common import markdown_table, render_table

PAYLOAD = {"operation": "sms.send", "params": {"to": "13800000000", "text": "需求 D-1 已受理"},
           "business_key": "D-1", "tenant": "cmcc", "instance_id": 1}


class System(BaseHTTPRequestHandler):
    """Answers every POST at once, with keep-alive (HTTP/1.1); counts the connections. Sets
    TCP_NODELAY as nginx, Tomcat or gunicorn do, unless ``nodelay`` is off (see the docs: a
    server without it makes every kept-alive call wait for a delayed ACK)."""

    protocol_version = "HTTP/1.1"
    connections = 0
    nodelay = True
    lock = threading.Lock()

    def setup(self):
        super().setup()
        if System.nodelay:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with System.lock:
            System.connections += 1

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        data = b'{"accepted": true, "ticket": "T-1"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def urllib_post(url: str, payload: dict[str, Any], key: str, timeout: float = 10.0) -> Any:
    """The transport as it was: one urllib request, one connection, per call."""
    request = urllib.request.Request(url, data=json.dumps(payload, ensure_ascii=False).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json",
                                              "Idempotency-Key": key})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


def httpx_unpooled_post(url: str, payload: dict[str, Any], key: str, timeout: float = 10.0) -> Any:
    """httpx without the pool: a new client (and connection) per call, to tell the library from the pool."""
    with httpx.Client(timeout=timeout) as client:
        return client.post(url, content=json.dumps(payload, ensure_ascii=False).encode(),
                           headers={"Content-Type": "application/json", "Idempotency-Key": key}).json()


def httpx_pooled_post(url: str, payload: dict[str, Any], key: str, timeout: float = 10.0) -> Any:
    """The transport now (handlers/outbound.py)."""
    return outbound.post_json("sms", url, payload, key, timeout, 3.0)


TRANSPORTS: dict[str, Callable[..., Any]] = {
    "urllib (before)": urllib_post,
    "httpx, a client per call": httpx_unpooled_post,
    "httpx, pooled client (now)": httpx_pooled_post,
}


def rate(post: Callable[..., Any], url: str, calls: int, threads: int) -> tuple[float, int]:
    """(calls per second, connections the server accepted) for ``calls`` calls over ``threads``."""
    System.connections = 0
    clients.close()
    per_thread = calls // threads

    def work(t: int) -> None:
        for n in range(per_thread):
            answer = post(url, PAYLOAD, f"{t}:{n}")
            if answer != {"accepted": True, "ticket": "T-1"}:
                raise RuntimeError(f"unexpected answer {answer!r}")

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    elapsed = time.perf_counter() - started
    return per_thread * threads / elapsed, System.connections


def self_signed(folder: str) -> tuple[str, str]:
    """(certificate, key) for 127.0.0.1, made with the openssl command."""
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def start_server(tls: tuple[str, str] | None) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), System)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        # the handshake happens in each connection's thread, not in the accepting loop
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"{scheme}://127.0.0.1:{server.server_address[1]}/sms"


def measure(url: str, calls: int, runs: int, threads: int, transports: list[str]) -> list[list[Any]]:
    rows = []
    for name in transports:
        post = TRANSPORTS[name]
        count = min(calls, 200) if name == "httpx, a client per call" else calls  # ~10 calls/s: keep it short
        rate(post, url, min(count, 20), threads)  # warm up
        results = [rate(post, url, count, threads) for _ in range(runs)]
        rows.append([name, threads, f"{statistics.median(r[0] for r in results):.0f}", max(r[1] for r in results)])
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per run (default 1000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per transport, the median is shown (default 3)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)

    everything = list(TRANSPORTS)
    columns = ["server", "transport", "threads", "calls/s (median)", "connections opened (per run, max)"]
    rows: list[list[Any]] = []
    folder = tempfile.mkdtemp(prefix="towerflow-outbound-")
    try:
        scenarios: list[tuple[str, tuple[str, str] | None, bool]] = [("http", None, True)]
        if shutil.which("openssl"):
            scenarios.append(("https", self_signed(folder), True))
            os.environ["SSL_CERT_FILE"] = scenarios[-1][1][0]  # both clients trust it, as an operator's CA
        scenarios.append(("http, server without TCP_NODELAY", None, False))
        for label, tls, nodelay in scenarios:
            System.nodelay = nodelay
            server, url = start_server(tls)
            try:
                calls = args.calls if nodelay else min(args.calls, 100)  # 40 ms a call: keep it short
                for threads in ((1, 4) if nodelay else (1,)):
                    transports = everything if nodelay else ["urllib (before)", "httpx, pooled client (now)"]
                    rows += [[label, *row] for row in measure(url, calls, args.runs, threads, transports)]
            finally:
                clients.close()
                server.shutdown()
                server.server_close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(markdown_table(columns, rows) if args.markdown else render_table(columns, rows))


if __name__ == "__main__":
    main()

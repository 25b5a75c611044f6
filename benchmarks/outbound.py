"""Outbound calls per second against a local keep-alive server: urllib (the transport before
issue 17, a new connection per call) against httpx with the pooled client of
``handlers/http_clients.py``. Run alone: ``python -m benchmarks.outbound [--calls N] [--runs R]``
(not part of ``make bench``). The numbers are in docs/integrations.md.

The stand-in system runs in a process of its own, as a real one would (in the same process it
would compete with the client for the GIL); it sets TCP_NODELAY, as nginx, Tomcat or gunicorn
do, except in the last scenario, which shows what a server without it costs a kept-alive
connection. The transports take turns, so that a busy machine slows them alike.
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
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from handlers import outbound
from handlers.http_clients import clients

from .common import ROOT, markdown_table, render_table

PAYLOAD = {"operation": "sms.send", "params": {"to": "13800000000", "text": "需求 D-1 已受理"},
           "business_key": "D-1", "tenant": "cmcc", "instance_id": 1}
ANSWER = {"accepted": True, "ticket": "T-1"}


# --- the stand-in system (its own process) -------------------------------------------------------


class System(BaseHTTPRequestHandler):
    """Answers every POST at once, with keep-alive (HTTP/1.1); ``GET`` tells how many connections
    it has accepted so far."""

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
        self._answer(json.dumps(ANSWER).encode())

    def do_GET(self):  # noqa: N802
        self._answer(json.dumps({"connections": System.connections}).encode())

    def _answer(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def serve(cert: str | None, key: str | None, nodelay: bool) -> None:
    """The server process: print the port, serve until stdin closes."""
    System.nodelay = nodelay
    server = ThreadingHTTPServer(("127.0.0.1", 0), System)
    server.daemon_threads = True
    if cert and key:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        # the handshake happens in each connection's thread, not in the accepting loop
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()


@contextmanager
def system(tls: tuple[str, str] | None, nodelay: bool) -> Iterator[str]:
    """Start the server process; yields its URL."""
    command = [sys.executable, "-m", "benchmarks.outbound", "--serve"]
    if tls is not None:
        command += ["--cert", tls[0], "--key", tls[1]]
    if not nodelay:
        command.append("--no-nodelay")
    child = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}/sms"
    finally:
        child.stdin.close()
        child.wait(10)


def accepted(url: str) -> int:
    """Connections the server accepted so far, this question's own included."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())["connections"]


# --- the transports --------------------------------------------------------------------------------


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


# --- measuring ---------------------------------------------------------------------------------------


def rate(post: Callable[..., Any], url: str, calls: int, threads: int) -> tuple[float, float, int]:
    """(calls per second, client CPU seconds per call, connections the server accepted) for
    ``calls`` calls over ``threads``. The CPU time does not depend on how busy the machine is."""
    clients.close()
    per_thread = calls // threads
    before = accepted(url)

    def work(t: int) -> None:
        for n in range(per_thread):
            answer = post(url, PAYLOAD, f"{t}:{n}")
            if answer != ANSWER:
                raise RuntimeError(f"unexpected answer {answer!r}")

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    done = per_thread * threads
    return done / elapsed, cpu / done, accepted(url) - before - 1


def measure(url: str, calls: int, runs: int, threads: int, transports: list[str]) -> list[list[Any]]:
    """Each transport ``runs`` times, taking turns (a busy machine slows them all alike)."""
    counts = {name: min(calls, 200) if name == "httpx, a client per call" else calls  # a slow one: keep it short
              for name in transports}
    for name in transports:
        rate(TRANSPORTS[name], url, min(counts[name], 20), threads)  # warm up
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in transports}
    for run in range(runs):
        for name in transports[run % len(transports):] + transports[:run % len(transports)]:
            results[name].append(rate(TRANSPORTS[name], url, counts[name], threads))
    return [[name, threads, f"{statistics.median(r[0] for r in results[name]):.0f}",
             f"{statistics.median(r[1] for r in results[name]) * 1000:.2f}",
             max(r[2] for r in results[name])] for name in transports]


def self_signed(folder: str) -> tuple[str, str]:
    """(certificate, key) for 127.0.0.1, made with the openssl command."""
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per run (default 500)")
    parser.add_argument("--runs", type=int, default=5, help="runs per transport, taking turns; the median is shown")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server process
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--no-nodelay", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.cert, args.key, not args.no_nodelay)
        return

    everything = list(TRANSPORTS)
    columns = ["server", "transport", "threads", "calls/s (median)", "client CPU ms per call (median)",
               "connections opened (per run, max)"]
    rows: list[list[Any]] = []
    folder = tempfile.mkdtemp(prefix="towerflow-outbound-")
    try:
        scenarios: list[tuple[str, tuple[str, str] | None, bool]] = [("http", None, True)]
        if shutil.which("openssl"):
            scenarios.append(("https", self_signed(folder), True))
            os.environ["SSL_CERT_FILE"] = scenarios[-1][1][0]  # every client trusts it, as an operator's CA
        scenarios.append(("http, server without TCP_NODELAY", None, False))
        for label, tls, nodelay in scenarios:
            with system(tls, nodelay) as url:
                calls = args.calls if nodelay else min(args.calls, 100)  # 40 ms a call: keep it short
                for threads in ((1, 4) if nodelay else (1,)):
                    transports = everything if nodelay else ["urllib (before)", "httpx, pooled client (now)"]
                    rows += [[label, *row] for row in measure(url, calls, args.runs, threads, transports)]
                clients.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(markdown_table(columns, rows) if args.markdown else render_table(columns, rows))


if __name__ == "__main__":
    main()

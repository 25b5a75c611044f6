"""Shared pieces of the benchmarks: statistics, databases, server processes, an HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
PG_SERVER = os.environ.get("TOWERFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PG_DATABASE = os.environ.get("TOWERFLOW_BENCH_PG_DB", "towerflow_bench")


# --- statistics ---------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    k = (len(data) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    """Seconds as milliseconds for the tables."""
    if seconds != seconds:  # nan
        return "-"
    value = seconds * 1000
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# --- results ------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    measured: str
    goal: str
    met: bool | None  # None: not measured
    headline: str = ""  # its short name in the summary at the top of BENCHMARKS.md; "": not there


@dataclass
class Section:
    """One benchmark's results: a table, notes, targets and any profile excerpts."""

    key: str
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (caption, preformatted text)
    seconds: float = 0.0

    def add_row(self, *cells: Any) -> None:
        self.rows.append(list(cells))

    def target(self, name: str, measured: str, goal: str, met: bool | None, headline: str = "") -> None:
        self.targets.append(Target(name, measured, goal, met, headline))


def render_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table for the terminal."""
    cells = [[str(c) for c in columns]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(len(columns))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- databases ----------------------------------------------------------------------------

class Workspace:
    """A temporary folder for SQLite files and server logs, removed at the end."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="towerflow-bench-"))

    def sqlite_url(self, name: str) -> str:
        file = self.path / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(file) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{file}"

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def pg_available() -> bool:
    """True when the PostgreSQL server answers and the benchmark database exists or was made."""
    import psycopg

    try:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=3) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)).fetchone()
            if not found:
                conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL benchmarks
        log(f"PostgreSQL not available ({exc.__class__.__name__}: {exc}); its benchmarks are skipped")
        return False


def pg_url(schema: str) -> str:
    """A fresh schema in the benchmark database, and the URL that uses it."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/{PG_DATABASE}", autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{PG_SERVER}/{PG_DATABASE}?options=-csearch_path%3D{schema}"


def drop_pg_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/{PG_DATABASE}", autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def make_platform(url: str):
    """The platform as the server builds it (project forms and handlers, real clock), schema made."""
    from web.app import build_platform

    platform = build_platform(url)
    platform.init_db()
    return platform


def cheap_passwords() -> None:
    """Benchmark users sign in with tokens; a lower scrypt cost keeps creating them quick."""
    from engine import identity

    identity.SCRYPT_N = 2**10
    identity.SCRYPT_P = 1


def make_user(platform, username: str, groups: list[str], tenant: str | None = None) -> str:
    """Create the user if needed and return a fresh API token for it."""
    from engine import identity

    with platform.transaction() as session:
        try:
            identity.get_user(session, username)
        except Exception:  # noqa: BLE001 - NotFound
            identity.add_user(session, username, "benchmark-pw", groups, tenant)
        return identity.create_token(session, username)


def principal(username: str, groups: list[str], tenant: str | None = None):
    from engine.principal import Principal

    return Principal(username, frozenset(groups), tenant)


def db_label(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


@contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def sample_query(fn, runs: int, warmup: int = 3) -> tuple[list[float], Any]:
    """Call ``fn`` (which returns ``(rows, total)``) ``warmup`` times, then time ``runs`` calls:
    the seconds of each, and the total the last call reported."""
    for _ in range(warmup):
        fn()
    times, total = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        _, total = fn()
        times.append(time.perf_counter() - t0)
    return times, total


# --- server processes ---------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``towerflow serve`` (waitress, clock on) or ``towerflow worker`` as a child process."""

    def __init__(self, url: str, workspace: Workspace, name: str, *, worker: bool = False,
                 clock: bool = True, threads: int = 8, tick: float = 0.25) -> None:
        self.url = url
        self.port = free_port()
        self.log_path = workspace.path / f"{name}.log"
        command = [sys.executable, "-m", "web.cli", "--database", url]
        if worker:
            command += ["worker", "--tick", str(tick)]
        else:
            command += ["serve", "--port", str(self.port), "--workers", str(threads)]
            if not clock:
                command.append("--no-clock")
        self.command = command
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("TOWERFLOW_DATABASE_URL", None)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(command, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.worker = worker

    def wait_ready(self, timeout: float = 60.0) -> Server:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            if self.worker:
                if "running" in self.log_path.read_text():
                    return self
            else:
                try:
                    status, _ = Http(self.port).request("GET", "/api/v1/openapi.json")
                    if status == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s: {self.log_path.read_text()[-2000:]}")

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Http:
    """A keep-alive HTTP/1.1 JSON client for one server (one per thread)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        return response.status, data

    def upload(self, path: str, form: dict[str, str], filename: str, data: bytes) -> tuple[int, Any]:
        """POST multipart/form-data: the ``form`` fields and the file as the part ``file``."""
        boundary = f"bench{time.perf_counter_ns()}"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in form.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        headers = {"Accept": "application/json", "Content-Type": f"multipart/form-data; boundary={boundary}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.conn.request("POST", path, body=b"".join(parts), headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode(errors="replace")
        return response.status, answer

    def close(self) -> None:
        self.conn.close()


def count_rows(platform, sql: str, **params: Any) -> int:
    with platform.engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar() or 0)

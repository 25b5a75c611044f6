"""``python -m benchmarks.soak [--minutes 10] [--sqlite] [--clients 4]`` (``make soak``): a steady
mixed load against real processes for minutes on end, to find what only time shows: errors that
come with growth, latency that creeps up, memory that leaks.

On PostgreSQL (the default; ``--sqlite`` for the embedded database): 2 ``towerflow serve
--no-clock`` and 1 ``towerflow worker``, as deployed (docs/deploy.md); on SQLite one server with
its clock. Each client, once a second: reads its inbox, starts an instance of
``benchmarks/data/soak.bpmn``, completes a review, sends the message an instance waits for once
its 5-second timer fired, reads an instance and completes its last task.

It reports errors (any answer but the expected one; there must be none), the instances driven to
their end checked against the audit log (each step once), p50/p95 of every request per minute,
the resident memory (RSS) of every process after the first minute and at the end (flat within
10 %), and the load average. Exit status 0 when errors, audit problems and memory growth are
within those bounds. ``soak()`` is what the suite's short run calls (tests/reliability).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from .common import BENCH_DIR, Http, Server, Workspace, log, make_user, ms, pct, render_table

TIMER_SECONDS = 5  # the diagram's PT5S
MESSAGE_AFTER_SECONDS = 10  # a message is sent this long after the review: the timer fired by then
MEMORY_GROWTH_LIMIT = 0.10
WARM_UP_SECONDS = 60  # memory "at start" is read after this long (caches filled, pools open)


@dataclass
class Sample:
    at: float  # seconds since the load began
    op: str
    seconds: float


@dataclass
class SoakResult:
    database: str
    seconds: float
    clients: int
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the audit check
    done: list[int] = field(default_factory=list)  # instances driven to their end
    rss: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # process -> [(at, MiB)]
    load: list[tuple[float, float]] = field(default_factory=list)  # (at, 1-minute load average)

    def per_minute(self, width: float = 60.0) -> list[tuple[int, int, float, float]]:
        """(minute, requests, p50, p95) for each full window of ``width`` seconds."""
        windows: dict[int, list[float]] = {}
        for sample in self.samples:
            windows.setdefault(int(sample.at // width), []).append(sample.seconds)
        full = int(self.seconds // width)
        return [(n + 1, len(windows.get(n, [])), pct(windows.get(n, []), 50), pct(windows.get(n, []), 95))
                for n in range(full)]

    def memory(self) -> dict[str, tuple[float, float, float]]:
        """Each process's RSS when the load began, after the warm-up, and at the end."""
        out = {}
        for name, readings in self.rss.items():
            warm = [mb for at, mb in readings if at >= min(WARM_UP_SECONDS, self.seconds / 2)]
            out[name] = (readings[0][1], warm[0] if warm else readings[0][1], readings[-1][1])
        return out

    def memory_flat(self) -> bool:
        """No process grew by more than 10 % from the warm-up's end to the end."""
        return all(end <= warm * (1 + MEMORY_GROWTH_LIMIT) for _, warm, end in self.memory().values())

    def ok(self) -> bool:
        return not self.errors and not self.problems and self.memory_flat()


class _Client(threading.Thread):
    """One person working at a steady pace: the same mix every period, whatever the answers' speed."""

    def __init__(self, n: int, port: int, token: str, result: SoakResult, lock: threading.Lock,
                 began: float, until: float, period: float):
        super().__init__(daemon=True)
        self.n, self.http = n, Http(port, token)
        self.result, self.lock, self.began, self.until, self.period = result, lock, began, until, period
        self.to_review: deque[tuple[int, int, str]] = deque()  # (instance, review task, business key)
        self.to_message: deque[tuple[int, str, float]] = deque()  # (instance, business key, when)
        self.to_close: deque[int] = deque()
        self.count = 0

    def run(self) -> None:
        next_round = time.perf_counter()
        while time.perf_counter() < self.until:
            try:
                self._round()
            except Exception as exc:  # noqa: BLE001 - counted and reported, never hidden
                self._error(f"client {self.n}: {exc.__class__.__name__}: {exc}")
            next_round += self.period
            time.sleep(max(0.0, next_round - time.perf_counter()))
            next_round = max(next_round, time.perf_counter() - self.period)  # late: no burst to catch up
        self.http.close()

    def _call(self, op: str, method: str, path: str, body=None, expect: int = 200):
        t0 = time.perf_counter()
        status, answer = self.http.request(method, path, body)
        took = time.perf_counter() - t0
        with self.lock:
            self.result.samples.append(Sample(t0 - self.began, op, took))
        if status != expect:
            self._error(f"{op} {method} {path}: {status} {str(answer)[:200]}")
            return None
        return answer

    def _error(self, message: str) -> None:
        with self.lock:
            self.result.errors.append(message)

    def _round(self) -> None:
        self._call("inbox", "GET", "/api/v1/tasks?limit=20")
        self.count += 1
        key = f"SOAK-{self.n}-{self.count}"
        started = self._call("start", "POST", "/api/v1/process-instances",
                             {"process_key": "soak", "business_key": key, "variables": {"client": self.n}}, 201)
        if started:
            [review] = [t["id"] for t in started["active_tasks"] if t["element_id"] == "review"]
            self.to_review.append((started["id"], review, key))
        if len(self.to_review) > 1:  # the one started a round ago
            instance_id, task_id, business_key = self.to_review.popleft()
            if self._call("complete", "POST", f"/api/v1/tasks/{task_id}/complete",
                          {"data": {"approved": True, "comment": "ok"}}):
                self.to_message.append((instance_id, business_key, time.perf_counter() + MESSAGE_AFTER_SECONDS))
        if self.to_message and self.to_message[0][2] <= time.perf_counter():
            instance_id, business_key, _ = self.to_message.popleft()
            if self._call("message", "POST", "/api/v1/messages",
                          {"name": "soak_ready", "business_key": business_key, "payload": {"ready": True},
                           "message_id": uuid.uuid4().hex}):
                self.to_close.append(instance_id)
        if self.to_close:
            instance_id = self.to_close.popleft()
            view = self._call("read", "GET", f"/api/v1/process-instances/{instance_id}")
            closing = [t["id"] for t in (view or {}).get("active_tasks", []) if t["element_id"] == "close"]
            if view is not None and not closing:
                self._error(f"instance {instance_id}: no close task after its message")
            elif closing and self._call("complete", "POST", f"/api/v1/tasks/{closing[0]}/complete",
                                        {"data": {"comment": "closed"}}):
                with self.lock:
                    self.result.done.append(instance_id)


def soak(url: str, seconds: float, workspace: Workspace, clients: int = 4, period: float = 1.0) -> SoakResult:
    """Run the load for ``seconds`` against real processes on the database ``url`` (made and deployed
    here) and check the outcome; the processes are stopped at the end."""
    from engine.definitions import deployments
    from engine.principal import SYSTEM
    from web.app import build_platform

    platform = build_platform(url)
    platform.init_db()
    deployments.deploy(platform, SYSTEM, {"soak.bpmn": (BENCH_DIR / "data" / "soak.bpmn").read_bytes()})
    tokens = [make_user(platform, f"soak{n}", ["clerk"]) for n in range(clients)]
    postgres = platform.is_postgres
    if postgres:  # as deployed: servers without the clock, a worker runs the jobs
        procs = [Server(url, workspace, f"soak-server-{n}", clock=False) for n in (1, 2)]
        procs.append(Server(url, workspace, "soak-worker", worker=True, tick=0.25))
    else:
        procs = [Server(url, workspace, "soak-server", clock=True)]
    result = SoakResult("PostgreSQL" if postgres else "SQLite", seconds, clients)
    try:
        for proc in procs:
            proc.wait_ready()
        servers = [p for p in procs if not p.worker]
        lock = threading.Lock()
        began = time.perf_counter()
        workers = [_Client(n, servers[n % len(servers)].port, tokens[n], result, lock, began, began + seconds, period)
                   for n in range(clients)]
        for client in workers:
            client.start()
        _watch(procs, result, began, seconds)
        for client in workers:
            client.join(timeout=300)
    finally:
        for proc in procs:
            proc.stop()
    result.problems = audit(platform, result.done)
    platform.close()
    return result


def _watch(procs: list[Server], result: SoakResult, began: float, seconds: float) -> None:
    """Read every process's RSS and the load average every 10 s while the load runs."""
    names = {proc: proc.log_path.stem for proc in procs}
    while True:
        at = time.perf_counter() - began
        for proc in procs:
            result.rss.setdefault(names[proc], []).append((at, proc.rss_mb()))
        result.load.append((at, os.getloadavg()[0]))
        if at >= seconds:
            return
        time.sleep(min(10.0, max(0.1, seconds - at)))


def audit(platform, done: list[int]) -> list[str]:
    """Every instance driven to its end ran each step exactly once (audit log), and nothing failed."""
    problems = []
    with platform.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT instance_id, action FROM audit_events WHERE action IN ('instance.started', 'task.completed', "
            "'timer.fired', 'message.received', 'instance.completed')")).all()
        states = dict(conn.execute(text("SELECT id, state FROM process_instances")).all())
        incidents = conn.execute(text("SELECT count(*) FROM incidents")).scalar()
        failed_jobs = conn.execute(text("SELECT count(*) FROM jobs WHERE state = 'failed' OR attempts > 0")).scalar()
    actions: dict[int, Counter] = {}
    for instance_id, action in rows:
        actions.setdefault(instance_id, Counter())[action] += 1
    expected = Counter({"instance.started": 1, "task.completed": 2, "timer.fired": 1, "message.received": 1,
                        "instance.completed": 1})
    for instance_id in done:
        if states.get(instance_id) != "completed":
            problems.append(f"instance {instance_id} is {states.get(instance_id)}, not completed")
        if actions.get(instance_id) != expected:
            problems.append(f"instance {instance_id}: {dict(actions.get(instance_id, {}))}")
    if len(set(done)) != len(done):
        problems.append("an instance was driven to its end twice")
    if incidents:
        problems.append(f"{incidents} incidents")
    if failed_jobs:
        problems.append(f"{failed_jobs} jobs failed or retried")
    return problems


def report(result: SoakResult) -> str:
    """The result as text tables (also what RELIABILITY.md quotes)."""
    lines = [f"soak on {result.database}: {result.seconds / 60:.0f} min, {result.clients} clients, "
             f"{len(result.samples)} requests, {len(result.done)} instances driven to their end, "
             f"{len(result.errors)} errors, {len(result.problems)} audit problems"]
    loads = dict((int(at // 60), load) for at, load in result.load)
    rows = [[minute, count, f"{count / 60:.1f}", ms(p50), ms(p95), f"{loads.get(minute - 1, float('nan')):.1f}"]
            for minute, count, p50, p95 in result.per_minute()]
    lines.append(render_table(["minute", "requests", "per s", "p50 ms", "p95 ms", "load average"], rows))
    by_op: dict[str, list[float]] = {}
    for sample in result.samples:
        by_op.setdefault(sample.op, []).append(sample.seconds)
    lines.append(render_table(["request", "count", "p50 ms", "p95 ms"],
                              [[op, len(v), ms(pct(v, 50)), ms(pct(v, 95))] for op, v in sorted(by_op.items())]))
    memory = [[name, f"{first:.1f}", f"{warm:.1f}", f"{end:.1f}", f"{(end - warm) / warm * 100:+.1f} %"]
              for name, (first, warm, end) in result.memory().items()]
    lines.append(render_table(["process", "RSS MiB at start", "after 1 min", "at end", "growth after 1 min"], memory))
    for error in result.errors[:20]:
        lines.append(f"error: {error}")
    for problem in result.problems[:20]:
        lines.append(f"audit: {problem}")
    lines.append("verdict: " + ("ok" if result.ok() else "NOT OK") +
                 f" (errors {len(result.errors)}, audit problems {len(result.problems)}, memory "
                 f"{'flat' if result.memory_flat() else 'grew'} within {MEMORY_GROWTH_LIMIT:.0%})")
    return "\n\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from .common import cheap_passwords, drop_pg_schema, pg_available, pg_url

    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sqlite", action="store_true", help="the embedded database instead of PostgreSQL")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.clients <= 0:
        parser.error("--minutes and --clients must be positive")
    cheap_passwords()
    workspace = Workspace()
    schema = f"soak_{os.getpid()}"
    use_pg = not args.sqlite and pg_available()
    url = pg_url(schema) if use_pg else workspace.sqlite_url("soak")
    log(f"soak: {args.minutes:g} min on {'PostgreSQL' if use_pg else 'SQLite'}, {args.clients} clients, "
        f"load average now {os.getloadavg()[0]:.1f}; logs in {workspace.path}")
    try:
        result = soak(url, args.minutes * 60, workspace, clients=args.clients)
    finally:
        if use_pg:
            drop_pg_schema(schema)
    print(report(result), flush=True)
    if result.ok():
        workspace.cleanup()
    else:
        log(f"the processes' logs are kept in {workspace.path}")
    return 0 if result.ok() else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())

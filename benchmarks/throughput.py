"""Point 2: instances driven start to end per minute, and starts per second, with 1, 2 and 4
server processes on PostgreSQL, checked against the audit log; point 6: the servers' memory."""

from __future__ import annotations

import threading
import time
from collections import Counter

from sqlalchemy import text

from .common import Section, Server, Workspace, log, median, ms, pct
from .flows import Flow
from .step_cost import RestDriver, prepare


def _drive(port: int, tokens: dict[str, str], flow: Flow, prefix: str, until: float, starts_only: bool,
           out: dict, lock: threading.Lock) -> None:
    rest = RestDriver(port, tokens, flow)
    n = 0
    try:
        while time.perf_counter() < until:
            n += 1
            iid, t_start = rest.start(f"{prefix}-{n}")
            with lock:
                out["starts"].append(t_start)
                out["ids"].append(iid)
            if starts_only:
                continue
            t0 = time.perf_counter()
            for step in flow.steps:
                out_step = rest.step(iid, step, f"{prefix}-{n}")
                with lock:
                    out["steps" if step.kind == "task" else "messages"].append(out_step)
            with lock:
                out["done"].append(iid)
                out["flow_seconds"].append(time.perf_counter() - t0 + t_start)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        with lock:
            out["errors"].append(f"{exc.__class__.__name__}: {exc}")
    finally:
        with lock:
            out["waits"] += rest.waits
        rest.close()


def run_load(ports: list[int], tokens: dict[str, str], flow: Flow, clients: int, seconds: float, prefix: str,
             starts_only: bool = False) -> dict:
    out: dict = {"starts": [], "ids": [], "steps": [], "messages": [], "done": [], "flow_seconds": [],
                 "errors": [], "waits": []}
    lock = threading.Lock()
    until = time.perf_counter() + seconds
    threads = [threading.Thread(target=_drive, args=(ports[i % len(ports)], tokens, flow, f"{prefix}-{i}", until,
                                                     starts_only, out, lock)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["elapsed"] = time.perf_counter() - t0
    return out


def audit_check(platform, flow: Flow, done: list[int], started_only: list[int]) -> list[str]:
    """Every completed instance ran each step once (tasks, service tasks, messages) and ended; started-only
    ones have one open task."""
    problems: list[str] = []
    expected_steps = Counter(s.element_id for s in flow.task_steps)
    with platform.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT instance_id, action, element_id, task_id FROM audit_events "
            "WHERE action IN ('instance.started', 'task.completed', 'service.completed', 'message.received', "
            "'instance.completed')"
        )).all()
        states = dict(conn.execute(text("SELECT id, state FROM process_instances")).all())
        open_tasks = Counter(r[0] for r in conn.execute(text(
            "SELECT instance_id FROM human_tasks WHERE state = 'open'")).all())
    by_instance: dict[int, list] = {}
    for row in rows:
        by_instance.setdefault(row[0], []).append(row)
    for iid in done:
        events = by_instance.get(iid, [])
        actions = Counter(r[1] for r in events)
        steps = Counter(r[2] for r in events if r[1] == "task.completed")
        task_ids = Counter(r[3] for r in events if r[1] == "task.completed")
        if states.get(iid) != "completed":
            problems.append(f"instance {iid} is {states.get(iid)}, not completed")
        if actions["instance.started"] != 1 or actions["instance.completed"] != 1:
            problems.append(f"instance {iid}: started {actions['instance.started']}x, "
                            f"completed {actions['instance.completed']}x")
        if steps != expected_steps:
            problems.append(f"instance {iid}: steps {dict(steps)} != {dict(expected_steps)}")
        if any(n > 1 for n in task_ids.values()):
            problems.append(f"instance {iid}: a task completed twice {dict(task_ids)}")
        messages = sum(1 for s in flow.steps if s.kind == "message")
        if actions["message.received"] != messages:
            problems.append(f"instance {iid}: {actions['message.received']} messages received, expected {messages}")
        if actions["service.completed"] != flow.service_tasks:
            problems.append(f"instance {iid}: {actions['service.completed']} service calls, "
                            f"expected {flow.service_tasks}")
    for iid in started_only:
        if sum(1 for r in by_instance.get(iid, []) if r[1] == "instance.started") != 1 or open_tasks[iid] != 1:
            problems.append(f"instance {iid}: not started exactly once with one open task")
    return problems


THROUGHPUT_GOAL = 500  # tower orders a minute on PostgreSQL, with the best number of processes (issue 16)


def throughput(make_url, flow: Flow, process_counts: tuple[int, ...], seconds: float, clients: int,
               workspace: Workspace, section: Section, memory: Section) -> None:
    best: tuple[float, int] = (0.0, 0)
    for count in process_counts:
        url = make_url(f"bench_tp{count}")
        platform, tokens, _ = prepare(url, flow)
        servers = [Server(url, workspace, f"tp{count}-{i}") for i in range(count)]
        try:
            for server in servers:
                server.wait_ready()
            ports = [s.port for s in servers]
            rss_idle = [s.rss_mb() for s in servers]
            run_load(ports, tokens, flow, count, 2.0, f"W{count}")  # warm-up, not counted
            log(f"throughput: {count} server process(es), {clients} clients, {seconds:.0f} s")
            full = run_load(ports, tokens, flow, clients, seconds, f"F{count}")
            starts = run_load(ports, tokens, flow, clients, max(3.0, seconds / 3), f"S{count}", starts_only=True)
            rss_after = [s.rss_mb() for s in servers]
        finally:
            for server in servers:
                server.stop()
        done_ids = set(full["done"])  # a client finishes the flow it is driving when the time is up
        problems = audit_check(platform, flow, list(done_ids), starts["ids"])
        problems += [f"client error: {e}" for e in full["errors"] + starts["errors"]]
        per_minute = len(full["done"]) / full["elapsed"] * 60
        best = max(best, (per_minute, count))
        section.add_row(count, clients, f"{per_minute:.0f}", f"{len(starts['ids']) / starts['elapsed']:.1f}",
                        ms(median(full["steps"])), ms(pct(full["steps"], 95)), ms(median(full["starts"])),
                        len(full["done"]), "none" if not problems else f"{len(problems)} problems")
        if full["waits"]:
            section.notes.append(
                f"{count} process(es): {len(full['waits'])} times of {len(full['steps']) + len(full['messages'])} "
                f"the next task (or the message's catch event) was not open yet when the previous answer came: "
                f"the service task in between ran outside the request (a server's timer clock, which runs every "
                f"due job, had leased it before the request's own drain); the client polled the instance until "
                f"it was (median wait {ms(median(full['waits']))} ms, max {ms(max(full['waits']))} ms).")
        if problems:
            section.blocks.append((f"{count} process(es): audit problems", "\n".join(problems[:30])))
        section.target(f"{count} process(es): no step run twice or lost (audit log)",
                       "ok" if not problems else f"{len(problems)} problems", "0 problems", not problems)
        for i in range(len(servers)):
            memory.add_row(f"server {i + 1} of {count} after the throughput run (PostgreSQL)",
                           f"{rss_idle[i]:.0f}", f"{rss_after[i]:.0f}")
        platform.close()
    section.target(f"tower orders a minute, best of {', '.join(map(str, process_counts))} process(es) "
                   f"(PostgreSQL) >= {THROUGHPUT_GOAL}", f"{best[0]:.0f} with {best[1]}", f">= {THROUGHPUT_GOAL}",
                   best[0] >= THROUGHPUT_GOAL, headline="Tower orders a minute, PostgreSQL")

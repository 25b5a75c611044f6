"""Issue 17, point 4: may a handler's call to another system leave the instance's lock?

On SQLite the instance's lock is the database's one write lock. A job runner thread calls the
PMS (a local HTTP server that answers after ``CALL_SECONDS``) for a queue of instances, while a
person completes tasks of other instances; each completion is timed. Run twice: once with the
handler called inside the job's transaction (as before issue 17), once registered remote and
called outside every lock (engine/runtime/remote_calls.py).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from .common import BENCH_DIR, Section, Target, Workspace, log, median, ms, pct

CALL_SECONDS = 0.1
QUEUED = 30  # instances whose PMS call the runner makes meanwhile
COMPLETIONS = 30  # tasks the person completes meanwhile, one after another


class _SlowPms(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(CALL_SECONDS)
        body = json.dumps({"project": "P-1"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def remote_lock(workspace: Workspace, section: Section) -> None:
    pms = ThreadingHTTPServer(("127.0.0.1", 0), _SlowPms)
    threading.Thread(target=pms.serve_forever, daemon=True).start()
    try:
        results = {remote: _measure(workspace, f"http://127.0.0.1:{pms.server_port}/", remote)
                   for remote in (False, True)}
    finally:
        pms.shutdown()
    for remote, (waits, calls_made) in results.items():
        section.rows.append(["SQLite", "outside every lock (remote)" if remote else "inside the job's transaction",
                             ms(CALL_SECONDS), calls_made, len(waits), ms(median(waits)), ms(pct(waits, 95)),
                             ms(max(waits))])
    inside, outside = results[False][0], results[True][0]
    section.targets.append(Target(
        "the longest a person's completion waited while another instance's 100 ms remote calls ran (SQLite)",
        f"{ms(max(outside))} ms outside the lock, {ms(max(inside))} ms inside",
        "never held up by a call (< 50 ms)", max(outside) < CALL_SECONDS / 2))
    section.notes.append(
        f"A job runner thread makes {QUEUED} calls of pms.create_project to a local HTTP server that answers "
        f"after {ms(CALL_SECONDS)} ms, while a person completes {COMPLETIONS} tasks of other instances, one "
        "after another (engine API, same process, SQLite file). Inside the job's transaction every call holds "
        "SQLite's one write lock, so a completion waits for the call in progress; called outside every lock, "
        "the completion waits for no call. Most completions fall between two calls either way, so the "
        "medians are alike; the longest wait tells the two apart.")


def _measure(workspace: Workspace, pms_url: str, remote: bool) -> tuple[list[float], int]:
    from engine.definitions import deployments
    from engine.models import HumanTask, Job
    from engine.principal import SYSTEM, Principal
    from engine.runtime import instances, jobs, tasks
    from engine.settings import Settings
    from handlers import pms
    from web.app import build_platform

    url = workspace.sqlite_url(f"bench_remote_{'out' if remote else 'in'}")
    platform = build_platform(Settings(database_url=url, systems={"pms": pms_url}))
    platform.init_db()
    platform.services = platform.services.copy()
    platform.services.add("pms.create_project", pms.create_project, remote=remote)
    clerk = Principal("bench_clerk", frozenset({"bench_clerks"}))
    deployments.deploy(platform, SYSTEM, {"remote_call.bpmn": (BENCH_DIR / "data" / "remote_call.bpmn").read_bytes()})

    def approve_task(instance_id: int) -> int:
        with platform.Session() as session:
            return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                             HumanTask.element_id == "approve"))

    queued = [instances.start(platform, SYSTEM, "remote_call", f"Q-{n}") for n in range(QUEUED)]
    for instance_id in queued:
        tasks.complete_step(platform, clerk, approve_task(instance_id), {})
    people = [approve_task(instances.start(platform, SYSTEM, "remote_call", f"P-{n}")) for n in range(COMPLETIONS)]
    log(f"remote call {'outside' if remote else 'inside'} the lock: {QUEUED} calls, {COMPLETIONS} completions")

    runner_done = threading.Event()

    def run_queue() -> None:
        for instance_id in queued:
            jobs.run_due_jobs(platform, limit=1, instance_id=instance_id)
        runner_done.set()

    runner = threading.Thread(target=run_queue, daemon=True)
    runner.start()
    time.sleep(CALL_SECONDS / 2)  # the first call is in flight
    waits = []
    for task_id in people:
        if runner_done.is_set():
            break
        t0 = time.perf_counter()
        tasks.complete_step(platform, clerk, task_id, {})
        waits.append(time.perf_counter() - t0)
    runner.join()
    with platform.Session() as session:
        calls_made = len(session.scalars(select(Job.id).where(Job.element_id == "open_project",
                                                              Job.state == "done")).all())
    platform.close()
    return waits, calls_made

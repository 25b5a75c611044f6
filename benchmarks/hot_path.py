"""Issue 16's first target, measured: five sequential user tasks driven over keep-alive HTTP
against ``towerflow serve``, each request timed against raw SpiffWorkflow in the same run; then,
in this process, the statements a request sends and a pyinstrument profile of where it spends
its time (what to change first is decided from these, not guessed)."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from .common import (
    BENCH_DIR,
    Http,
    Section,
    Server,
    Workspace,
    db_label,
    log,
    median,
    ms,
    pct,
    ratio,
    render_table,
)
from .flows import Flow, Step
from .step_cost import RawDriver, prepare

USER = "bench_clerk"
GROUP = "bench_clerks"
TASKS = tuple(f"task_{n}" for n in range(1, 6))
GOALS = {"SQLite": 0.005, "PostgreSQL": 0.008}  # issue 16: median per request
WARMUP = 3  # instances driven first and not counted (caches, connections, the server's first requests)


def five_tasks_flow() -> Flow:
    """benchmarks/data/five_tasks.bpmn: start, five user tasks for one candidate group (no form), end."""
    return Flow(key="five_tasks", files=(BENCH_DIR / "data" / "five_tasks.bpmn",),
                users={USER: ([GROUP], None)}, starter=USER, start_variables={"amount": 1},
                steps=tuple(Step(task, USER, {}) for task in TASKS),
                description="five_tasks: start, five sequential user tasks (candidate group, no form), end")


def _open_task(answer: dict[str, Any], element_id: str) -> int:
    """The next task's id from the instance the start or complete call answered with (no extra request)."""
    found = [t["id"] for t in answer.get("active_tasks", []) if t["element_id"] == element_id]
    if len(found) != 1:
        raise RuntimeError(f"expected one open {element_id}: {answer}")
    return found[0]


class HttpDriver:
    """One keep-alive connection: POST /process-instances, then POST /tasks/{id}/complete five
    times, each task's id taken from the previous answer. A candidate completes a group task
    without claiming it first (engine.runtime.tasks.check_may_complete), so there is no claim."""

    def __init__(self, port: int, token: str, flow: Flow) -> None:
        self.http = Http(port, token)
        self.flow = flow

    def start(self, business_key: str) -> tuple[dict[str, Any], float]:
        body = {"process_key": self.flow.key, "business_key": business_key,
                "variables": dict(self.flow.start_variables)}
        t0 = time.perf_counter()
        status, answer = self.http.request("POST", "/api/v1/process-instances", body)
        elapsed = time.perf_counter() - t0
        if status != 201:
            raise RuntimeError(f"start answered {status}: {answer}")
        return answer, elapsed

    def complete(self, answer: dict[str, Any], element_id: str) -> tuple[dict[str, Any], float]:
        task_id = _open_task(answer, element_id)
        t0 = time.perf_counter()
        status, answer = self.http.request("POST", f"/api/v1/tasks/{task_id}/complete", {"data": {}})
        elapsed = time.perf_counter() - t0
        if status != 200:
            raise RuntimeError(f"complete {element_id} answered {status}: {answer}")
        return answer, elapsed

    def close(self) -> None:
        self.http.close()


def hot_path(url: str, rounds: int, workspace: Workspace, section: Section, tag: str) -> dict[str, float]:
    """``rounds`` instances, raw and HTTP interleaved instance by instance; rows and targets into ``section``."""
    flow = five_tasks_flow()
    platform, tokens, definition_id = prepare(url, flow)
    label = db_label(url)
    with platform.Session() as session:
        spec, subs = platform.specs(session, definition_id)
    raw = RawDriver(spec, subs, platform.forms)
    server = Server(url, workspace, f"hot-{tag}").wait_ready()  # as deployed: timer clock on
    rss_idle = server.rss_mb()
    client = HttpDriver(server.port, tokens[USER], flow)
    samples: dict[str, list[float]] = {k: [] for k in ("a", "a_start", "c", "c_start")}
    try:
        for n in range(WARMUP + rounds):
            got: dict[str, list[float]] = {k: [] for k in samples}
            state, t = raw.start(flow.raw_variables(""))
            got["a_start"].append(t)
            for step in flow.steps:
                state, t = raw.step(state, step)
                got["a"].append(t)
            answer, t = client.start(f"HOT-{tag}-{n}")
            got["c_start"].append(t)
            for step in flow.steps:
                answer, t = client.complete(answer, step.element_id)
                got["c"].append(t)
            if answer.get("state") != "completed":
                raise RuntimeError(f"instance {answer.get('id')} did not end: {answer.get('state')}")
            if n >= WARMUP:
                for key, values in got.items():
                    samples[key] += values
        rss_after = server.rss_mb()
    finally:
        client.close()
        server.stop()
    result = {k: median(v) for k, v in samples.items()}
    result.update({f"{k}_p95": pct(v, 95) for k, v in samples.items()})
    goal = GOALS[label]
    for what, key, raw_key in (("completing a task", "c", "a"), ("starting an instance", "c_start", "a_start")):
        med, p95, base = result[key], result[f"{key}_p95"], result[raw_key]
        section.add_row(label, f"{what}: raw SpiffWorkflow", len(samples[raw_key]), ms(base),
                        ms(result[f"{raw_key}_p95"]), "1.00")
        section.add_row(label, f"{what}: HTTP", len(samples[key]), ms(med), ms(p95),
                        f"{ratio(med, base):.1f} x raw")
        section.target(f"{label}: {what} over HTTP, median <= {goal * 1000:.0f} ms", f"{ms(med)} ms",
                       f"<= {goal * 1000:.0f} ms", med <= goal, headline=f"{what.capitalize()} over HTTP, {label}")
        section.target(f"{label}: {what}, p95 <= 2 x median", f"{ratio(p95, med):.2f} x", "<= 2 x",
                       p95 <= 2 * med)
        section.target(f"{label}: {what}, HTTP <= 5 x raw", f"{ratio(med, base):.1f} x", "<= 5 x",
                       med <= 5 * base, headline=f"{what.capitalize()}, {label}, against raw SpiffWorkflow")
    section.notes.append(f"{label}: the server's resident memory {rss_idle:.0f} MiB idle, "
                         f"{rss_after:.0f} MiB after the run.")
    inside(platform, tokens[USER], flow, section, label, tag)
    platform.close()
    log(f"hot path on {label}: complete {ms(result['c'])} ms (raw {ms(result['a'])}), "
        f"start {ms(result['c_start'])} ms (raw {ms(result['a_start'])})")
    return result


# --- inside one request: statements and profile -----------------------------------------------

TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?(\w+)", re.IGNORECASE)


def _kind(statement: str) -> str:
    """``SELECT human_tasks`` etc.: the verb and the first table the statement names."""
    words = statement.split(None, 1)
    verb = words[0].upper() if words else "?"
    found = TABLE.search(statement)
    return f"{verb} {found.group(1)}" if found else verb


class StatementLog:
    """Statements (BEGIN left out: PostgreSQL's driver sends none through the cursor) and
    transactions (the engines' begin events) through the platform's engines while ``recording``."""

    def __init__(self, platform) -> None:
        from sqlalchemy import event

        self.kinds: Counter[str] = Counter()
        self.count = 0
        self.transactions = 0
        self.recording = False

        def execute(_conn, _cursor, statement, *_args) -> None:
            if self.recording and not statement.lstrip().upper().startswith("BEGIN"):
                self.count += 1
                self.kinds[_kind(statement)] += 1

        def begin(_conn) -> None:
            if self.recording:
                self.transactions += 1

        for engine in {platform.engine, platform.read_engine}:
            event.listen(engine, "before_cursor_execute", execute)
            event.listen(engine, "begin", begin)

    def measure(self, fn: Callable[[], Any]) -> tuple[Any, int, int]:
        before, transactions = self.count, self.transactions
        self.recording = True
        try:
            value = fn()
        finally:
            self.recording = False
        return value, self.count - before, self.transactions - transactions


def _wsgi(platform, token: str):
    """The same Flask app ``towerflow serve`` runs, in this process (no clock), called without a socket."""
    from web.app import create_app

    app = create_app({"TESTING": True}, platform=platform)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def call(method: str, path: str, body: Any) -> dict[str, Any]:
        response = client.open(path, method=method, json=body, headers=headers)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.get_data(as_text=True)}")
        return response.get_json()

    return call


def inside(platform, token: str, flow: Flow, section: Section, label: str, tag: str, profiled: int = 20) -> None:
    """Statements per request (in-process, same app), then a pyinstrument profile of ``profiled``
    instances' completions (the instances are started before the profile starts)."""
    call = _wsgi(platform, token)
    statements = StatementLog(platform)
    start_body = {"process_key": flow.key, "variables": dict(flow.start_variables)}
    starts, completes = [], []
    kinds: Counter[str] = Counter()
    for n in range(6):
        answer, count, commits = statements.measure(
            lambda n=n: call("POST", "/api/v1/process-instances", {**start_body, "business_key": f"SQL-{tag}-{n}"}))
        starts.append((count, commits))
        for step in flow.steps:
            task_id = _open_task(answer, step.element_id)
            before = Counter(statements.kinds)
            answer, count, commits = statements.measure(
                lambda t=task_id: call("POST", f"/api/v1/tasks/{t}/complete", {"data": {}}))
            if n:  # the first instance warms caches
                completes.append((count, commits))
                kinds += statements.kinds - before
    per = len(completes)
    section.add_row(label, "SQL statements / transactions per request: start", len(starts[1:]),
                    f"{median([c for c, _ in starts[1:]]):.0f} / {median([c for _, c in starts[1:]]):.0f}", "", "")
    section.add_row(label, "SQL statements / transactions per request: complete", per,
                    f"{median([c for c, _ in completes]):.0f} / {median([c for _, c in completes]):.0f}", "", "")
    section.blocks.append((f"{label}: statements one POST /tasks/{{id}}/complete sends (mean over {per}, in-process)",
                           render_table(["statement", "per request"],
                                        [[k, f"{v / per:.1f}"] for k, v in kinds.most_common()])))

    answers = [call("POST", "/api/v1/process-instances", {**start_body, "business_key": f"PROF-{tag}-{n}"})
               for n in range(profiled)]

    def completions() -> None:
        for answer in answers:
            for step in flow.steps:
                answer = call("POST", f"/api/v1/tasks/{_open_task(answer, step.element_id)}/complete", {"data": {}})

    section.blocks.append(profile_table(completions, profiled * len(flow.steps), label))


# Functions whose inclusive time is shown (a function nested in another counts in both).
PARTS: tuple[tuple[str, str, str], ...] = (
    ("bearer token -> principal (web/api/context.py)", "web/api/context.py", "principal"),
    ("tasks.complete (form check, lock, load, step, save, audit, commit)", "engine/runtime/tasks.py", "complete"),
    ("  InstanceRun.open (lock, load row, deserialize)", "engine/runtime/instance_run.py", "open"),
    ("    workflow_from_json", "engine/definitions/serialization.py", "workflow_from_json"),
    ("  InstanceRun.save", "engine/runtime/instance_run.py", "save"),
    ("    workflow_to_json", "engine/definitions/serialization.py", "workflow_to_json"),
    ("    sync_called (called.py)", "engine/runtime/called.py", "sync_called"),
    ("    sync_tokens (tokens.py)", "engine/runtime/tokens.py", "sync_tokens"),
    ("    sync_values (values.py)", "engine/runtime/values.py", "sync_values"),
    ("    _sync_human_tasks", "engine/runtime/instance_run.py", "_sync_human_tasks"),
    ("    _sync_timer_jobs / _sync_service_jobs / _sync_subscriptions", "engine/runtime/instance_run.py",
     "_sync_timer_jobs|_sync_service_jobs|_sync_subscriptions|_pending_jobs"),
    ("  audit.record", "engine/runtime/audit.py", "record"),
    ("Session.commit (flush + COMMIT)", "sqlalchemy/orm/session.py", "commit"),
    ("Session.flush (unit of work; also inside commit)", "sqlalchemy/orm/session.py", "flush"),
    ("jobs.drain (after the step)", "engine/runtime/jobs.py", "drain"),
    ("the answer: instance view (web/api/instances.py _view)", "web/api/instances.py", "_view"),
    ("SpiffWorkflow (all its frames)", "SpiffWorkflow/", "*"),
)

# Where the time is spent, by the file of the frame that spent it (its own time).
LAYERS: tuple[tuple[str, str], ...] = (
    ("database driver: execute/commit (sqlite3, psycopg)",
     r"<built-in>:(Connection|Cursor|PGconn)\.|/psycopg|psycopg_(c|binary)|wait_c|sqlite3"),
    ("SQLAlchemy (ORM, Core, compile, unit of work)", r"/sqlalchemy/"),
    ("SpiffWorkflow", r"/SpiffWorkflow/"),
    ("json", r"/json/"),
    ("Flask, werkzeug, marshmallow, smorest", r"/(flask|werkzeug|marshmallow|flask_smorest|apispec|webargs)/"),
    ("TowerFlow (engine, web, tower)", r"/(engine|web|tower|handlers|forms)/"),
    ("Python built-ins (dict.get, getattr, isinstance ...)", r"<built-in>"),
    ("other Python", r"."),
)


def _frames(frame) -> Iterator[Any]:
    yield frame
    for child in frame.children:
        yield from _frames(child)


def _matches(frame, path: str, functions: str) -> bool:
    file = (frame.file_path or "").replace("\\", "/")
    name = (frame.function or "").split(".")[-1]
    return path in file and (functions == "*" or name in functions.split("|"))


def _inclusive(frame, path: str, functions: str) -> float:
    """The time of the outermost frames matching (path, functions): nested matches not counted twice."""
    if _matches(frame, path, functions):
        return frame.time
    return sum(_inclusive(child, path, functions) for child in frame.children)


def profile_table(fn: Callable[[], Any], requests: int, label: str) -> tuple[str, str]:
    """Run ``fn`` under pyinstrument; the named parts' time and the time by layer, per request."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        fn()
        return (f"{label}: profile", "(pyinstrument is not installed: `pip install -e '.[bench]'`)")
    profiler = Profiler(interval=0.001)
    t0 = time.perf_counter()
    profiler.start()
    try:
        fn()
    finally:
        profiler.stop()
    wall = time.perf_counter() - t0
    root = profiler.last_session.root_frame()
    total = root.time
    rows = [["one request (wall clock, profiler on: slower than without)", ms(wall / requests), "100 %"]]
    for name, path, functions in PARTS:
        spent = _inclusive(root, path, functions)
        rows.append([name, ms(spent / requests), f"{100 * spent / total:.0f} %"])
    layers: Counter[str] = Counter()
    for frame in _frames(root):
        if frame.is_synthetic:  # pyinstrument's [self] / [await] leaves: their parent counts them
            continue
        own = frame.total_self_time
        where = f"{(frame.file_path or '').replace(chr(92), '/')}:{frame.function or ''}"  # built-ins: Cursor.execute
        for layer, pattern in LAYERS:
            if re.search(pattern, where):
                layers[layer] += own
                break
    rows.append(["-- own time by layer --", "", ""])
    rows += [[layer, ms(spent / requests), f"{100 * spent / total:.0f} %"] for layer, spent in layers.most_common()]
    return (f"{label}: pyinstrument profile of {requests} POST /tasks/{{id}}/complete in this process "
            f"(the server's Flask app, no socket); ms per request and share of the sampled time",
            render_table(["part", "ms / request", "share"], rows))

"""Point 1: the cost of completing one user task, raw SpiffWorkflow vs the engine vs HTTP;
point 5: how that cost and the bytes written grow in a looping instance."""

from __future__ import annotations

import functools
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from .common import (
    Http,
    Section,
    Server,
    Workspace,
    db_label,
    log,
    make_platform,
    make_user,
    median,
    ms,
    pct,
    principal,
    ratio,
)
from .flows import Flow, Step, loop_step, negotiation_flow
from .profiling import profile


class RawScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's own script engine (plain eval), with the names the diagrams use and
    service calls answered at once: what a platform needs at the very least."""

    def __init__(self) -> None:
        now = lambda: datetime.now(UTC).replace(tzinfo=None)  # noqa: E731
        super().__init__(environment=TaskDataEnvironment({"now": now, "datetime": datetime,
                                                          "timedelta": timedelta}))

    def call_service(self, task, operation_name=None, operation_params=None, **_kwargs):
        return json.dumps({"status": "recorded"})


@functools.cache
def _serializer():
    """SpiffWorkflow's own serializer as it comes (specs written into every workflow's JSON),
    not the platform's, which leaves the specs out."""
    from decimal import Decimal

    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

    registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
    registry.register(Decimal, lambda d: {"value": str(d)}, lambda dct: Decimal(dct["value"]), typename="Decimal")
    return BpmnWorkflowSerializer(registry)


def _ready_manual(wf: BpmnWorkflow, element_id: str):
    for sub in [wf, *wf.subprocesses.values()]:
        for task in sub.tasks.values():
            if task.state == TaskState.READY and task.task_spec.manual and task.task_spec.bpmn_id == element_id:
                return task
    raise LookupError(f"no ready task {element_id}")


def _form_data(flow_forms, wf: BpmnWorkflow, step: Step) -> dict[str, Any]:
    """The data the engine would store: the step's data after its form cleaned it."""
    from engine.forms_check import validate_form

    task = _ready_manual(wf, step.element_id)
    form_key = ((getattr(task.task_spec, "extensions", None) or {}).get("properties") or {}).get("formKey")
    return validate_form(flow_forms, form_key, step.data) if form_key else dict(step.data)


class RawDriver:
    """(a) raw SpiffWorkflow in memory: deserialize, complete, do_engine_steps, serialize."""

    def __init__(self, spec, subs, forms) -> None:
        self.spec, self.subs, self.forms = spec, subs, forms
        self.engine = RawScriptEngine()

    def start(self, variables: dict[str, Any]) -> tuple[str, float]:
        t0 = time.perf_counter()
        wf = BpmnWorkflow(self.spec, self.subs, script_engine=self.engine)
        for task in wf.get_tasks(state=TaskState.READY):
            task.set_data(**variables)
        wf.task_tree.set_data(**variables)
        wf.do_engine_steps()
        state = _serializer().serialize_json(wf)
        return state, time.perf_counter() - t0

    def step(self, state: str, step: Step) -> tuple[str, float]:
        peek = _serializer().deserialize_json(state)
        data = _form_data(self.forms, peek, step)  # untimed: the form check is not SpiffWorkflow's
        t0 = time.perf_counter()
        wf = _serializer().deserialize_json(state)
        wf.script_engine = self.engine
        task = _ready_manual(wf, step.element_id)
        task.set_data(**data)
        task.run()
        wf.do_engine_steps()
        state = _serializer().serialize_json(wf)
        return state, time.perf_counter() - t0


def open_task_id(platform, instance_id: int, element_id: str) -> int:
    from engine.models import HumanTask

    with platform.Session() as session:
        ids = session.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.state == "open",
                                                         HumanTask.element_id == element_id)).all()
    if len(ids) != 1:
        raise RuntimeError(f"instance {instance_id}: expected one open {element_id}, found {ids}")
    return ids[0]


class EngineDriver:
    """(b) the engine API with the database: engine.tasks.complete, then jobs.drain as the API does."""

    def __init__(self, platform, flow: Flow) -> None:
        from sqlalchemy import event

        self.platform, self.flow = platform, flow
        self.actors = {name: principal(name, groups, tenant) for name, (groups, tenant) in flow.users.items()}
        self.sql = 0  # statements sent to the database, all engines of the platform

        def count(*_args) -> None:
            self.sql += 1

        for engine in {platform.engine, platform.read_engine}:
            event.listen(engine, "before_cursor_execute", count)

    def start(self, business_key: str) -> tuple[int, float]:
        from engine import instances, jobs

        t0 = time.perf_counter()
        iid = instances.start(self.platform, self.actors[self.flow.starter], self.flow.key, business_key,
                              dict(self.flow.start_variables))
        jobs.drain(self.platform, iid)
        return iid, time.perf_counter() - t0

    def step(self, instance_id: int, step: Step) -> tuple[float, float]:
        """(complete, complete + drain) seconds; ``last_sql``: the statements complete + drain sent."""
        from engine import jobs, tasks

        task_id = open_task_id(self.platform, instance_id, step.element_id)
        before = self.sql
        t0 = time.perf_counter()
        tasks.complete(self.platform, self.actors[step.user], task_id, step.data)
        t1 = time.perf_counter()
        jobs.drain(self.platform, instance_id)
        elapsed = time.perf_counter() - t0
        self.last_sql = self.sql - before
        return t1 - t0, elapsed


class RestDriver:
    """(c) the REST API over HTTP on a real ``towerflow serve`` process."""

    def __init__(self, port: int, tokens: dict[str, str], flow: Flow) -> None:
        self.flow = flow
        self.clients = {name: Http(port, token) for name, token in tokens.items()}

    def start(self, business_key: str) -> tuple[int, float]:
        body = {"process_key": self.flow.key, "business_key": business_key,
                "variables": dict(self.flow.start_variables)}
        t0 = time.perf_counter()
        status, answer = self.clients[self.flow.starter].request("POST", "/api/v1/process-instances", body)
        elapsed = time.perf_counter() - t0
        if status != 201:
            raise RuntimeError(f"start answered {status}: {answer}")
        return answer["id"], elapsed

    def task_id(self, instance_id: int, step: Step) -> int:
        status, answer = self.clients[step.user].request("GET", f"/api/v1/process-instances/{instance_id}")
        found = [t["id"] for t in answer["active_tasks"] if t["element_id"] == step.element_id]
        if status != 200 or len(found) != 1:
            raise RuntimeError(f"instance {instance_id}: no single open {step.element_id}: {answer}")
        return found[0]

    def step(self, instance_id: int, step: Step) -> float:
        task_id = self.task_id(instance_id, step)
        t0 = time.perf_counter()
        status, answer = self.clients[step.user].request("POST", f"/api/v1/tasks/{task_id}/complete",
                                                         {"data": step.data})
        elapsed = time.perf_counter() - t0
        if status != 200:
            raise RuntimeError(f"complete answered {status}: {answer}")
        return elapsed

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def prepare(url: str, flow: Flow):
    """A platform with the flow deployed and its users; returns (platform, tokens, definition id)."""
    from engine import deployments
    from engine.models import ProcessDefinition
    from engine.principal import SYSTEM

    platform = make_platform(url)
    deployments.deploy(platform, SYSTEM, flow.deploy_files())
    tokens = {name: make_user(platform, name, groups, tenant) for name, (groups, tenant) in flow.users.items()}
    with platform.Session() as session:
        definition_id = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == flow.key)
                                       .order_by(ProcessDefinition.version.desc()).limit(1))
    return platform, tokens, definition_id


def step_cost(url: str, flow: Flow, rounds: int, workspace: Workspace, section: Section,
              tag: str) -> dict[str, float]:
    """Interleaved rounds of (a), (b), (c) on one database; adds rows to ``section``."""
    platform, tokens, definition_id = prepare(url, flow)
    with platform.Session() as session:
        spec, subs = platform.specs(session, definition_id)
    raw = RawDriver(spec, subs, platform.forms)
    eng = EngineDriver(platform, flow)
    server = Server(url, workspace, f"step-{tag}").wait_ready()
    rest = RestDriver(server.port, tokens, flow)
    samples: dict[str, list[float]] = {k: [] for k in ("a", "b", "b_complete", "c", "a_start", "b_start",
                                                       "c_start", "b_sql")}
    try:
        for n in range(rounds + 1):  # round 0 warms caches and is not counted
            keep = n > 0
            state, t = raw.start(dict(flow.start_variables))
            a_start = [t]
            a = []
            for step in flow.steps:
                state, t = raw.step(state, step)
                a.append(t)
            iid, t = eng.start(f"BENCH-{tag}-B{n}")
            b_start, b, bc, b_sql = [t], [], [], []
            for step in flow.steps:
                t_complete, t_total = eng.step(iid, step)
                bc.append(t_complete)
                b.append(t_total)
                b_sql.append(eng.last_sql)
            iid, t = rest.start(f"BENCH-{tag}-C{n}")
            c_start, c = [t], []
            for step in flow.steps:
                c.append(rest.step(iid, step))
            if keep:
                for key, values in (("a", a), ("b", b), ("b_complete", bc), ("c", c), ("a_start", a_start),
                                    ("b_start", b_start), ("c_start", c_start), ("b_sql", b_sql)):
                    samples[key] += values
    finally:
        rest.close()
        server.stop()
    result = {k: median(v) for k, v in samples.items()}
    result.update({f"{k}_p95": pct(v, 95) for k, v in samples.items()})
    label = db_label(url)
    n_steps = len(samples["a"])
    section.add_row(label, "(a) raw SpiffWorkflow in memory", n_steps, ms(result["a"]), ms(result["a_p95"]), "1.00")
    section.add_row(label, "(b) engine.tasks.complete", n_steps, ms(result["b_complete"]),
                    ms(result["b_complete_p95"]), f"{ratio(result['b_complete'], result['a']):.2f} x (a)")
    section.add_row(label, "(b) complete + jobs.drain (as the API does)", n_steps, ms(result["b"]),
                    ms(result["b_p95"]), f"{ratio(result['b'], result['a']):.2f} x (a)")
    section.add_row(label, "(c) POST /tasks/{id}/complete over HTTP", n_steps, ms(result["c"]), ms(result["c_p95"]),
                    f"{ratio(result['c'], result['b']):.2f} x (b)")
    section.add_row(label, "SQL statements per step in (b): median / max", n_steps,
                    f"{median(samples['b_sql']):.0f} / {max(samples['b_sql']):.0f}", "", "")
    section.add_row(label, "start: (a) raw / (b) engine / (c) HTTP", rounds,
                    f"{ms(result['a_start'])} / {ms(result['b_start'])} / {ms(result['c_start'])}", "", "")
    rb = ratio(result["b"], result["a"])
    rc = ratio(result["c"], result["b"])
    section.target(f"{label}: (b) <= 3 x (a)", f"{rb:.2f} x", "<= 3 x", rb <= 3)
    section.target(f"{label}: (c) <= 2 x (b)", f"{rc:.2f} x", "<= 2 x", rc <= 2)
    if rb > 3:
        section.blocks.append(_profile_engine_steps(platform, eng, flow, tag, label))
    platform.close()
    return result


def _profile_engine_steps(platform, eng: EngineDriver, flow: Flow, tag: str, label: str) -> tuple[str, str]:
    def run() -> None:
        for n in range(3):
            iid, _ = eng.start(f"BENCH-{tag}-P{n}")
            for step in flow.steps:
                eng.step(iid, step)

    return (f"{label}: pyinstrument profile of (b), 3 instances of the flow (start + every step)", profile(run))


# --- growth ---------------------------------------------------------------------------------

def growth(url: str, checkpoints: tuple[int, ...], section: Section, window: int = 5) -> dict[int, dict[str, float]]:
    """Drive the negotiation's progress-report loop to the last checkpoint through the engine API."""
    from engine.models import ProcessInstance
    from engine.serialization import workflow_from_json, workflow_to_json
    from engine.workflow import find_task, run_engine_steps

    flow = negotiation_flow(reports=0)
    platform, _tokens, definition_id = prepare(url, flow)
    eng = EngineDriver(platform, flow)
    iid, _ = eng.start("BENCH-GROWTH")
    for step in flow.steps[:2]:  # plan and accept; the report loop is open now
        eng.step(iid, step)
    step = loop_step()
    costs: dict[int, float] = {}
    results: dict[int, dict[str, float]] = {}
    with platform.Session() as session:
        specs = platform.specs(session, definition_id)  # the spec objects the platform keeps per version
    limit_hit = None
    for i in range(1, max(checkpoints) + 1):
        try:
            costs[i], _ = eng.step(iid, step)
        except RecursionError:
            # SpiffWorkflow walks the task tree recursively (Join._find_tasks -> Task.is_descendant_of);
            # past ~1,000 levels Python refuses. Note it, then go on with a higher limit to measure further.
            limit_hit = i
            sys.setrecursionlimit(20_000)
            costs[i], _ = eng.step(iid, step)
        if i in checkpoints:
            with platform.Session() as session:
                row = session.get(ProcessInstance, iid)
                state = row.workflow_json
                parsed = json.loads(state)
                tasks_in_state = len(parsed.get("tasks", {})) + sum(
                    len(sub.get("tasks", {})) for sub in parsed.get("subprocesses", {}).values())
            # the same step in memory only (platform (de)serialization, no database)
            mem = []
            for _ in range(window):
                t0 = time.perf_counter()
                wf = workflow_from_json(state, specs)
                wf.script_engine = platform.script_engine()
                task = next(t for t in [*wf.tasks.values(), *(x for s in wf.subprocesses.values()
                                                               for x in s.tasks.values())]
                            if t.state == TaskState.READY and t.task_spec.bpmn_id == "report")
                task = find_task(wf, str(task.id))
                task.set_data(progress_outcome="in_progress", progress_note="x")
                task.run()
                run_engine_steps(wf)
                workflow_to_json(wf)
                mem.append(time.perf_counter() - t0)
            last = [costs[k] for k in range(max(1, i - window + 1), i + 1)]
            results[i] = {"cost": median(last), "bytes": len(state.encode()), "tasks": tasks_in_state,
                          "memory": median(mem)}
    label = db_label(url)
    if limit_hit is not None:
        section.notes.append(
            f"{label}: iteration {limit_hit} failed with RecursionError (Python's default limit of 1,000 frames) "
            "inside SpiffWorkflow (BoundaryEventJoin: Join._find_tasks -> Task.is_descendant_of, which recurses "
            "once per ancestor), so completing the task fails with an error and the instance cannot move on. "
            "The benchmark raised the limit to 20,000 in its own process to measure beyond it; "
            "a server cannot go past this iteration.")
        section.target(f"{label}: the loop reaches iteration {max(checkpoints)} at all", f"fails at {limit_hit}",
                       "no error", False)
    base = results[checkpoints[0]]["cost"]
    for i in checkpoints:
        r = results[i]
        section.add_row(label, i, ms(r["cost"]), f"{ratio(r['cost'], base):.2f}", f"{r['bytes'] / 1024:.0f}",
                        r["tasks"], ms(r["memory"]))
    last = checkpoints[-1]
    growth_ratio = ratio(results[last]["cost"], base)
    section.target(f"{label}: step cost at {last} <= 3 x at {checkpoints[0]}", f"{growth_ratio:.2f} x", "<= 3 x",
                   growth_ratio <= 3)
    if growth_ratio > 3:
        def more() -> None:
            for _ in range(2):
                eng.step(iid, step)
        section.blocks.append((f"{label}: pyinstrument profile (functions by own time) of 2 loop steps after "
                               f"iteration {last}", profile(more, max_lines=30, flat=True, interval=0.01)))
    platform.close()
    log(f"growth on {label}: " + ", ".join(f"{i}: {ms(results[i]['cost'])} ms" for i in checkpoints))
    return results

"""Point 1: the cost of completing one user task, raw SpiffWorkflow vs the engine vs HTTP.
(Point 5, the growth of a looping instance, is in benchmarks/growth.py.)"""

from __future__ import annotations

import functools
import json
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
    render_table,
)
from .flows import PNG, Flow, Step
from .profiling import profile


class RawScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's own script engine (plain eval), with the names the diagrams use and
    service calls answered at once with fixed results: what a platform needs at the very least."""

    def __init__(self, results: dict[str, Any] | None = None) -> None:
        now = lambda: datetime.now(UTC).replace(tzinfo=None)  # noqa: E731
        super().__init__(environment=TaskDataEnvironment({"now": now, "datetime": datetime,
                                                          "timedelta": timedelta}))
        self.results = dict(results or {})

    def call_service(self, task, operation_name=None, operation_params=None, **_kwargs):
        return json.dumps(self.results.get(operation_name, RECORDED))


RECORDED = {"status": "recorded", "outbox_id": 1}  # what an outbound call answers with no system URL set


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


def _all_tasks(wf: BpmnWorkflow):
    for sub in [wf, *wf.subprocesses.values()]:
        yield from sub.tasks.values()


def _ready_manual(wf: BpmnWorkflow, element_id: str):
    for task in _all_tasks(wf):
        if task.state == TaskState.READY and task.task_spec.manual and task.task_spec.bpmn_id == element_id:
            return task
    raise LookupError(f"no ready task {element_id}")


def _waiting_message(wf: BpmnWorkflow, name: str):
    for task in _all_tasks(wf):
        definition = getattr(task.task_spec, "event_definition", None)
        if task.state == TaskState.WAITING and getattr(definition, "name", None) == name:
            return task, definition
    raise LookupError(f"nothing waits for the message {name}")


def _form_data(flow_forms, wf: BpmnWorkflow, step: Step, data: dict[str, Any]) -> dict[str, Any]:
    """The data the engine would store: the step's data after its form cleaned it."""
    from engine.runtime.forms_check import validate_form

    task = _ready_manual(wf, step.element_id)
    form_key = ((getattr(task.task_spec, "extensions", None) or {}).get("properties") or {}).get("formKey")
    return validate_form(flow_forms, form_key, data) if form_key else dict(data)


class RawDriver:
    """(a) raw SpiffWorkflow in memory: deserialize, complete, do_engine_steps, serialize."""

    def __init__(self, spec, subs, forms, start_form: str | None = None,
                 results: dict[str, Any] | None = None) -> None:
        self.spec, self.subs, self.forms, self.start_form = spec, subs, forms, start_form
        self.engine = RawScriptEngine(results)

    def start(self, variables: dict[str, Any]) -> tuple[str, float]:
        from engine.runtime.forms_check import validate_form

        if self.start_form:  # untimed, as for the steps: the engine checks the start form too
            variables = validate_form(self.forms, self.start_form, variables)
        t0 = time.perf_counter()
        wf = BpmnWorkflow(self.spec, self.subs, script_engine=self.engine)
        for task in wf.get_tasks(state=TaskState.READY):
            task.set_data(**variables)
        wf.task_tree.set_data(**variables)
        wf.do_engine_steps()
        state = _serializer().serialize_json(wf)
        return state, time.perf_counter() - t0

    def step(self, state: str, step: Step, business_key: str = "") -> tuple[str, float]:
        if step.kind == "message":
            return self.message(state, step, business_key)
        data = step.render(business_key)
        data.update({name: [1] for name in step.uploads})  # a stored file's id, as the upload answers
        peek = _serializer().deserialize_json(state)
        data = _form_data(self.forms, peek, step, data)  # untimed: the form check is not SpiffWorkflow's
        t0 = time.perf_counter()
        wf = _serializer().deserialize_json(state)
        wf.script_engine = self.engine
        task = _ready_manual(wf, step.element_id)
        task.set_data(**data)
        task.run()
        wf.do_engine_steps()
        state = _serializer().serialize_json(wf)
        return state, time.perf_counter() - t0

    def message(self, state: str, step: Step, business_key: str) -> tuple[str, float]:
        """Deserialize, hand the message to the task waiting for it, engine steps, serialize."""
        import copy

        from SpiffWorkflow.bpmn.util.event import BpmnEvent

        payload = step.render(business_key)
        t0 = time.perf_counter()
        wf = _serializer().deserialize_json(state)
        wf.script_engine = self.engine
        task, definition = _waiting_message(wf, step.element_id)
        wf.send_event(BpmnEvent(copy.copy(definition), payload=payload,
                                correlations=definition.get_correlations(task, payload)))
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
    """(b) the engine API with the database: engine.tasks.complete_step, then jobs.drain when it queued work,
    as the API does;
    Flow 1 starts with engine.demand_flow.enter_demand and submit, messages go through
    engine.messages.deliver, scans through engine.files.store."""

    def __init__(self, platform, flow: Flow) -> None:
        from sqlalchemy import event

        self.platform, self.flow = platform, flow
        self.actors = {name: principal(name, groups, tenant) for name, (groups, tenant) in flow.users.items()}
        self.sql = 0  # statements sent to the database, all engines of the platform
        self.last_sql = 0

        def count(*_args) -> None:
            self.sql += 1

        for engine in {platform.engine, platform.read_engine}:
            event.listen(engine, "before_cursor_execute", count)

    def start(self, business_key: str) -> tuple[int, float]:
        from engine.runtime import instances, jobs
        from tower import demand_flow

        starter = self.actors[self.flow.starter]
        record = self.flow.demand_record(business_key) if self.flow.demand else None
        t0 = time.perf_counter()
        if record is not None:
            demand_flow.enter_demand(self.platform, starter, record)
            iid = demand_flow.submit(self.platform, starter, [business_key])[0]["instance_id"]
        else:
            iid = instances.start(self.platform, starter, self.flow.key, business_key,
                                  dict(self.flow.start_variables))
        jobs.drain(self.platform, iid)
        return iid, time.perf_counter() - t0

    def upload(self, instance_id: int, task_id: int, user: str, field_name: str) -> int:
        from engine.runtime import files

        schema = self.platform.forms.get(self._form_key(task_id))
        meta = schema().fields[field_name].metadata
        limits = files.Limits(int(meta.get("max_size") or 0), tuple(meta.get("content_types") or ()))
        return files.store(self.platform, self.actors[user], field_name, files.Upload("scan.png", PNG), limits,
                           instance_id=instance_id, task_id=task_id)

    def _form_key(self, task_id: int) -> str:
        from engine.models import HumanTask

        with self.platform.Session() as session:
            return session.get(HumanTask, task_id).form_key

    def step(self, instance_id: int, step: Step, business_key: str = "") -> tuple[float, float]:
        """(complete, complete + drain) seconds; ``last_sql``: the statements complete + drain sent."""
        from engine.runtime import jobs, messages, tasks

        actor = self.actors[step.user]
        data = step.render(business_key)
        if step.kind == "message":
            before = self.sql
            t0 = time.perf_counter()
            result = messages.deliver(self.platform, actor, step.element_id, f"{business_key}-{step.element_id}",
                                      business_key, None, data)
            t1 = time.perf_counter()
            for iid in result["delivered_to"]:
                jobs.drain(self.platform, iid)
            elapsed = time.perf_counter() - t0
            if result["delivered_to"] != [instance_id]:
                raise RuntimeError(f"{step.element_id} for {business_key}: {result}")
            self.last_sql = self.sql - before
            return t1 - t0, elapsed
        task_id = open_task_id(self.platform, instance_id, step.element_id)
        for name in step.uploads:
            data[name] = [self.upload(instance_id, task_id, step.user, name)]
        before = self.sql
        t0 = time.perf_counter()
        done = tasks.complete_step(self.platform, actor, task_id, data)
        t1 = time.perf_counter()
        if done.queued:  # as the API does: a step that queued nothing leaves nothing to drain
            jobs.drain(self.platform, instance_id)
        elapsed = time.perf_counter() - t0
        self.last_sql = self.sql - before
        return t1 - t0, elapsed


class RestDriver:
    """(c) the REST API over HTTP on a real ``towerflow serve`` process."""

    WAIT = 30.0  # seconds to wait for a task or a message's catch event to open

    def __init__(self, port: int, tokens: dict[str, str], flow: Flow) -> None:
        self.flow = flow
        self.clients = {name: Http(port, token) for name, token in tokens.items()}
        self.waits: list[float] = []  # how long the next step was not open yet after the previous answer

    def start(self, business_key: str) -> tuple[int, float]:
        """POST /process-instances, or for Flow 1 POST /demands then POST /demands/submit (timed together)."""
        client = self.clients[self.flow.starter]
        if self.flow.demand:
            record = self.flow.demand_record(business_key)
            t0 = time.perf_counter()
            status, answer = client.request("POST", "/api/v1/demands", record)
            if status != 201:
                raise RuntimeError(f"demand entry answered {status}: {answer}")
            status, answer = client.request("POST", "/api/v1/demands/submit", {"demand_nos": [business_key]})
            elapsed = time.perf_counter() - t0
            if status != 201:
                raise RuntimeError(f"submit answered {status}: {answer}")
            return answer["started"][0]["instance_id"], elapsed
        body = {"process_key": self.flow.key, "business_key": business_key,
                "variables": dict(self.flow.start_variables)}
        t0 = time.perf_counter()
        status, answer = client.request("POST", "/api/v1/process-instances", body)
        elapsed = time.perf_counter() - t0
        if status != 201:
            raise RuntimeError(f"start answered {status}: {answer}")
        return answer["id"], elapsed

    def task_id(self, instance_id: int, step: Step) -> int:
        """The open task, waiting while the instance is running without it: the complete call's own
        drain finds no due job when another thread or server process (their timer clocks run due
        jobs too) has leased the service task first, so its answer can come before the next task opens."""
        t0 = time.perf_counter()
        tries = 0
        while True:
            tries += 1
            status, answer = self.clients[step.user].request("GET", f"/api/v1/process-instances/{instance_id}")
            found = [t["id"] for t in answer["active_tasks"] if t["element_id"] == step.element_id] \
                if status == 200 else []
            if len(found) == 1:
                break
            if (status != 200 or found or answer["state"] not in ("running", "waiting") or answer["incidents"]
                    or time.perf_counter() - t0 > self.WAIT):
                raise RuntimeError(f"instance {instance_id}: no single open {step.element_id}: {answer}")
            time.sleep(0.01)
        if tries > 1:
            self.waits.append(time.perf_counter() - t0)
        return found[0]

    def step(self, instance_id: int, step: Step, business_key: str = "") -> float:
        client = self.clients[step.user]
        data = step.render(business_key)
        if step.kind == "message":
            body = {"name": step.element_id, "business_key": business_key,
                    "message_id": f"{business_key}-{step.element_id}", "payload": data}
            waited = time.perf_counter()
            while True:  # 404 while the catch event is not reached yet (see task_id)
                t0 = time.perf_counter()
                status, answer = client.request("POST", "/api/v1/messages", body)
                elapsed = time.perf_counter() - t0
                if status != 404 or time.perf_counter() - waited > self.WAIT:
                    break
                time.sleep(0.01)
            if t0 - waited > 0.001:
                self.waits.append(t0 - waited)
            if status != 200 or answer.get("delivered_to") != [instance_id]:
                raise RuntimeError(f"message {step.element_id} answered {status}: {answer}")
            return elapsed
        task_id = self.task_id(instance_id, step)
        for name in step.uploads:
            status, answer = client.upload(f"/api/v1/tasks/{task_id}/files", {"field": name}, "scan.png", PNG)
            if status != 201:
                raise RuntimeError(f"upload answered {status}: {answer}")
            data[name] = [answer["id"]]
        t0 = time.perf_counter()
        status, answer = client.request("POST", f"/api/v1/tasks/{task_id}/complete", {"data": data})
        elapsed = time.perf_counter() - t0
        if status != 200:
            raise RuntimeError(f"complete {step.element_id} answered {status}: {answer}")
        return elapsed

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def prepare(url: str, flow: Flow):
    """A platform with the flow deployed, its users and stored sites; returns (platform, tokens, definition id)."""
    from engine.definitions import deployments
    from engine.models import ProcessDefinition
    from engine.principal import SYSTEM
    from tower import sites

    platform = make_platform(url)
    deployments.deploy(platform, SYSTEM, flow.deploy_files())
    tokens = {name: make_user(platform, name, groups, tenant) for name, (groups, tenant) in flow.users.items()}
    with platform.transaction() as session:
        for site in flow.sites:
            sites.add_site(session, site.code, site.name, site.longitude, site.latitude, site.area_type)
    with platform.Session() as session:
        definition_id = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == flow.key)
                                       .order_by(ProcessDefinition.version.desc()).limit(1))
    return platform, tokens, definition_id


def raw_results(platform, flow: Flow) -> dict[str, Any]:
    """Fixed service results for the raw engine: the outbox's answer, and the site library's
    answer for a demand of the flow (the stored site, found), so (a) takes the same path."""
    from tower import sites

    results = dict(flow.raw_results)
    if flow.sites:
        site = flow.sites[0]
        with platform.Session() as session:
            results["site_library.find_nearby"] = sites.search_view(
                sites.search(session, site.longitude + 0.0001, site.latitude, site.area_type))
    return results


def step_cost(url: str, flow: Flow, rounds: int, workspace: Workspace, section: Section,
              tag: str) -> dict[str, float]:
    """Interleaved rounds of (a), (b), (c) on one database; adds rows to ``section``."""
    from engine.models import ProcessDefinition

    platform, tokens, definition_id = prepare(url, flow)
    with platform.Session() as session:
        spec, subs = platform.specs(session, definition_id)
        start_form = session.get(ProcessDefinition, definition_id).start_form_key if flow.demand else None
    raw = RawDriver(spec, subs, platform.forms, start_form, raw_results(platform, flow))
    eng = EngineDriver(platform, flow)
    # No timer clock: it would lease the jobs (b) queues before (b)'s own drain runs them, and (c)'s
    # handler drains its own; so every service task a step queues runs inside the measured call.
    server = Server(url, workspace, f"step-{tag}", clock=False).wait_ready()
    rest = RestDriver(server.port, tokens, flow)
    keys = ("a", "b", "b_complete", "c", "a_start", "b_start", "c_start", "b_sql", "a_msg", "b_msg", "c_msg")
    samples: dict[str, list[float]] = {k: [] for k in keys}
    per_task: dict[str, dict[str, list[float]]] = {}
    try:
        for n in range(rounds + 1):  # round 0 warms caches and is not counted
            got: dict[str, list[float]] = {k: [] for k in keys}
            mine: dict[str, dict[str, float]] = {}
            bk = f"BENCH-{tag}-A{n}"
            state, t = raw.start(flow.raw_variables(bk))
            got["a_start"].append(t)
            for step in flow.steps:
                state, t = raw.step(state, step, bk)
                got["a_msg" if step.kind == "message" else "a"].append(t)
                mine.setdefault(step.element_id, {})["a"] = t
            bk = f"BENCH-{tag}-B{n}"
            iid, t = eng.start(bk)
            got["b_start"].append(t)
            for step in flow.steps:
                t_complete, t_total = eng.step(iid, step, bk)
                if step.kind == "message":
                    got["b_msg"].append(t_total)
                    continue
                got["b_complete"].append(t_complete)
                got["b"].append(t_total)
                got["b_sql"].append(eng.last_sql)
                mine[step.element_id]["b"] = t_total
            bk = f"BENCH-{tag}-C{n}"
            iid, t = rest.start(bk)
            got["c_start"].append(t)
            for step in flow.steps:
                t = rest.step(iid, step, bk)
                got["c_msg" if step.kind == "message" else "c"].append(t)
                mine[step.element_id]["c"] = t
            if n > 0:
                for key, values in got.items():
                    samples[key] += values
                for element, times in mine.items():
                    for key, value in times.items():
                        per_task.setdefault(element, {}).setdefault(key, []).append(value)
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
    start_what = "enter + submit the demand" if flow.demand else "start"
    section.add_row(label, f"{start_what}: (a) raw / (b) engine / (c) HTTP", rounds,
                    f"{ms(result['a_start'])} / {ms(result['b_start'])} / {ms(result['c_start'])}", "", "")
    if samples["a_msg"]:
        names = ", ".join(sorted({s.element_id for s in flow.steps if s.kind == "message"}))
        section.add_row(label, f"message {names}: (a) raw / (b) deliver + drain / (c) POST /messages",
                        len(samples["a_msg"]),
                        f"{ms(result['a_msg'])} / {ms(result['b_msg'])} / {ms(result['c_msg'])}", "", "")
    section.blocks.append(_per_task_table(flow, per_task, label))
    rb = ratio(result["b"], result["a"])
    rc = ratio(result["c"], result["b"])
    section.target(f"{label}: Flow 1 engine API (b) <= 2 x raw (a)", f"{rb:.2f} x", "<= 2 x", rb <= 2,
                   headline=f"Flow 1 step, {label}: engine against raw SpiffWorkflow")
    section.target(f"{label}: Flow 1 over HTTP (c) <= 1.2 x engine API (b)", f"{rc:.2f} x", "<= 1.2 x", rc <= 1.2,
                   headline=f"Flow 1 step, {label}: HTTP against the engine")
    if rb > 2:
        section.blocks.append(_profile_engine_steps(platform, eng, flow, tag, label))
    platform.close()
    log(f"step cost on {label}: (a) {ms(result['a'])} ms, (b) {ms(result['b'])} ms ({rb:.2f} x), "
        f"(c) {ms(result['c'])} ms ({rc:.2f} x (b))")
    return result


def _per_task_table(flow: Flow, per_task: dict[str, dict[str, list[float]]], label: str) -> tuple[str, str]:
    rows = []
    for element in dict.fromkeys(s.element_id for s in flow.task_steps):
        times = per_task.get(element, {})
        a, b, c = (median(times.get(k, [])) for k in ("a", "b", "c"))
        rows.append([element, len(times.get("a", [])), ms(a), ms(b), ms(c), f"{ratio(b, a):.2f}", f"{ratio(c, b):.2f}"])
    return (f"{label}: median ms per user task of the flow (in the order it runs)",
            render_table(["task", "n", "(a)", "(b)", "(c)", "(b)/(a)", "(c)/(b)"], rows))


def _profile_engine_steps(platform, eng: EngineDriver, flow: Flow, tag: str, label: str) -> tuple[str, str]:
    def run() -> None:
        for n in range(3):
            bk = f"BENCH-{tag}-P{n}"
            iid, _ = eng.start(bk)
            for step in flow.steps:
                eng.step(iid, step, bk)

    return (f"{label}: pyinstrument profile of (b), 3 instances of the flow (start + every step)", profile(run))

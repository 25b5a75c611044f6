"""A dry run: a diagram run in memory with sample data, to try it before deploying.

The files are linted exactly as a deployment would be (``deployments.lint``: the same checks,
the deployed decisions and called processes read from the database), then the chosen process
runs as a SpiffWorkflow workflow with the platform's sandboxed script engine, one task at a
time, recording each step. Nothing is written: no instance, task, job, audit or outbox row is
made, no lifecycle listener is told, and no service handler is called.

- user tasks are completed with the sample data given for their element id (else nothing), in
  the order they became ready;
- service tasks are not called: their result variable gets ``STUB_RESULT`` (their parameters
  are still evaluated, so a bad expression shows);
- a waiting timer is fired at once (``fire_timers``), or the run stops there and reports it;
- a message catch event stops the run: it reports the message it waits for;
- ``budget`` steps at most, so a loop that never waits is stopped and reported.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.definitions import deployments
from engine.definitions.serialization import specs_from_json
from engine.errors import BadRequest, ValidationFailed
from engine.runtime.workflow import (
    all_tasks,
    fire_timer,
    is_completed,
    is_service,
    waiting_messages,
    waiting_timers,
)

if TYPE_CHECKING:
    from engine.platform import Platform

STUB_RESULT = {"status": "dry-run"}
DEFAULT_BUDGET = 500
MAX_BUDGET = 5000
_INTERNAL_RUNS_PER_STEP = 20  # hidden tasks (joins, the process's own start and end) per visible step


@dataclass
class DryRunStep:
    number: int
    element_id: str
    name: str | None
    type: str
    outcome: str
    """``started``, ``ran``, ``completed`` (a user task, with ``given``), ``service_not_called``,
    ``timer_fired_early`` or ``ended``."""
    came_from: str | None
    """The element visited just before on the way here (the sequence flow's source)."""
    given: dict[str, Any] | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass
class DryRunResult:
    process_key: str
    state: str
    """``completed``, ``waiting`` (a message, or a timer when timers are not fired), ``error``
    (a failing script or expression, a stuck process) or ``budget`` (the step budget ran out)."""
    message: str
    element_id: str | None
    steps: list[DryRunStep]
    variables: dict[str, Any]
    notes: list[str]
    waiting: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def dry_run(platform: Platform, files: dict[str, bytes], process_key: str | None = None,
            sample: dict[str, Any] | None = None, *, budget: int = DEFAULT_BUDGET,
            fire_timers: bool = True) -> DryRunResult:
    """Lint ``files`` and run ``process_key`` (by default the first process of the files) in
    memory with ``sample`` = ``{"start": {...}, "tasks": {"element_id": {...}}}``.

    Raises ``ValidationFailed`` (with the lint's problems) when the files have errors."""
    start_data, task_data = _sample(sample)
    budget = max(1, min(int(budget), MAX_BUDGET))
    result = deployments.lint(platform, files)
    if result.problems:
        raise ValidationFailed("%(count)s problem(s) found; the diagram was not run",
                               {"problems": [p.as_dict() for p in result.problems]}, count=len(result.problems))
    own = [p for p in result.processes if p.rebuilt_from is None]
    chosen = next((p for p in own if p.key == process_key), None) if process_key else (own[0] if own else None)
    if chosen is None:
        raise (BadRequest("the files define no process '%(process_key)s'", process_key=process_key) if process_key
               else BadRequest("the files define no process"))
    spec, subprocess_specs = specs_from_json(chosen.spec_json)
    engine = platform.script_engine(call=lambda _task, _operator, _params: dict(STUB_RESULT))
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    return _Run(workflow, chosen.key, start_data, task_data, budget, fire_timers).go()


def _sample(sample: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    sample = sample or {}
    if not isinstance(sample, dict):
        raise BadRequest("the sample data must be an object: {\"start\": {...}, \"tasks\": {...}}")
    start, tasks = sample.get("start") or {}, sample.get("tasks") or {}
    if not isinstance(start, dict):
        raise BadRequest("the sample's \"start\" must be an object of variables")
    if not isinstance(tasks, dict) or not all(isinstance(v, dict) for v in tasks.values()):
        raise BadRequest("the sample's \"tasks\" must map element ids to objects of variables")
    return start, tasks


class _Stop(Exception):
    def __init__(self, state: str, message: str, element_id: str | None = None):
        super().__init__(message)
        self.state, self.message, self.element_id = state, message, element_id


class _Run:
    def __init__(self, workflow: BpmnWorkflow, key: str, start: dict[str, Any],
                 tasks: dict[str, dict[str, Any]], budget: int, fire_timers: bool):
        self.wf, self.key, self.start, self.tasks = workflow, key, start, tasks
        self.budget, self.fire_timers = budget, fire_timers
        self.steps: list[DryRunStep] = []
        self.notes: list[str] = []
        self.waiting: list[dict[str, Any]] = []
        self.fired: set = set()
        self.runs = 0

    def go(self) -> DryRunResult:
        for task in self.wf.get_tasks(state=TaskState.READY):
            task.set_data(**self.start)
        self.wf.task_tree.set_data(**self.start)
        try:
            self._loop()
            state, message, element = "completed", "the process reached its end", None
        except _Stop as stop:
            state, message, element = stop.state, stop.message, stop.element_id
        if any(s.outcome == "service_not_called" for s in self.steps):
            self.notes.insert(0, f"service tasks were not called: their result variable was set to "
                                 f"{json.dumps(STUB_RESULT)}")
        return DryRunResult(self.key, state, message, element, self.steps, _variables(self.wf), self.notes,
                            self.waiting)

    def _loop(self) -> None:
        while True:
            task = self._next_automatic()
            if task is None:
                task = self._next_waiting_on_people_or_services()
            if task is None:
                if is_completed(self.wf):
                    return
                self._wait()
                continue
            self._run(task)

    # --- choosing the next task --------------------------------------------------------------

    def _next_automatic(self) -> Task | None:
        """Like ``run_engine_steps``: subprocesses deepest first, then the top level."""
        for _ in range(2):
            for sub in sorted(self.wf.get_active_subprocesses(), key=lambda s: s.depth, reverse=True):
                task = _first_automatic(sub.tasks.values())
                if task is not None:
                    return task
                if sub.parent_task_id is not None:
                    parent = self.wf.get_task_from_id(sub.parent_task_id)
                    parent.task_spec._update(parent)
            task = _first_automatic(self.wf.tasks.values())
            if task is not None:
                return task
            self.wf.refresh_timers()
        return None

    def _next_waiting_on_people_or_services(self) -> Task | None:
        ready = [t for t in all_tasks(self.wf) if t.state == TaskState.READY
                 and (t.task_spec.manual or is_service(t))]
        return min(ready, key=lambda t: t.last_state_change) if ready else None

    def _wait(self) -> None:
        """Nothing can run: fire a waiting timer, or stop at a message, a timer or a dead end."""
        timers = waiting_timers(self.wf)
        messages = waiting_messages(self.wf)
        if timers and self.fire_timers:
            first = min(timers, key=lambda t: t.due_at)
            fire_timer(self.wf, first.task)
            self.fired.add(first.task.id)
            element = _element(first.task)
            self.notes.append(f"timer '{element}' (due {first.due_at.isoformat(timespec='seconds')} UTC) "
                              f"was fired at once")
            return
        for m in messages:
            self.waiting.append({"element_id": _element(m.task), "kind": "message", "message": m.name})
        if not self.fire_timers:
            for t in timers:
                self.waiting.append({"element_id": _element(t.task), "kind": "timer",
                                     "due_at": t.due_at.isoformat(timespec="seconds")})
        if self.waiting:
            first = self.waiting[0]
            what = (f"waiting for message '{first['message']}'" if first["kind"] == "message"
                    else f"waiting for a timer due {first['due_at']} UTC")
            raise _Stop("waiting", what, first["element_id"])
        raise _Stop("error", "the process has no ready or waiting task but its end event was never reached")

    # --- running one task --------------------------------------------------------------------

    def _run(self, task: Task) -> None:
        self.runs += 1
        visible = _element(task) is not None
        if len(self.steps) >= self.budget or self.runs > self.budget * _INTERNAL_RUNS_PER_STEP:
            raise _Stop("budget", f"stopped after {len(self.steps)} steps (the budget): a loop that never "
                                  f"waits?", _element(task))
        given = None
        outcome = _outcome(task)
        before = _json(task.data)
        if task.task_spec.manual:
            given = dict(self.tasks.get(_element(task) or "", {}))
            task.set_data(**given)
        elif task.id in self.fired:
            outcome = "timer_fired_early"
        try:
            task.run()
        except Exception as exc:
            element = getattr(exc, "element_id", None) or _element(task)
            if visible:
                self._record(task, "failed", given, before)
            raise _Stop("error", _describe(exc), element) from None
        self._after_subprocess(task)
        if visible:
            self._record(task, outcome, given, before)

    def _after_subprocess(self, task: Task) -> None:
        sub = task.workflow
        if sub is not self.wf and getattr(sub, "parent_task_id", None) is not None:
            parent = self.wf.get_task_from_id(sub.parent_task_id)
            if parent is not None:
                parent.task_spec._update(parent)

    def _record(self, task: Task, outcome: str, given: dict[str, Any] | None, before: dict[str, Any]) -> None:
        after = _json(task.data)
        changes = {k: v for k, v in after.items() if k not in before or before[k] != v}
        self.steps.append(DryRunStep(
            number=len(self.steps) + 1, element_id=_element(task), name=task.task_spec.bpmn_name,
            type=type(task.task_spec).__name__, outcome=outcome, came_from=_came_from(task),
            given=given, changes=changes, variables=after))


def _first_automatic(tasks) -> Task | None:
    for task in list(tasks):
        if task.state == TaskState.READY and not task.task_spec.manual and not is_service(task):
            return task
    return None


def _outcome(task: Task) -> str:
    spec = task.task_spec
    if spec.manual:
        return "completed"
    if is_service(task):
        return "service_not_called"
    if isinstance(spec, StartEvent):
        return "started"
    if isinstance(spec, EndEvent):
        return "ended"
    if isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
        return "timer_fired_early"
    return "ran"


def _element(task: Task) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None)


def _came_from(task: Task) -> str | None:
    parent = task.parent
    while parent is not None and _element(parent) is None:
        parent = parent.parent
    return _element(parent) if parent is not None else None


def _json(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, default=str))


def _variables(wf: BpmnWorkflow) -> dict[str, Any]:
    live = [t for t in all_tasks(wf) if t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED,
                                                    TaskState.ERROR)]
    if live:
        return _json(max(live, key=lambda t: t.last_state_change).data)
    finished = [t for t in wf.tasks.values() if t.state == TaskState.COMPLETED]
    return _json(max(finished, key=lambda t: t.last_state_change).data) if finished else {}


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    inner = getattr(exc, "error", None) or exc.__cause__ or exc.__context__
    if inner is not None and str(inner) and str(inner) not in text:
        text = f"{text}: {inner.__class__.__name__}: {inner}"
    return " ".join(text.split())

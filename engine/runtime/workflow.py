"""Operations on one SpiffWorkflow workflow in memory; nothing here touches the database.

SpiffWorkflow's own ``do_engine_steps`` finds READY tasks through a depth-limited tree
iterator, so a gateway loop of a few hundred iterations silently stops and
``is_completed()`` turns True with the end event never reached (DESIGN.md, "Known traps").
Here every lookup walks the workflow's flat ``tasks`` dictionaries instead, completion means
the top-level end ran, and a workflow that can make no progress without being complete is
reported as stuck, never as completed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity as CallActivityMixin
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

MAX_STEPS_PER_ADVANCE = 200_000


class StuckWorkflow(Exception):
    """The workflow can make no progress and yet its end was never reached."""


class RunawayWorkflow(Exception):
    """The workflow ran more tasks in one go than any sane process needs."""


class TimerError(Exception):
    """A timer's expression gave something that is not a date, duration or cycle."""

    def __init__(self, message: str, element_id: str):
        super().__init__(message)
        self.element_id = element_id


class PlatformScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine with the platform's sandbox, service calls sent to a
    callable supplied by the job runner, and timer values checked where they are computed."""

    def __init__(self, environment=None, call=None):
        super().__init__(environment=environment)
        self.call = call

    def call_service(self, task, operation_name=None, operation_params=None, **_kwargs):
        if self.call is None:
            raise RuntimeError("service tasks run only from the job runner")
        params = {name: p.get("value") for name, p in (operation_params or {}).items()}
        return json.dumps(self.call(task, operation_name, params), default=str)

    def evaluate(self, task, expression, external_context=None):
        value = super().evaluate(task, expression, external_context)
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition) and expression == definition.expression:
            _check_timer_value(task, definition, value)
        return value


def _check_timer_value(task: Task, definition: TimerEventDefinition, value: Any) -> None:
    """SpiffWorkflow fails on a bad timer value with a bare 'Invalid duration' naming nothing."""
    try:
        if isinstance(definition, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        elif isinstance(definition, DurationTimerEventDefinition):
            TimerEventDefinition.parse_iso_duration(value)
        else:
            TimerEventDefinition.get_datetime(value)
    except Exception:
        element = task.task_spec.bpmn_id or task.task_spec.name
        raise TimerError(
            f"timer '{element}': {definition.expression} gave {value!r}, which is not an ISO 8601 "
            f"{_timer_kind(definition)}", element) from None


def _timer_kind(definition: TimerEventDefinition) -> str:
    if isinstance(definition, CycleTimerEventDefinition):
        return "repeating interval (e.g. R3/PT1H)"
    if isinstance(definition, DurationTimerEventDefinition):
        return "duration (e.g. PT15M)"
    return "date and time (e.g. 2026-12-01T09:00:00)"


def all_tasks(wf: BpmnWorkflow) -> Iterator[Task]:
    """Every task of the workflow and of its subprocesses, without the depth limit."""
    yield from list(wf.tasks.values())
    for sub in list(wf.subprocesses.values()):
        yield from list(sub.tasks.values())


def is_service(task: Task) -> bool:
    return isinstance(task.task_spec, ServiceTask)


def ready_user_tasks(wf: BpmnWorkflow) -> list[Task]:
    return [t for t in all_tasks(wf) if t.state == TaskState.READY and t.task_spec.manual]


def ready_service_tasks(wf: BpmnWorkflow) -> list[Task]:
    return [t for t in all_tasks(wf) if t.state == TaskState.READY and is_service(t)]


def find_task(wf: BpmnWorkflow, task_id: str) -> Task | None:
    for task in all_tasks(wf):
        if str(task.id) == task_id:
            return task
    return None


def _run_ready(workflow) -> int:
    count = 0
    for task in [t for t in workflow.tasks.values() if t.state == TaskState.READY]:
        if task.state != TaskState.READY or task.task_spec.manual or is_service(task):
            continue
        task.run()
        count += 1
    return count


def run_engine_steps(wf: BpmnWorkflow) -> int:
    """Run every automatic READY task until only user tasks, service tasks and waits remain.

    Mirrors ``BpmnWorkflow.do_engine_steps`` (subprocesses deepest first, then the top level)
    but skips service tasks, which the runtime runs as jobs, and never uses the tree iterator.
    """
    total = 0
    while True:
        active = wf.get_active_subprocesses()
        for sub in sorted(active, key=lambda s: s.depth, reverse=True):
            while (n := _run_ready(sub)) > 0:
                total += n
            if sub.parent_task_id is not None:
                parent = wf.get_task_from_id(sub.parent_task_id)
                parent.task_spec._update(parent)
        n = _run_ready(wf)
        total += n
        if total > MAX_STEPS_PER_ADVANCE:
            raise RunawayWorkflow(f"more than {MAX_STEPS_PER_ADVANCE} tasks ran without a wait state")
        if n == 0 and len(wf.get_active_subprocesses()) <= len(active):
            break
    wf.refresh_timers()
    if any(t.state == TaskState.READY and not t.task_spec.manual and not is_service(t) for t in all_tasks(wf)):
        return total + run_engine_steps(wf)
    return total


def is_completed(wf: BpmnWorkflow) -> bool:
    """True only when an end event of the top-level process ran and nothing is left to do."""
    end_ran = any(
        isinstance(t.task_spec, EndEvent) and t.state == TaskState.COMPLETED for t in wf.tasks.values()
    )
    return end_ran and not any(t.state & TaskState.NOT_FINISHED_MASK for t in wf.tasks.values()
                               if t.state not in (TaskState.MAYBE, TaskState.LIKELY, TaskState.FUTURE))


def check_progress(wf: BpmnWorkflow) -> None:
    """Raise StuckWorkflow when nothing is ready or waiting yet the end never ran."""
    if is_completed(wf):
        return
    live = (TaskState.READY, TaskState.WAITING, TaskState.STARTED)
    if not any(t.state in live for t in all_tasks(wf)):
        raise StuckWorkflow(
            "the process has no ready or waiting task but its end event was never reached"
        )


# --- history compaction -------------------------------------------------------------------
#
# SpiffWorkflow keeps every finished task, each a child of the one before, so a loop (a
# progress report repeated, a daily cycle) deepens the tree for ever. Joins walk it from the
# top on every step (slower and slower) and ``Task.is_descendant_of`` recurses once per level:
# a human-task loop with a boundary event dies of RecursionError after about 230 rounds.
# ``compact`` drops finished history far above everything still live, keeping the most recent
# levels, so depth, size and step cost stay bounded. A step's cost follows the number of kept
# tasks (every one is loaded, stepped over and saved), so the depth that sets compaction off is
# kept low (issue 16): at 120 the negotiation's report loop (four levels a round) kept up to 29
# rounds, 192 tasks, twice its 93 at round 10; at 60 it keeps 8 to 15 rounds, at most 102 tasks.

COMPACT_DEPTH = 60  # levels of history above a live task before old history is dropped
KEEP_DEPTH = 30  # finished levels kept above the deepest point shared by all live tasks
KEEP_CYCLE_RUNS = 5  # finished runs kept under a repeating timer (a daily check, an hourly reminder)
_FINISHED = (TaskState.COMPLETED, TaskState.CANCELLED)


def compact(wf: BpmnWorkflow) -> int:
    """Drop old finished history of the workflow and its subprocesses; returns tasks dropped."""
    dropped = _compact_one(wf, wf) + _prune_cycle_runs(wf, wf)
    for key, sub in list(wf.subprocesses.items()):
        if key in wf.subprocesses:  # not deleted with an ancestor's history meanwhile
            dropped += _compact_one(wf, sub) + _prune_cycle_runs(wf, sub)
    return dropped


def _prune_cycle_runs(top: BpmnWorkflow, wf) -> int:
    """A cycle timer (a timer start event ``R/P1D``, a repeating boundary timer) that is still
    waiting starts a new branch under itself at every firing: the tree grows sideways by one
    finished run a day. Keep the last few finished runs of each; runs still live are kept."""
    dropped = 0
    for task in list(wf.tasks.values()):
        if task.state in _FINISHED or task.id not in wf.tasks:
            continue
        if not isinstance(getattr(task.task_spec, "event_definition", None), CycleTimerEventDefinition):
            continue
        finished = [child for child in task.children if not _has_live(child)]
        finished.sort(key=lambda child: child.last_state_change)
        for child in finished[:-KEEP_CYCLE_RUNS] if len(finished) > KEEP_CYCLE_RUNS else []:
            dropped += _drop_subtree(top, wf, child)
            task._children.remove(child.id)
    return dropped


def _subtree(task: Task) -> list[Task]:
    found, stack = [], [task]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.children)
    return found


def _has_live(task: Task) -> bool:
    return any(t.state not in _FINISHED for t in _subtree(task))


def _drop_subtree(top: BpmnWorkflow, wf, task: Task) -> int:
    doomed = _subtree(task)
    for t in doomed:
        if t.id in top.subprocesses:
            top.delete_subprocess(t)
    for t in doomed:
        wf.tasks.pop(t.id, None)
    if wf.last_task is not None and wf.last_task.id not in wf.tasks:
        wf.last_task = task.parent
    return len(doomed)


def _chain(task: Task) -> list[Task]:
    """The task's ancestors from the root down to the task itself (iteratively)."""
    chain = []
    while task is not None:
        chain.append(task)
        task = task.parent
    chain.reverse()
    return chain


def _compact_one(top: BpmnWorkflow, wf) -> int:
    live = [t for t in wf.tasks.values() if t.state not in _FINISHED]
    if not live:
        return 0
    chains = [_chain(t) for t in live]
    if max(len(c) for c in chains) < COMPACT_DEPTH:
        return 0
    shared = 0
    for level in zip(*chains, strict=False):
        if any(t.id != level[0].id for t in level):
            break
        shared += 1
    cut = shared - 1 - KEEP_DEPTH
    if cut < 1:
        return 0
    kept_top = chains[0][cut]
    if kept_top.state != TaskState.COMPLETED:
        return 0
    root = wf.task_tree
    keep = {root.id}
    stack = [kept_top]
    while stack:
        task = stack.pop()
        keep.add(task.id)
        stack.extend(task.children)
    dropped = [task_id for task_id in wf.tasks if task_id not in keep]
    for task_id in dropped:
        if task_id in top.subprocesses:
            top.delete_subprocess(wf.tasks[task_id])
    for task_id in dropped:
        del wf.tasks[task_id]
    kept_top._parent = root.id
    root._children = [kept_top.id]
    if wf.last_task is not None and wf.last_task.id not in keep:
        wf.last_task = kept_top
    return len(dropped)


def errored_task(wf: BpmnWorkflow) -> Task | None:
    for task in all_tasks(wf):
        if task.state == TaskState.ERROR:
            return task
    return None


def current_data(wf: BpmnWorkflow) -> dict[str, Any]:
    """The instance's variables: the data of its live top-level tasks, or of its last task."""
    live = (TaskState.READY, TaskState.WAITING, TaskState.STARTED)
    data: dict[str, Any] = {}
    tasks = [t for t in wf.tasks.values() if t.state in live]
    if not tasks:
        finished = [t for t in wf.tasks.values() if t.state == TaskState.COMPLETED]
        tasks = [max(finished, key=lambda t: t.last_state_change)] if finished else []
    for task in tasks:
        if task.state == TaskState.WAITING and not task.data and task.parent is not None:
            data.update(task.parent.data)  # a parallel join holds no data until all branches arrive
        data.update(task.data)
    for sub in _embedded_subprocesses(wf):  # their data is the instance's, before they end too
        for task in sub.tasks.values():
            if task.state in live:
                data.update(task.data)
    return json.loads(json.dumps(data, default=str))


def _embedded_subprocesses(wf: BpmnWorkflow) -> list:
    """Running embedded subprocesses (not call activities, whose data is the called process's)."""
    found = []
    for sub in wf.get_active_subprocesses():
        parent = wf.get_task_from_id(sub.parent_task_id)
        if parent is not None and not isinstance(parent.task_spec, CallActivityMixin):
            found.append(sub)
    return sorted(found, key=lambda s: s.depth)


@dataclass
class WaitingTimer:
    task: Task
    due_at: datetime  # naive UTC, real time (not shifted by a manual clock)
    cycle: bool = False  # only a cycle timer's due time moves while its task waits
    absolute: bool = False  # a timeDate: its value is already on the platform's clock


def waiting_timers(wf: BpmnWorkflow) -> list[WaitingTimer]:
    timers = []
    for task in list(wf.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition) or task.state != TaskState.WAITING:
            continue
        due = _timer_due(task, definition)
        if due is not None:
            timers.append(WaitingTimer(task, due, isinstance(definition, CycleTimerEventDefinition),
                                       isinstance(definition, TimeDateEventDefinition)))
    return timers


def _timer_due(task: Task, definition: TimerEventDefinition) -> datetime | None:
    value = task._get_internal_data("event_value")
    if value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        if not isinstance(value, dict) or value.get("cycles") == 0:
            return None
        value = value["next"]
    due = TimerEventDefinition.get_datetime(str(value))
    return due.astimezone(UTC).replace(tzinfo=None)


def fire_timer(wf: BpmnWorkflow, task: Task) -> None:
    """Make a waiting timer fire now, whatever the wall clock says (the job is due)."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):
        # A cycle's next firing is counted from its scheduled time, not from when the job ran,
        # so a late run does not shift the schedule; only a future time is pulled back.
        if datetime.fromisoformat(value["next"]) > past:
            value["next"] = past.isoformat()
        task._set_internal_data(event_value=value)
    else:
        task._set_internal_data(event_value=past.isoformat())
    task.task_spec._update(task)


@dataclass
class WaitingMessage:
    task: Task
    name: str
    correlations: dict[str, Any]


def waiting_messages(wf: BpmnWorkflow) -> list[WaitingMessage]:
    found = []
    for task in list(wf.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, MessageEventDefinition) and task.state == TaskState.WAITING:
            flat = {}
            for values in task.workflow.correlations.values():
                flat.update(values)
            found.append(WaitingMessage(task, definition.name, flat))
    return found

"""How an instance ended, as its diagram says: the state and reason its last end event declares.

An end event may carry two ``spiffworkflow:properties`` (docs/bpmn.md, "How an instance ends"):

- ``endState``: ``completed`` (the default) or ``cancelled``: the process stopped without its
  goal because someone called it off (an operator's 需求取消, a cancelled order);
- ``endReason``: the words people read as the instance's end reason.

Either is a text, or ``${expression}`` over the end event's data (as candidateGroups are), e.g.
``${cancel_reason}`` or ``${"cancelled" if demand_status == "cancelled" else "completed"}`` for
an end event that several outcomes reach.

Only the end events of the instance's own process count (``workflow.tasks`` holds the top
level; embedded subprocesses and called processes keep their tasks in their own sub-workflows),
so a called process that ends on a cancel end event never marks its caller cancelled. When
several end events ran (parallel branches), the last one reached decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.util.task import TaskState

from engine.definitions.tasks_props import candidate_expression
from engine.definitions.validation import END_STATES

REASON_LIMIT = 1000


@dataclass(frozen=True)
class Ending:
    state: str  # one of END_STATES
    reason: str | None
    element_id: str | None = None
    error: str | None = None  # why an expression of the end event failed (its default was used)


def declared(task_spec) -> dict[str, str]:
    """The end event's endState and endReason, blanks dropped."""
    props = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
    return {name: props[name].strip() for name in ("endState", "endReason") if (props.get(name) or "").strip()}


def ending(workflow: BpmnWorkflow) -> Ending:
    """The state and reason of a workflow whose top-level process reached its end."""
    ends = [t for t in workflow.tasks.values()
            if isinstance(t.task_spec, EndEvent) and t.state == TaskState.COMPLETED]
    if not ends:
        return Ending("completed", None)
    task = max(ends, key=lambda t: t.last_state_change)
    spec = task.task_spec
    props = declared(spec)
    errors = []
    state = _value(task, props.get("endState"), errors) or "completed"
    if state not in END_STATES:  # a literal is refused at deployment; an expression can still give anything
        errors.append(f"endState gave '{state}', not completed or cancelled")
        state = "completed"
    reason = _value(task, props.get("endReason"), errors)
    if reason is None and state == "cancelled":
        reason = spec.bpmn_name or None  # a cancelled instance always says why: at least the event's name
    return Ending(state, reason[:REASON_LIMIT] if reason else None, spec.bpmn_id, "; ".join(errors) or None)


def _value(task, text: str | None, errors: list[str]) -> str | None:
    """A property's text, or the value of its ``${expression}`` over the end event's data."""
    expression = candidate_expression(text)
    if expression is None:
        return text or None
    try:
        value = task.workflow.script_engine.evaluate(task, expression)
    except Exception as exc:  # the instance still ends; the audit row says what went wrong
        errors.append(str(exc)[:REASON_LIMIT])
        return None
    return (str(value).strip() or None) if value is not None else None

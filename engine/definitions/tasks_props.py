"""Reading a user task's BPMN properties: candidates, due time, priority, form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition


def properties(task_spec) -> dict[str, str]:
    return dict((getattr(task_spec, "extensions", None) or {}).get("properties", {}))


def split_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def candidate_expression(value: str | None) -> str | None:
    """The expression of a ``${...}`` candidate list (as in Camunda), else None."""
    text = (value or "").strip()
    return text[2:-1].strip() if text.startswith("${") and text.endswith("}") else None


def candidates(task, value: str | None) -> list[str]:
    """A comma-separated list, or ``${expression}`` over the task's data giving a name, a
    comma-separated text or a list of names (e.g. ``${negotiator}`` chosen on an earlier form)."""
    expression = candidate_expression(value)
    if expression is None:
        return split_list(value)
    result = task.workflow.script_engine.evaluate(task, expression)
    if result is None:
        return []
    if isinstance(result, list | tuple | set):
        return [str(item).strip() for item in result if str(item).strip()]
    return split_list(str(result))


def human_task_fields(task, now: datetime, clock_offset: timedelta) -> dict[str, Any]:
    spec = task.task_spec
    props = properties(spec)
    groups = candidates(task, props.get("candidateGroups"))
    users = candidates(task, props.get("candidateUsers"))
    if not groups and not users and getattr(spec, "lane", None):
        groups = [spec.lane]  # the lane is the group only when the task names no candidates
    return {
        "element_id": spec.bpmn_id or spec.name,
        "title": spec.bpmn_name or spec.bpmn_id or spec.name,
        "candidate_groups": groups,
        "candidate_users": users,
        "due_at": due_at(task, props, now, clock_offset),
        "priority": _priority(props.get("priority")),
        "form_key": props.get("formKey") or None,
    }


def due_at(task, props: dict[str, str], now: datetime, clock_offset: timedelta) -> datetime | None:
    if props.get("dueIn"):
        parsed = TimerEventDefinition.parse_iso_duration(props["dueIn"].strip().strip("'\""))
        start = now.replace(tzinfo=UTC)
        return now + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    if props.get("dueDate"):
        value = task.workflow.script_engine.evaluate(task, props["dueDate"])
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value
    return None


def _priority(value: str | None) -> int:
    try:
        return max(0, min(100, int(value))) if value not in (None, "") else 50
    except ValueError:
        return 50

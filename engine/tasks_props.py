"""Reading a user task's BPMN properties: candidates, due time, priority, form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition


def properties(task_spec) -> dict[str, str]:
    return dict((getattr(task_spec, "extensions", None) or {}).get("properties", {}))


def split_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def human_task_fields(task, now: datetime, clock_offset: timedelta) -> dict[str, Any]:
    spec = task.task_spec
    props = properties(spec)
    groups = split_list(props.get("candidateGroups"))
    if not groups and getattr(spec, "lane", None):
        groups = [spec.lane]
    return {
        "element_id": spec.bpmn_id or spec.name,
        "title": spec.bpmn_name or spec.bpmn_id or spec.name,
        "candidate_groups": groups,
        "candidate_users": split_list(props.get("candidateUsers")),
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

"""A supervisor's repair of a running instance: correct one variable, typed, with a reason.

The value is written into the live tasks of the instance's workflow (the tasks that run
next copy their data from these), so the next step, script or service call sees it. A
called process (a row with ``parent_id``) has no workflow of its own: its data lives in the
subworkflow of its root, so the root is opened and that subworkflow's live tasks changed.
Every edit writes a ``variable.edited`` audit event on the row that was edited.
"""

from __future__ import annotations

import json
import keyword
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.util.task import TaskState

from engine.errors import BadRequest, Conflict, Forbidden
from engine.principal import Principal
from engine.runtime import audit
from engine.runtime.called import owning_call, task_by_id
from engine.runtime.instance_run import FINAL_STATES, InstanceRun
from engine.runtime.instances import visible_instance

if TYPE_CHECKING:
    from engine.platform import Platform

TYPES = ("text", "number", "boolean", "date", "datetime", "json")
LIVE = (TaskState.READY, TaskState.WAITING, TaskState.STARTED)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
MAX_TEXT = 100_000  # a variable is not a file store
# What each type is stored as: a change of this is a type change (text, date and date-time are all strings).
STORAGE = {"text": "string", "date": "string", "datetime": "string", "number": "number",
           "boolean": "boolean", "json": "json"}
# One template per stored type, so a translation names the type in words (web/error_text.py).
TYPE_CHANGE = {
    "text": "variable %(name)s holds text; confirm the change of type to change it to %(new_type)s",
    "number": "variable %(name)s holds a number; confirm the change of type to change it to %(new_type)s",
    "boolean": "variable %(name)s holds yes or no; confirm the change of type to change it to %(new_type)s",
    "date": "variable %(name)s holds a date; confirm the change of type to change it to %(new_type)s",
    "datetime": "variable %(name)s holds a date and time; confirm the change of type to change it to %(new_type)s",
    "json": "variable %(name)s holds JSON; confirm the change of type to change it to %(new_type)s",
}
TRUE_WORDS = {"true", "yes", "1", "是", "y"}
FALSE_WORDS = {"false", "no", "0", "否", "n"}


@dataclass
class Edit:
    """What an edit did: the row edited, the variable, its old and new value and their types."""

    instance_id: int
    name: str
    old: Any
    new: Any
    type: str
    old_type: str | None
    created: bool


def require_supervisor(actor: Principal) -> None:
    if not (actor.is_admin or "supervisor" in actor.groups):
        raise Forbidden("only supervisors and administrators may do this")


def type_of(value: Any) -> str | None:
    """The editor type that fits a stored value (None for a missing value)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        if _is_date(value):
            return "date"
        if _is_datetime(value):
            return "datetime"
        return "text"
    return "json"


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _is_datetime(text: str) -> bool:
    if len(text) < 16 or "T" not in text and " " not in text:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def coerce(value: Any, type_name: str) -> Any:
    """``value`` (a form's string or an API's JSON value) as the type chosen; BadRequest when it is not."""
    if type_name not in TYPES:
        raise BadRequest("unknown value type '%(type)s'; use one of %(types)s", type=type_name,
                         types=", ".join(TYPES))
    if type_name == "text":
        if not isinstance(value, str):
            raise BadRequest("a text value must be a string")
        if len(value) > MAX_TEXT:
            raise BadRequest("a text value may have at most %(max)s characters", max=MAX_TEXT)
        return value
    if type_name == "number":
        return _number(value)
    if type_name == "boolean":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower() if isinstance(value, str) else None
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise BadRequest("'%(value)s' is not yes or no", value=value)
    if type_name == "date":
        text = value.strip() if isinstance(value, str) else ""
        if not _is_date(text):
            raise BadRequest("'%(value)s' is not a date (YYYY-MM-DD)", value=value)
        return text
    if type_name == "datetime":
        text = value.strip() if isinstance(value, str) else ""
        if not _is_datetime(text):
            raise BadRequest("'%(value)s' is not a date and time (YYYY-MM-DDTHH:MM)", value=value)
        return datetime.fromisoformat(text).isoformat()
    return _json(value)


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise BadRequest("'%(value)s' is not a number", value=value)
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace(",", "")
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise BadRequest("'%(value)s' is not a number", value=value) from None
    else:
        raise BadRequest("'%(value)s' is not a number", value=value)
    if isinstance(number, float) and not math.isfinite(number):
        raise BadRequest("'%(value)s' is not a number", value=value)
    return number


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise BadRequest("the value is not valid JSON: %(error)s", error=str(exc)) from None
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise BadRequest("the value is not valid JSON") from None
    if len(text) > MAX_TEXT:
        raise BadRequest("a JSON value may have at most %(max)s characters", max=MAX_TEXT)
    return value


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME.fullmatch(name) or keyword.iskeyword(name):
        raise BadRequest("'%(name)s' is not a variable name (letters, digits and _, not starting with a digit)",
                         name=name)
    return name


def set_variable(platform: Platform, actor: Principal, instance_id: int, name: str, value: Any,
                 reason: str, type_name: str | None = None, allow_type_change: bool = False) -> Edit:
    """Set variable ``name`` of a running instance (or called process) to ``value`` as ``type_name``
    (the current value's type when not given). A different type than the stored one is refused
    unless ``allow_type_change``; a new variable is created. Audited as ``variable.edited``."""
    require_supervisor(actor)
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest("a reason is required to change a variable")
    name = check_name(name)
    with platform.transaction() as session:
        row = visible_instance(session, actor, instance_id)
        if row.state in FINAL_STATES:
            raise Conflict("instance %(id)s is %(state)s; its variables can no longer be changed",
                           id=instance_id, state=row.state)
        old = (row.variables or {}).get(name)
        exists = name in (row.variables or {})
        old_type = type_of(old) if exists else None
        type_name = type_name or old_type or "text"
        new = coerce(value, type_name)
        if old_type is not None and STORAGE[old_type] != STORAGE[type_name] and not allow_type_change:
            raise Conflict(TYPE_CHANGE[old_type], name=name, new_type=type_name)
        run = InstanceRun.open(platform, session, row.root_id if row.parent_id is not None else row.id)
        if run.row.state in FINAL_STATES:
            raise Conflict("instance %(id)s is %(state)s; its variables can no longer be changed",
                           id=run.row.id, state=run.row.state)
        changed = _write(run, row.call_task_id if row.parent_id is not None else None, name, new)
        if not changed:
            raise Conflict("instance %(id)s has no step that is running or waiting; nothing can be changed",
                           id=instance_id)
        run.save()
        audit.record(session, row.id, actor.username, "variable.edited",
                     data={"variable": name, "old_value": old, "new_value": new, "value_type": type_name,
                           "reason": reason}, at=platform.clock.now())
        return Edit(row.id, name, old, new, type_name, old_type, not exists)


def _write(run: InstanceRun, call_task_id: str | None, name: str, value: Any) -> int:
    """Set the value on every live task of the row's own diagram (and its embedded sub-processes);
    returns how many tasks got it."""
    workflow = run.workflow
    if call_task_id is None:
        top = workflow
    else:
        top = workflow.subprocesses.get(UUID(call_task_id))
        if top is None:
            raise Conflict("the called process is no longer running in instance %(id)s", id=run.row.id)
    count = 0
    for sub in [top, *_embedded(workflow, top, call_task_id)]:
        for task in list(sub.tasks.values()):
            if task.state not in LIVE:
                continue
            if task.state == TaskState.WAITING and not task.data:
                continue  # a parallel join gets its data from the branches that reach it
            task.set_data(**{name: value})
            count += 1
    return count


def _embedded(workflow, top, call_task_id: str | None) -> list:
    """Running embedded sub-processes of ``top``'s diagram (not call activities, whose data is theirs)."""
    found = []
    for sub in workflow.subprocesses.values():
        if sub is top or sub.completed or sub.depth <= getattr(top, "depth", 0):
            continue
        parent = task_by_id(workflow, sub.parent_task_id)
        if parent is None or isinstance(parent.task_spec, CallActivity):
            continue
        if owning_call(workflow, parent) == call_task_id:
            found.append(sub)
    return found

"""One action over the instances a list filter shows: /instances/bulk takes the list's own
query string plus ``action``, states how many instances it will change and the filter in
words, asks for a reason, and after the confirmation shows what was done and what was not."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext as _l

from engine.errors import EngineError
from engine.runtime import bulk

from ..error_text import say
from ..labels import process_label, state_label, tenant_label
from . import instance_search
from .helpers import platform, principal, require_groups
from .instances import query_from_args

bp = Blueprint("bulk", __name__, url_prefix="/instances")

ACTION_WORDS = {  # action -> (button, "will ... N instances" sentence, done sentence)
    "retry": (_l("Retry"), _l("%(n)s instances will have all their open incidents retried."),
              _l("Retried: %(n)s instances (%(incidents)s incidents).")),
    "suspend": (_l("Suspend"), _l("%(n)s instances will be suspended."), _l("Suspended: %(n)s instances.")),
    "resume": (_l("Resume"), _l("%(n)s instances will be resumed."), _l("Resumed: %(n)s instances.")),
    "terminate": (_l("Terminate"), _l("%(n)s instances will be terminated. This cannot be undone."),
                  _l("Terminated: %(n)s instances.")),
}
FILTER_WORDS = {
    "process_key": _l("Process"), "state": _l("State"), "business_key": _l("Business key"), "tenant": _l("Tenant"),
    "version": _l("Version"), "started_after": _l("Started from"), "started_before": _l("Started before"),
    "has_incident": _l("Incidents"), "overdue": _l("Has an overdue task"),
}


def filter_words(flt: Any) -> list[tuple[str, str]]:
    """The filter as (label, value) lines in the page's language; fields left empty are left out."""
    lines = []
    for field in dataclasses.fields(flt):
        value = getattr(flt, field.name)
        if value is None or value is False or value == [] or value == field.default and field.name == "overdue":
            continue
        if field.name in instance_search.SEARCH_WORDS:  # the list's search fields (web/ui/instance_search.py)
            lines.append((str(instance_search.SEARCH_WORDS[field.name]),
                          instance_search.search_words(field.name, value, flt) or ""))
            continue
        label = FILTER_WORDS.get(field.name)
        lines.append((str(label) if label else field.name, _value_words(field.name, value)))
    return lines


def _value_words(name: str, value: Any) -> str:
    if name == "process_key":
        return process_label(value)
    if name == "state":
        return state_label(value)
    if name == "tenant":
        return tenant_label(value)
    if name == "has_incident":
        return str(_l("Has an open incident") if value else _l("No open incident"))
    if value is True:
        return str(_l("Yes"))
    if name == "started_before" and isinstance(value, datetime):
        return (value - timedelta(days=1)).date().isoformat() + " " + str(_l("(inclusive)"))
    if isinstance(value, datetime | date):
        return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, list | tuple | set):
        return "、".join(str(v) for v in value)
    return str(value)


def _action() -> str:
    action = request.values.get("action", "")
    if action not in bulk.ACTIONS:
        abort(404)
    return action


def _list_args() -> dict[str, str]:
    """The list's query string without the bulk page's own keys, to link back to the same list."""
    return {k: v for k, v in request.args.items() if k not in ("action", "page", "size")}


@bp.get("/bulk")
@require_groups("supervisor")
def confirm():
    action = _action()
    flt = bulk.effective_filter(action, query_from_args())
    count = bulk.count_matching(platform(), principal(), flt)
    button, sentence, _done = ACTION_WORDS[action]
    return render_template("bulk/confirm.html", action=action, button=button, sentence=sentence % {"n": count},
                           count=count, too_many=count > bulk.MAX_INSTANCES, limit=bulk.MAX_INSTANCES,
                           filter_lines=filter_words(flt), list_args=_list_args(), reason="")


@bp.post("/bulk")
@require_groups("supervisor")
def run():
    """The confirmation was answered: do it, batch by batch, and show the outcome."""
    action = _action()
    flt = bulk.effective_filter(action, query_from_args())
    reason = (request.form.get("reason") or "").strip()
    expected = request.form.get("count", type=int)
    button, sentence, done = ACTION_WORDS[action]
    count = bulk.count_matching(platform(), principal(), flt)
    error = None
    if expected is not None and expected != count:  # the list changed since the page was read
        error = str(_l("The list changed since you read it: now %(n)s instances match. Check and confirm again.",
                       n=count))
    else:
        try:
            result = bulk.bulk(platform(), principal(), action, flt=flt, reason=reason)
        except EngineError as exc:
            if exc.status == 404:
                raise
            error = say(exc)
    if error is not None:
        return render_template("bulk/confirm.html", action=action, button=button, sentence=sentence % {"n": count},
                               count=count, too_many=count > bulk.MAX_INSTANCES, limit=bulk.MAX_INSTANCES,
                               filter_lines=filter_words(flt), list_args=_list_args(), reason=reason,
                               error=error), 400
    failures = [(f.instance_id, say(f.error) if f.error else f.message) for f in result.failed]
    return render_template("bulk/result.html", action=action, button=button, result=result, failures=failures,
                           done_text=done % {"n": result.done, "incidents": result.retried_incidents},
                           filter_lines=filter_words(flt), list_args=_list_args())

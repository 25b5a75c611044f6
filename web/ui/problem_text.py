"""The lint's problems in the page's language.

The engine says every problem in English; the ones the designer sees most carry a stable
``code`` and their values in ``params`` (engine/definitions/validation.py, parsing.py), and
are said again here with Flask-Babel. A problem without a code (or with a code this table does
not know) keeps the engine's message. Every problem leaves here with its ``severity``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext

TIMER_KINDS = {"date": lazy_gettext("date"), "duration": lazy_gettext("duration"), "cycle": lazy_gettext("cycle")}


def _timer(params: dict[str, Any]) -> str:
    kind = str(TIMER_KINDS.get(params.get("kind"), params.get("kind", "")))
    if not params.get("value"):
        return _("The timer has no %(kind)s value.", kind=kind)
    return _("The timer's %(kind)s %(value)s is neither a valid ISO 8601 %(kind)s (for example %(example)s) "
             "nor a valid expression.", kind=kind, value=params["value"], example=params.get("example", ""))


MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "unknown_form": lambda p: _("The form %(form)s is not registered (known forms: %(known)s).",
                                form=p.get("form", ""), known=p.get("known", "")),
    "unknown_handler": lambda p: _("No handler is registered for the service operator %(operator)s.",
                                   operator=p.get("operator", "")),
    "unknown_decision": lambda p: _("The decision %(decision)s is neither in this deployment nor deployed "
                                    "(known decisions: %(known)s).",
                                    decision=p.get("decision", ""), known=p.get("known", "")),
    "no_decision": lambda p: _("The business rule task names no decision."),
    "unknown_called_process": lambda p: _("The call activity calls the process %(process)s, which is neither in "
                                          "this deployment nor deployed.", process=p.get("process", "")),
    "no_called_process": lambda p: _("The call activity names no process to call."),
    "bad_timer": _timer,
    "bad_condition": lambda p: _("The condition is not a valid expression: %(error)s", error=p.get("error", "")),
    "schema": lambda p: _("Does not match the %(schema)s schema: %(detail)s", schema=p.get("schema", ""),
                          detail=p.get("detail", "")),
    "no_end_event": lambda p: _("The process has no end event, so it can never complete."),
    "flow_sourceRef": lambda p: _("The sequence flow starts at %(ref)s, which is not an element of the same "
                                  "process.", ref=p.get("ref", "")),
    "flow_targetRef": lambda p: _("The sequence flow leads to %(ref)s, which is not an element of the same "
                                  "process.", ref=p.get("ref", "")),
    "user_task_no_form": lambda p: _("The user task has no form, so its task page only offers Complete."),
    "user_task_no_candidates": lambda p: _("The user task has no candidate groups or users and is in no lane, "
                                           "so only an administrator can handle it."),
}


def localized_problem(problem: dict[str, Any], severity: str | None = None) -> dict[str, Any]:
    """The problem as the page shows it: its message in the page's language, its severity."""
    shown = dict(problem)
    shown["severity"] = severity or problem.get("severity") or "error"
    say = MESSAGES.get(problem.get("code") or "")
    if say is not None:
        try:
            shown["message"] = say(problem.get("params") or {})
        except (KeyError, TypeError, ValueError):
            pass  # the engine's own message stays
    return shown


def localized_problems(problems: list[dict[str, Any]], severity: str | None = None) -> list[dict[str, Any]]:
    return [localized_problem(p, severity) for p in problems]

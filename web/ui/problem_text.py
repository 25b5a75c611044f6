"""The lint's problems in the page's language.

The engine says every problem in English; each one also carries a stable ``code`` and its
values in ``params`` (engine/definitions/validation.py, parsing.py), and is said again here
with Flask-Babel. Where the engine quotes a library (lxml's syntax or schema error, a
SpiffWorkflow exception, a Python SyntaxError) that text comes in ``params`` (``detail`` or
``error``) and stays as the library wrote it; the sentence around it is translated. A problem
without a code (or with a code this table does not know) keeps the engine's message. Every
problem leaves here with its ``severity``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext

TIMER_KINDS = {"date": lazy_gettext("date"), "duration": lazy_gettext("duration"), "cycle": lazy_gettext("cycle")}
EXPRESSIONS = {
    "loop condition": lazy_gettext("loop condition"),
    "loop cardinality": lazy_gettext("loop cardinality"),
    "completion condition": lazy_gettext("completion condition"),
    "event condition": lazy_gettext("event condition"),
    "message payload": lazy_gettext("message payload"),
}
# the engine's own words inside an expression error (engine/definitions/validation.py, the sandbox)
ERROR_WORDS = {
    "it is empty": lazy_gettext("it is empty"),
    "the code is nested too deeply": lazy_gettext("the code is nested too deeply"),
}


def _error(params: dict[str, Any]) -> str:
    """An expression's compile error: the sandbox's SyntaxError text as it is, its own words translated."""
    error = str(params.get("error", ""))
    return str(ERROR_WORDS.get(error, error))


def _known(params: dict[str, Any]) -> str:
    """The engine's list of known names, "none" when there is none."""
    known = str(params.get("known", ""))
    return _("none") if known == "none" else known


def _timer(params: dict[str, Any]) -> str:
    kind = str(TIMER_KINDS.get(params.get("kind"), params.get("kind", "")))
    if not params.get("value"):
        return _("The timer has no %(kind)s value.", kind=kind)
    example = str(params.get("example", ""))
    if " or " in example:  # "PT15M or P2D"
        first, second = example.split(" or ", 1)
        example = _("%(first)s or %(second)s", first=first, second=second)
    return _("The timer's %(kind)s %(value)s is neither a valid ISO 8601 %(kind)s (for example %(example)s) "
             "nor a valid expression.", kind=kind, value=params["value"], example=example)


def _expression(params: dict[str, Any]) -> str:
    what = str(EXPRESSIONS.get(params.get("what"), params.get("what", "")))
    return _("The %(what)s is not a valid expression: %(error)s", what=what, error=_error(params))


def _spiff_invalid(params: dict[str, Any]) -> str:
    if params.get("tag"):
        return _("SpiffWorkflow cannot use this element (%(tag)s): %(detail)s", tag=params["tag"],
                 detail=params.get("detail", ""))
    return _("SpiffWorkflow cannot use this element: %(detail)s", detail=params.get("detail", ""))


MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    # the file: name, size, encoding, XML
    "file_kind": lambda p: _("Only .bpmn and .dmn files can be deployed."),
    "file_too_large": lambda p: _("The file is %(size)s MB; the limit is %(limit)s MB.",
                                  size=p.get("size", ""), limit=p.get("limit", "")),
    "doctype": lambda p: _("DOCTYPE declarations are not allowed (they can hide entity-expansion attacks); "
                           "remove the <!DOCTYPE ...> block."),
    "not_utf8": lambda p: _("The file is not UTF-8 encoded; save it as UTF-8."),
    "xml_not_well_formed": lambda p: _("The XML is not well-formed (%(detail)s).", detail=p.get("detail", "")),
    "xml_unreadable": lambda p: _("The file could not be read as XML (%(detail)s).", detail=p.get("detail", "")),
    "empty_file": lambda p: _("The file is empty."),
    # schemas and DMN tables
    "not_bpmn": lambda p: _("This is not a BPMN 2.0 file: the root element is %(root)s, not bpmn:definitions.",
                            root=p.get("root", "")),
    "not_dmn": lambda p: _("This is not a DMN 1.1, 1.2 or 1.3 file: the root element is %(root)s.",
                           root=p.get("root", "")),
    "schema": lambda p: _("Does not match the %(schema)s schema: %(detail)s", schema=p.get("schema", ""),
                          detail=p.get("detail", "")),
    "dmn_decision_count": lambda p: _("A DMN file must define exactly one decision; this one defines %(count)s.",
                                      count=p.get("count", "")),
    "dmn_no_table": lambda p: _("The decision has no decision table (only decision tables are supported)."),
    "hit_policy": lambda p: _("The hit policy %(policy)s is not supported; use UNIQUE or COLLECT.",
                              policy=p.get("policy", "")),
    "collect_aggregation": lambda p: _("The COLLECT aggregation %(aggregation)s is not supported; remove it to "
                                       "collect all matches.", aggregation=p.get("aggregation", "")),
    "dmn_input_expression": lambda p: _("The input expression is not a valid expression: %(error)s",
                                        error=_error(p)),
    "dmn_input_entry_feel_not": lambda p: _('The input entry of rule %(rule)s (%(entry)s) is FEEL\'s not(...); '
                                            'SpiffWorkflow evaluates Python: write != "a" or not in ("a", "b").',
                                            rule=p.get("rule", ""), entry=p.get("entry", "")),
    "dmn_input_entry_list": lambda p: _('The input entry of rule %(rule)s (%(entry)s) is a list of values; in '
                                        'Python write in ("a", "b").', rule=p.get("rule", ""),
                                        entry=p.get("entry", "")),
    "dmn_input_entry_invalid": lambda p: _('The input entry of rule %(rule)s (%(entry)s) is not a valid test: '
                                           'write a value ("a", 5), a comparison (< 5, in ("a", "b")) or - for any.',
                                           rule=p.get("rule", ""), entry=p.get("entry", "")),
    "dmn_output_entry": lambda p: _("The output entry of rule %(rule)s is not a valid expression: %(error)s",
                                    rule=p.get("rule", ""), error=_error(p)),
    # references
    "duplicate_process": lambda p: _("The process id %(id)s is also defined in %(file)s.",
                                     id=p.get("id", ""), file=p.get("file", "")),
    "duplicate_decision": lambda p: _("The decision id %(id)s is also defined in %(file)s.",
                                      id=p.get("id", ""), file=p.get("file", "")),
    "flow_sourceRef": lambda p: _("The sequence flow starts at %(ref)s, which is not an element of the same "
                                  "process.", ref=p.get("ref", "")),
    "flow_targetRef": lambda p: _("The sequence flow leads to %(ref)s, which is not an element of the same "
                                  "process.", ref=p.get("ref", "")),
    "unknown_called_process": lambda p: _("The call activity calls the process %(process)s, which is neither in "
                                          "this deployment nor deployed.", process=p.get("process", "")),
    "no_called_process": lambda p: _("The call activity names no process to call."),
    "unknown_decision": lambda p: _("The decision %(decision)s is neither in this deployment nor deployed "
                                    "(known decisions: %(known)s).",
                                    decision=p.get("decision", ""), known=_known(p)),
    "no_decision": lambda p: _("The business rule task names no decision."),
    "id_clash": lambda p: _("The %(tag)s id %(id)s is also the id of a BPMN element; SpiffWorkflow would confuse "
                            "the two, so rename one.", tag=p.get("tag", ""), id=p.get("id", "")),
    # SpiffWorkflow's parser
    "no_executable_process": lambda p: _('The file defines no executable process (isExecutable="true").'),
    "spiff_invalid": _spiff_invalid,
    "spiff_parse_error": lambda p: _("SpiffWorkflow could not parse the file: %(detail)s",
                                     detail=p.get("detail", "")),
    "spec_not_serializable": lambda p: _("The process could not be saved: %(detail)s", detail=p.get("detail", "")),
    # platform checks
    "unknown_form": lambda p: _("The form %(form)s is not registered (known forms: %(known)s).",
                                form=p.get("form", ""), known=_known(p)),
    "bad_priority": lambda p: _("The priority must be a whole number from 0 to 100, not %(value)s.",
                                value=p.get("value", "")),
    "bad_due_in": lambda p: _("dueIn %(value)s is not an ISO 8601 duration (for example PT30M or P2D).",
                              value=p.get("value", "")),
    "bad_due_date": lambda p: _("dueDate is not a valid expression: %(error)s", error=_error(p)),
    "bad_candidates": lambda p: _("%(name)s is not a valid expression: %(error)s", name=p.get("name", ""),
                                  error=_error(p)),
    "user_task_no_form": lambda p: _("The user task has no form, so its task page only offers Complete."),
    "user_task_no_candidates": lambda p: _("The user task has no candidate groups or users and is in no lane, "
                                           "so only an administrator can handle it."),
    "unknown_handler": lambda p: _("No handler is registered for the service operator %(operator)s.",
                                   operator=p.get("operator", "")),
    "bad_parameter": lambda p: _("The value of the parameter %(name)s is not a valid expression: %(error)s",
                                 name=p.get("name", ""), error=_error(p)),
    "bad_retries": lambda p: _("The retries must be a whole number from 1 to %(max)s, not %(value)s.",
                               max=p.get("max", ""), value=p.get("value", "")),
    "bad_retry": lambda p: _("The spiffworkflow:retry retries must be from 1 to %(max)s, not %(value)s.",
                             max=p.get("max", ""), value=p.get("value", "")),
    "no_script": lambda p: _("The script task has no script."),
    "bad_script": lambda p: _("The script does not compile: %(error)s", error=_error(p)),
    "bad_task_script": lambda p: _("The %(tag)s does not compile: %(error)s", tag=p.get("tag", ""),
                                   error=_error(p)),
    "ignored_script": lambda p: _("SpiffWorkflow never runs a %(tag)s on this kind of element; put the code in a "
                                  "script task instead.", tag=p.get("tag", "")),
    "bad_expression": _expression,
    "bad_condition": lambda p: _("The condition is not a valid expression: %(error)s", error=_error(p)),
    "bad_timer": _timer,
    "no_end_event": lambda p: _("The process has no end event, so it can never complete."),
    "interrupting_event_subprocess": lambda p: _(
        "Interrupting event subprocesses are not supported: SpiffWorkflow 3.2 does not interrupt the process with "
        "them; put the steps in an embedded subprocess with an interrupting boundary event instead."),
    "bad_end_state": lambda p: _("endState must be completed or cancelled (or an ${expression}), not %(value)s.",
                                 value=p.get("value", "")),
    "bad_end_expression": lambda p: _("%(name)s is not a valid expression: %(error)s", name=p.get("name", ""),
                                      error=_error(p)),
    "end_state_in_subprocess": lambda p: _(
        "endState and endReason on an end event of the subprocess %(subprocess)s are ignored: only the process's "
        "own end events decide how an instance ends.", subprocess=p.get("subprocess", "")),
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

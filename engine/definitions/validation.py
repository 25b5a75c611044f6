"""Platform checks on parsed process specs (the last stage of the deployment lint).

SpiffWorkflow accepts anything it can build a spec from; these checks refuse what would
only fail at run time: unknown forms and operators, bad user-task properties, timers,
scripts and expressions that do not compile in the sandbox. Timers given as bare ISO 8601
literals are rewritten here into quoted literals, because SpiffWorkflow evaluates every
timer as a Python expression.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask, StandardLoopTask
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageEventDefinition

from engine.definitions.tasks_props import candidate_expression

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NSMAP = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

MAX_RETRIES = 20
TIMER_CHILDREN = "bpmn:timerEventDefinition/*"


ERROR = "error"
WARNING = "warning"


@dataclass
class Problem:
    """One thing wrong with a deployed file, located as precisely as we can.

    An ``error`` refuses the deployment; a ``warning`` (a likely mistake the engine can run)
    does not. Every problem the lint gives has a stable ``code`` and its values in ``params``
    (a library's own wording, such as lxml's or SpiffWorkflow's, as ``detail`` or ``error``), so
    the web layer can say it in the page's language; the ``message`` stays English."""

    file: str
    line: int | None
    element_id: str | None
    message: str
    severity: str = ERROR
    code: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The four fields, plus ``severity`` for a warning and ``code``/``params`` when coded."""
        found: dict[str, Any] = {"file": self.file, "line": self.line, "element_id": self.element_id,
                                 "message": self.message}
        if self.severity != ERROR:
            found["severity"] = self.severity
        if self.code:
            found["code"] = self.code
            found["params"] = dict(self.params)
        return found

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        element = f"[{self.element_id}] " if self.element_id else ""
        level = "" if self.is_error else f"{self.severity}: "
        return f"{where}: {level}{element}{self.message}"


class Finding(NamedTuple):
    """A message about a task spec, with an XPath (relative to its element) for the line."""

    message: str
    where: str | None = None
    value: str | None = None
    code: str | None = None
    params: dict[str, Any] | None = None
    severity: str = ERROR


class Locator:
    """Finds elements by id in the parsed files, to give problems a line number."""

    def __init__(self, roots: dict[str, etree._Element]):
        self._roots = roots
        self._indexes: dict[str, dict[str, etree._Element]] = {}

    def element(self, file: str, element_id: str | None) -> etree._Element | None:
        if element_id is None or file not in self._roots:
            return None
        return self._index(file).get(element_id)

    def line(self, file: str, element_id: str | None, where: str | None = None,
             value: str | None = None) -> int | None:
        element = self.element(file, element_id)
        if element is None:
            return None
        if where is not None:
            found = element.xpath(where, namespaces=NSMAP, value=value or "")
            if found:
                return found[0].sourceline
        return element.sourceline

    def file_of(self, element_id: str | None) -> str | None:
        """The file defining an element, for errors SpiffWorkflow raises without a file name."""
        for file in self._roots:
            if self.element(file, element_id) is not None:
                return file
        return None

    def _index(self, file: str) -> dict[str, etree._Element]:
        """First element per id, preferring BPMN/DMN elements over extension ones (parameters)."""
        if file not in self._indexes:
            index: dict[str, etree._Element] = {}
            for element in self._roots[file].iter(etree.Element):
                element_id = element.get("id")
                if element_id is not None and (element_id not in index or _is_extension(index[element_id])
                                               and not _is_extension(element)):
                    index[element_id] = element
            self._indexes[file] = index
        return self._indexes[file]


def _is_extension(element: etree._Element) -> bool:
    return etree.QName(element).namespace == SPIFF_NS


@dataclass
class CheckContext:
    form_keys: set[str]
    operators: set[str]
    locator: Locator


def check_spec(spec: Any, ctx: CheckContext) -> list[Problem]:
    """Every platform check on one process (or subprocess) spec; rewrites bare timer literals."""
    problems = []
    for element_id, group in _by_element(spec).items():
        findings = [f for task_spec in group for f in task_findings(task_spec, ctx)]
        findings += ignored_script_findings(group)
        for finding in findings:
            line = ctx.locator.line(spec.file, element_id, finding.where, finding.value)
            problems.append(Problem(spec.file, line, element_id, finding.message, finding.severity,
                                    finding.code, finding.params or {}))
    return problems


def _by_element(spec: Any) -> dict[str, list[Any]]:
    """Task specs per BPMN element: a loop or multi-instance element has two (wrapper, child)."""
    groups: dict[str, list[Any]] = {}
    for task_spec in spec.task_specs.values():
        element_id = getattr(task_spec, "bpmn_id", None)
        if element_id is not None:
            groups.setdefault(element_id, []).append(task_spec)
    return groups


def check_has_end_event(spec: Any, ctx: CheckContext) -> list[Problem]:
    """A top-level process without an end event can never complete."""
    if any(isinstance(ts, EndEvent) for ts in spec.task_specs.values()):
        return []
    line = ctx.locator.line(spec.file, spec.name)
    return [Problem(spec.file, line, spec.name, "the process has no end event, so it can never complete",
                    code="no_end_event")]


def task_findings(task_spec: Any, ctx: CheckContext) -> Iterator[Finding]:
    yield from form_findings(task_spec, ctx)
    if isinstance(task_spec, UserTask):
        yield from user_task_findings(task_spec)
        yield from user_task_warnings(task_spec)
    if isinstance(task_spec, ServiceTask):
        yield from service_task_findings(task_spec, ctx)
    if isinstance(task_spec, EndEvent):
        yield from end_event_findings(task_spec)
    yield from script_findings(task_spec)
    yield from expression_findings(task_spec)
    yield from timer_findings(task_spec)


# --- forms and user tasks -------------------------------------------------------------

def properties(task_spec: Any) -> dict[str, str]:
    return _extensions(task_spec).get("properties", {})


def _where_property(name: str) -> str:
    return f"bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='{name}']"


def form_findings(task_spec: Any, ctx: CheckContext) -> Iterator[Finding]:
    """User tasks and start events may name a form; it must be registered."""
    if not isinstance(task_spec, UserTask | StartEvent):
        return
    form_key = (properties(task_spec).get("formKey") or "").strip()
    if form_key and form_key not in ctx.form_keys:
        known = ", ".join(sorted(ctx.form_keys)[:20]) or "none"
        yield Finding(f"formKey '{form_key}' is not a registered form (known forms: {known})",
                      _where_property("formKey"), code="unknown_form", params={"form": form_key, "known": known})


def user_task_findings(task_spec: Any) -> Iterator[Finding]:
    """Blank values count as absent, as the runtime reads them (tasks_props)."""
    props = {name: value.strip() for name, value in properties(task_spec).items() if (value or "").strip()}
    if "priority" in props and not _int_in_range(props["priority"], 0, 100):
        yield Finding(f"priority must be a whole number from 0 to 100, not '{props['priority']}'",
                      _where_property("priority"), code="bad_priority", params={"value": props["priority"]})
    if "dueIn" in props and _duration_error(props["dueIn"].strip("'\"")):
        yield Finding(f"dueIn '{props['dueIn']}' is not an ISO 8601 duration (for example PT30M or P2D)",
                      _where_property("dueIn"), code="bad_due_in", params={"value": props["dueIn"]})
    if "dueDate" in props:
        error = expression_error(props["dueDate"])
        if error:
            yield Finding(f"dueDate is not a valid expression: {error}", _where_property("dueDate"),
                          code="bad_due_date", params={"error": error})
    for name in ("candidateGroups", "candidateUsers"):
        expression = candidate_expression(props.get(name))
        error = expression_error(expression) if expression is not None else None
        if error:
            yield Finding(f"{name} is not a valid expression: {error}", _where_property(name),
                          code="bad_candidates", params={"name": name, "error": error})


def user_task_warnings(task_spec: Any) -> Iterator[Finding]:
    """Likely mistakes the engine still runs: a task without a form shows only Complete, one
    without candidates (and outside a lane) is offered to nobody but administrators."""
    props = {name: (value or "").strip() for name, value in properties(task_spec).items()}
    if not props.get("formKey"):
        yield Finding("the user task has no form (formKey), so its task page only offers Complete",
                      code="user_task_no_form", severity=WARNING)
    if not props.get("candidateGroups") and not props.get("candidateUsers") and not getattr(task_spec, "lane", None):
        yield Finding("the user task has no candidates (candidateGroups or candidateUsers) and is in no lane, "
                      "so only an administrator can handle it", code="user_task_no_candidates", severity=WARNING)


END_STATES = ("completed", "cancelled")  # engine/runtime/endings.py reads them when the instance ends


def end_event_findings(task_spec: Any) -> Iterator[Finding]:
    """How the instance ends (docs/bpmn.md): a text or a ``${expression}`` each; endState's text
    is one of two words."""
    props = {name: value.strip() for name, value in properties(task_spec).items() if (value or "").strip()}
    for name in ("endState", "endReason"):
        if name not in props:
            continue
        expression = candidate_expression(props[name])
        if expression is not None:
            error = expression_error(expression)
            if error:
                yield Finding(f"{name} is not a valid expression: {error}", _where_property(name),
                              code="bad_end_expression", params={"name": name, "error": error})
        elif name == "endState" and props[name] not in END_STATES:
            yield Finding(f"endState must be completed or cancelled (or an ${{expression}}), not '{props[name]}'",
                          _where_property(name), code="bad_end_state", params={"value": props[name]})


def _int_in_range(text: str | None, low: int, high: int) -> bool:
    try:
        value = int(str(text).strip())
    except ValueError:
        return False
    return low <= value <= high


# --- service tasks --------------------------------------------------------------------

def service_task_findings(task_spec: Any, ctx: CheckContext) -> Iterator[Finding]:
    operator = getattr(task_spec, "operation_name", None)
    if operator not in ctx.operators:
        yield Finding(f"service task operator '{operator}' has no registered handler",
                      "bpmn:extensionElements/spiffworkflow:serviceTaskOperator",
                      code="unknown_handler", params={"operator": operator or ""})
    yield from retries_findings(task_spec)
    for name, param in (getattr(task_spec, "operation_params", None) or {}).items():
        error = expression_error(param.get("value"))
        if error:
            yield Finding(f"the value of parameter '{name}' is not a valid expression: {error}",
                          ".//spiffworkflow:parameter[@id=$value]", name, code="bad_parameter",
                          params={"name": name, "error": error})


def retries_findings(task_spec: Any) -> Iterator[Finding]:
    """Retries come from a `retries` property or from spiffworkflow:retry; both must be sane."""
    retries = (properties(task_spec).get("retries") or "").strip()
    if retries and not _int_in_range(retries, 1, MAX_RETRIES):
        yield Finding(f"retries must be a whole number from 1 to {MAX_RETRIES}, not '{retries}'",
                      _where_property("retries"), code="bad_retries", params={"value": retries, "max": MAX_RETRIES})
    retry = getattr(task_spec, "retries", None)
    if retry is not None and not 1 <= retry <= MAX_RETRIES:
        yield Finding(f"spiffworkflow:retry retries must be from 1 to {MAX_RETRIES}, not {retry}",
                      ".//spiffworkflow:retry", code="bad_retry", params={"value": retry, "max": MAX_RETRIES})


# --- scripts and expressions ----------------------------------------------------------

def script_findings(task_spec: Any) -> Iterator[Finding]:
    if isinstance(task_spec, ScriptTask):
        if not (task_spec.script or "").strip():
            yield Finding("the script task has no script", "bpmn:script", code="no_script")
        else:
            error = _script_error(task_spec.script)
            if error:
                yield Finding(f"the script does not compile: {error}", "bpmn:script", code="bad_script",
                              params={"error": error})
    for attr, tag in (("prescript", "preScript"), ("postscript", "postScript")):
        source = getattr(task_spec, attr, None)
        error = _script_error(source) if source is not None else None
        if error:
            yield Finding(f"the {tag} does not compile: {error}",
                          f"bpmn:extensionElements/spiffworkflow:{tag}", code="bad_task_script",
                          params={"tag": tag, "error": error})


def ignored_script_findings(group: list[Any]) -> Iterator[Finding]:
    """SpiffWorkflow drops preScript/postScript on script tasks and events without a word."""
    for tag, attr in (("preScript", "prescript"), ("postScript", "postscript")):
        written = any((_extensions(ts).get(tag) or "").strip() for ts in group)
        if written and not any(getattr(ts, attr, None) for ts in group):
            yield Finding(f"SpiffWorkflow never runs a {tag} on this kind of element; "
                          "put the code in a script task instead",
                          f"bpmn:extensionElements/spiffworkflow:{tag}", code="ignored_script", params={"tag": tag})


def _extensions(task_spec: Any) -> dict[str, Any]:
    return getattr(task_spec, "extensions", None) or {}


def expression_findings(task_spec: Any) -> Iterator[Finding]:
    """Loop and completion conditions, cardinality, conditional events, message payloads."""
    for label, source, where in _expressions_of(task_spec):
        error = expression_error(source)
        if error:
            yield Finding(f"the {label} is not a valid expression: {error}", where, code="bad_expression",
                          params={"what": label, "error": error})


def _expressions_of(task_spec: Any) -> Iterator[tuple[str, str, str]]:
    if isinstance(task_spec, StandardLoopTask) and task_spec.condition is not None:
        yield "loop condition", task_spec.condition, ".//bpmn:loopCondition"
    if isinstance(task_spec, MultiInstanceTask):
        if task_spec.cardinality is not None:
            yield "loop cardinality", task_spec.cardinality, ".//bpmn:loopCardinality"
        if task_spec.condition is not None:
            yield "completion condition", task_spec.condition, ".//bpmn:completionCondition"
    for definition in event_definitions(task_spec):
        if isinstance(definition, ConditionalEventDefinition):
            yield "event condition", definition.expression, ".//bpmn:condition"
        if isinstance(definition, SpiffMessageEventDefinition) and definition.expression is not None:
            yield "message payload", definition.expression, None


def event_definitions(task_spec: Any) -> list[Any]:
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [] if definition is None else [definition]


def check_conditions(file: str, root: etree._Element) -> list[Problem]:
    """Sequence-flow conditions, read from the XML so the problem names the flow."""
    problems = []
    for condition in root.iter(f"{{{BPMN_NS}}}conditionExpression"):
        if condition.text is None:
            continue
        error = expression_error(condition.text)
        if error:
            flow_id = condition.getparent().get("id")
            problems.append(Problem(file, condition.sourceline, flow_id,
                                    f"the condition is not a valid expression: {error}",
                                    code="bad_condition", params={"error": error}))
    return problems


def check_unsupported(file: str, root: etree._Element) -> list[Problem]:
    """Elements SpiffWorkflow 3.2 parses but does not run correctly, refused with a way out.

    An interrupting event subprocess runs its own path but leaves the rest of the process
    open (measured), so the instance would silently never end."""
    problems = []
    for sub in root.iter(f"{{{BPMN_NS}}}subProcess"):
        if sub.get("triggeredByEvent") != "true":
            continue
        starts = sub.findall(f"{{{BPMN_NS}}}startEvent")
        if any(start.get("isInterrupting", "true") != "false" for start in starts):
            problems.append(Problem(file, sub.sourceline, sub.get("id"),
                                    "interrupting event subprocesses are not supported: SpiffWorkflow 3.2 "
                                    "does not interrupt the process with them; put the steps in an embedded "
                                    "subprocess with an interrupting boundary event instead",
                                    code="interrupting_event_subprocess"))
    return problems


def check_subprocess_endings(file: str, root: etree._Element) -> list[Problem]:
    """endState and endReason on a subprocess's end event: read by nobody, so a likely mistake.

    Only the process's own end events end an instance (engine/runtime/endings.py); the end of
    an embedded subprocess only leaves the subprocess."""
    problems = []
    for sub in root.iter(f"{{{BPMN_NS}}}subProcess", f"{{{BPMN_NS}}}transaction"):
        for end in sub.findall(f"{{{BPMN_NS}}}endEvent"):
            names = [p.get("name") for p in end.iterfind(
                "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NSMAP)]
            found = [name for name in ("endState", "endReason") if name in names]
            if found:
                problems.append(Problem(
                    file, end.sourceline, end.get("id"),
                    f"{' and '.join(found)} on an end event of subprocess '{sub.get('id')}' is ignored: only the "
                    "process's own end events decide how an instance ends", WARNING,
                    code="end_state_in_subprocess", params={"subprocess": sub.get("id")}))
    return problems


def _script_error(source: str | None) -> str | None:
    from engine.scripting.sandbox import check_script

    return check_script(source or "")


def expression_error(source: str | None) -> str | None:
    from engine.scripting.sandbox import check_expression

    if source is None or not source.strip():
        return "it is empty"
    return check_expression(source.strip())


# --- timers ---------------------------------------------------------------------------

TIMER_KINDS: list[tuple[type, str]] = [
    (TimeDateEventDefinition, "date"),
    (DurationTimerEventDefinition, "duration"),
    (CycleTimerEventDefinition, "cycle"),
]
EXAMPLES = {"date": "2026-12-01T10:00:00", "duration": "PT15M or P2D", "cycle": "R3/PT1H"}
_ISO_START = re.compile(r"R\d*/|P[\dT]|\d{4}")
_ISO_CHARS = re.compile(r"[0-9A-Za-z:.,+\-/]+")


def timer_findings(task_spec: Any) -> Iterator[Finding]:
    """Check each timer and rewrite a bare ISO literal into a quoted one, in place."""
    for definition in event_definitions(task_spec):
        if not isinstance(definition, TimerEventDefinition):
            continue
        kind = timer_kind(definition)
        rewritten, error = normalize_timer(kind, definition.expression)
        if rewritten is not None:
            definition.expression = rewritten
        if error:
            yield Finding(error, f".//{TIMER_CHILDREN}", code="bad_timer",
                          params={"kind": kind, "value": (definition.expression or "").strip(),
                                  "example": EXAMPLES[kind]})


def timer_kind(definition: Any) -> str:
    for cls, kind in TIMER_KINDS:
        if isinstance(definition, cls):
            return kind
    return "duration"


def normalize_timer(kind: str, expression: str | None) -> tuple[str | None, str | None]:
    """(quoted replacement for a bare literal or None, problem message or None).

    The DESIGN rule: a bare ISO 8601 literal and a quoted one both work; anything else
    is an expression over instance data.
    """
    text = (expression or "").strip()
    if not text:
        return None, f"the timer has no {kind} value"
    literal = _quoted_literal(text)
    if literal is not None:
        return None, _literal_error(kind, literal)
    if looks_like_iso(text):
        error = _literal_error(kind, text)
        return (None, error) if error else (repr(text), None)
    error = expression_error(text)
    if error:
        return None, f"timer {kind} '{text}' is neither an ISO 8601 {kind} nor a valid expression: {error}"
    return None, None


def looks_like_iso(text: str) -> bool:
    """A designer meant an ISO literal (PT15M, R3/PT1H, 2026-12-01...), not a variable name."""
    return bool(_ISO_CHARS.fullmatch(text) and _ISO_START.match(text))


def _quoted_literal(text: str) -> str | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def _literal_error(kind: str, literal: str) -> str | None:
    checks = {"date": _date_error, "duration": _duration_error, "cycle": _cycle_error}
    if checks[kind](literal.strip()):
        return f"timer {kind} '{literal}' is not a valid ISO 8601 {kind} (for example {EXAMPLES[kind]})"
    return None


def _duration_error(text: str) -> bool:
    if not text.upper().startswith("P"):
        return True
    try:
        return not TimerEventDefinition.parse_iso_duration(text)
    except Exception:
        return True


def _date_error(text: str) -> bool:
    try:
        return not isinstance(TimerEventDefinition.parse_time_or_duration(text), datetime)
    except Exception:
        return True


def _cycle_error(text: str) -> bool:
    if not text.upper().startswith("R"):
        return True
    try:
        TimerEventDefinition.parse_iso_recurring_interval(text)
    except Exception:
        return True
    return False

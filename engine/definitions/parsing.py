"""Deployment parsing and validation (the lint) of BPMN and DMN files.

`parse_files` takes every file of a deployment through four stages. A file stops at the
first stage it fails, but every file is checked, so one attempt reports all it can:

1. file name, size and well-formed XML under a hardened parser (no DTD, no entities, no network);
2. the BPMN 2.0 schema with SpiffWorkflow's extension; for DMN, the DMN schema, one decision
   per file and the hit policies SpiffWorkflow really implements;
3. references (sequence flows, call activities, decisions), then SpiffWorkflow's own parser;
4. platform checks on the parsed specs (`engine.validation`), which also quote bare timer literals.

Nothing is returned to deploy when any problem is found.

SpiffWorkflow copies a decision table into the spec of every process that calls it (and a
called process's spec into its caller's). So when the deployment brings a decision and the
caller gives ``redeploy`` (the deployed processes and their files), every deployed process
that uses one of the new decisions, directly or through the processes it calls, is rebuilt
from its deployed file with the new table and returned too (``ParsedProcess.rebuilt_from``):
see "Decisions (DMN) and their versions" in docs/engine.md.
"""

from __future__ import annotations

import ast
import hashlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine.definitions.serialization import specs_to_json
from engine.definitions.validation import (
    BPMN_NS,
    NSMAP,
    SPIFF_NS,
    CheckContext,
    Locator,
    Problem,
    check_conditions,
    check_has_end_event,
    check_spec,
    check_subprocess_endings,
    check_unsupported,
    event_definitions,
    expression_error,
    properties,
)

__all__ = ["MAX_FILE_BYTES", "ParseResult", "ParsedDecision", "ParsedProcess", "Problem", "decisions_by_process",
           "parse_files"]

MAX_FILE_BYTES = 10 * 1024 * 1024
KINDS = {".bpmn": "bpmn", ".dmn": "dmn"}
HIT_POLICIES = {"UNIQUE", "COLLECT"}
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_SCHEMA_ELEMENT = re.compile(r"Element '([^']+)'")
_SCHEMA_LOCK = threading.Lock()
_DMN_VALIDATORS: dict[str, BpmnValidator] = {}


@dataclass
class ParsedProcess:
    key: str
    name: str
    file: str
    spec_json: str
    content_hash: str
    starter_groups: list[str]
    start_form_key: str | None
    message_starts: list[str]
    decisions: list[str] = field(default_factory=list)
    """The decisions whose tables its spec holds: its business rule tasks' and its called processes'."""
    rebuilt_from: str | None = None
    """Set when the process is not in the deployment's files but was rebuilt from its deployed file
    because the deployment changes a decision it uses: that file's SHA-256."""


@dataclass
class ParsedDecision:
    key: str
    name: str
    file: str
    content_hash: str


@dataclass
class ParseResult:
    processes: list[ParsedProcess]
    decisions: list[ParsedDecision]
    problems: list[Problem]
    """The errors: any of them refuses the deployment."""
    warnings: list[Problem] = field(default_factory=list)
    """Likely mistakes in the given files that do not refuse it (Problem.severity "warning")."""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Source:
    """One file on its way through the stages."""

    name: str
    data: bytes
    kind: str
    root: Any = None
    failed: bool = False
    process_ids: list[str] = field(default_factory=list)
    decision: tuple[str, str] | None = None

    def ids_of(self, local_name: str) -> list[str]:
        children = self.root.iterchildren(etree.Element)
        return [el.get("id") for el in children if etree.QName(el).localname == local_name and el.get("id")]


@dataclass
class _Index:
    """Who defines which process and decision: new files first, then known ones."""

    processes: dict[str, _Source] = field(default_factory=dict)
    decisions: dict[str, _Source] = field(default_factory=dict)


def parse_files(files: dict[str, bytes], *, form_keys: set[str], operators: set[str],
                known_files: dict[str, bytes] | None = None,
                redeploy: dict[str, str] | None = None) -> ParseResult:
    """Lint a deployment; on success return the processes and decisions to store.

    ``known_files`` are the deployed files the new ones may call; ``redeploy`` maps each deployed
    process to the file name of its latest version: those among them that use a decision of the
    new files are rebuilt from that (known) file with the new decision and returned as well.
    """
    problems: list[Problem] = []
    sources = [s for s in (_load(name, data, problems) for name, data in files.items()) if s]
    for source in sources:
        _stage(source, _schema_problems(source), problems)
    known = _load_known(known_files or {}, set(files))
    index = _build_index(sources, known)
    for source in sources:
        _stage(source, _reference_problems(source, index), problems)
    uses = _decision_uses(index)
    rebuilt = _rebuilt_sources(sources, known, index, uses, redeploy or {})
    parser = _spiff_parser(sources, known, index, problems)
    locator = Locator({s.name: s.root for s in sources + known if s.root is not None})
    builds = _build_specs(parser, sources + rebuilt, index, locator, problems)
    _check_builds(builds, sources + rebuilt, CheckContext(set(form_keys), set(operators), locator), problems)
    problems = _unique(problems)
    new_files = {s.name for s in sources}
    warnings = [p for p in problems if not p.is_error and p.file in new_files]
    problems = [p for p in problems if p.is_error]
    if problems:
        return ParseResult([], [], problems, warnings)
    result = _result(parser, builds, sources, uses)
    result.warnings = warnings if result.ok else []
    return result


def _stage(source: _Source, found: list[Problem], problems: list[Problem]) -> None:
    """Record one stage's problems for a file; a file with any goes no further."""
    if found:
        source.failed = True
        problems.extend(found)


# --- stage 1: name, size, XML ---------------------------------------------------------

def _load(name: str, data: bytes, problems: list[Problem]) -> _Source | None:
    kind = KINDS.get(name[name.rfind("."):].lower()) if "." in name else None
    problem = _load_problem(name, data, kind)
    if problem is None:
        root, problem = _parse_xml(name, data)
    if problem is not None:
        problems.append(problem)
        return None
    return _Source(name, data, kind, root)


def _load_problem(name: str, data: bytes, kind: str | None) -> Problem | None:
    if kind is None:
        return Problem(name, None, None, "only .bpmn and .dmn files can be deployed", code="file_kind")
    if len(data) > MAX_FILE_BYTES:
        size, limit = len(data) / 2**20, MAX_FILE_BYTES // 2**20
        return Problem(name, None, None, f"the file is {size:.1f} MB; the limit is {limit} MB",
                       code="file_too_large", params={"size": f"{size:.1f}", "limit": limit})
    line = _doctype_line(data)
    if line is not None:
        return Problem(name, line, None, "DOCTYPE declarations are not allowed (they can hide "
                       "entity-expansion attacks); remove the <!DOCTYPE ...> block", code="doctype")
    return _encoding_problem(name, data)


def _encoding_problem(name: str, data: bytes) -> Problem | None:
    """Deployed files are stored and served as UTF-8 text."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return Problem(name, line, None, "the file is not UTF-8 encoded; save it as UTF-8", code="not_utf8")
    return None


def _doctype_line(data: bytes) -> int | None:
    """Found before parsing; dropping NUL bytes also catches UTF-16 and UTF-32 files."""
    text = data.replace(b"\x00", b"")
    match = _DOCTYPE.search(text)
    return None if match is None else text.count(b"\n", 0, match.start()) + 1


def _hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                           dtd_validation=False)


def _parse_xml(name: str, data: bytes) -> tuple[Any, Problem | None]:
    parser = _hardened_parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        # the parser's own log: the exception's log can hold errors of earlier parses in this thread
        first = parser.error_log[0] if len(parser.error_log) else None
        line = first.line if first is not None else exc.lineno
        message = first.message if first is not None else exc.msg
        return None, Problem(name, line, None, f"the XML is not well-formed: {message}",
                             code="xml_not_well_formed", params={"detail": str(message)})
    except (etree.LxmlError, ValueError) as exc:
        return None, Problem(name, None, None, f"the file could not be read as XML: {exc}",
                             code="xml_unreadable", params={"detail": str(exc)})
    if root is None:
        return None, Problem(name, None, None, "the file is empty", code="empty_file")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        return None, Problem(name, 1, None, "DOCTYPE declarations are not allowed", code="doctype")
    return root, None


def _load_known(known_files: dict[str, bytes], new_names: set[str]) -> list[_Source]:
    """Earlier deployed files; a new file of the same name replaces its old version."""
    known = []
    for name, data in known_files.items():
        source = None if name in new_names else _load(name, data, [])
        if source is not None:
            known.append(source)
    return known


# --- stage 2: schemas -----------------------------------------------------------------

def _schema_problems(source: _Source) -> list[Problem]:
    if source.kind == "bpmn":
        return _bpmn_schema_problems(source)
    return _dmn_problems(source)


def _bpmn_schema_problems(source: _Source) -> list[Problem]:
    root = source.root
    if root.tag != f"{{{BPMN_NS}}}definitions":
        return [Problem(source.name, root.sourceline, None,
                        f"this is not a BPMN 2.0 file: the root element is {_readable(root.tag)}, "
                        "not bpmn:definitions", code="not_bpmn", params={"root": _readable(root.tag)})]
    with _SCHEMA_LOCK:
        VALIDATOR.preprocess(root)
        if VALIDATOR.validator.validate(root):
            return []
        errors = list(VALIDATOR.validator.error_log)
    return [_schema_problem(source, error, "BPMN 2.0") for error in errors]


def _schema_problem(source: _Source, error: Any, schema: str) -> Problem:
    """Every schema error, located by line and by the nearest element with an id."""
    match = _SCHEMA_ELEMENT.search(error.message)
    element_id = None
    if match:
        for element in source.root.iter(match.group(1)):
            if element.sourceline == error.line:
                element_id = _nearest_id(element)
                break
    detail = _readable(error.message)
    return Problem(source.name, error.line, element_id, f"does not match the {schema} schema: {detail}",
                   code="schema", params={"schema": schema, "detail": detail})


def _nearest_id(element: Any) -> str | None:
    while element is not None:
        if element.get("id"):
            return element.get("id")
        element = element.getparent()
    return None


def _readable(text: str) -> str:
    text = text.replace(f"{{{BPMN_NS}}}", "bpmn:").replace(f"{{{SPIFF_NS}}}", "spiffworkflow:")
    for namespace in DMN_SCHEMAS:
        text = text.replace(f"{{{namespace}}}", "dmn:")
    return text


def _dmn_problems(source: _Source) -> list[Problem]:
    """Schema, one decision per file, then SpiffWorkflow's DMN parser and the hit policy."""
    root = source.root
    qname = etree.QName(root)
    if qname.localname != "definitions" or qname.namespace not in DMN_SCHEMAS:
        return [Problem(source.name, root.sourceline, None,
                        f"this is not a DMN 1.1, 1.2 or 1.3 file: the root element is {root.tag}",
                        code="not_dmn", params={"root": str(root.tag)})]
    problems = _dmn_schema_problems(source, qname.namespace)
    if problems:
        return problems
    decisions = root.findall(f"{{{qname.namespace}}}decision")
    if len(decisions) != 1:
        where = decisions[1] if len(decisions) > 1 else root
        return [Problem(source.name, where.sourceline, where.get("id"),
                        f"a DMN file must define exactly one decision; this one defines {len(decisions)}",
                        code="dmn_decision_count", params={"count": len(decisions)})]
    return _cell_problems(source, decisions[0]) or _dmn_parse_problems(source, decisions[0])


def _dmn_schema_problems(source: _Source, namespace: str) -> list[Problem]:
    with _SCHEMA_LOCK:
        if namespace not in _DMN_VALIDATORS:
            _DMN_VALIDATORS[namespace] = BpmnValidator(DMN_SCHEMAS[namespace])
        schema = _DMN_VALIDATORS[namespace].validator
        if schema.validate(source.root):
            return []
        errors = list(schema.error_log)
    return [_schema_problem(source, error, "DMN") for error in errors]


def _dmn_parse_problems(source: _Source, element: Any) -> list[Problem]:
    parser = BpmnDmnParser()
    try:
        parser.add_dmn_xml(source.root, filename=source.name)
        dmn_parser = parser.dmn_parsers[element.get("id")]
        dmn_parser.parse()
    except Exception as exc:
        return [_spiff_problem(exc, Locator({source.name: source.root}), source.name)]
    decision = dmn_parser.decision
    source.decision = (decision.id, decision.name or decision.id)
    return _decision_table_problems(source, element, decision)


def _decision_table_problems(source: _Source, element: Any, decision: Any) -> list[Problem]:
    if not decision.decisionTables:
        return [Problem(source.name, element.sourceline, decision.id,
                        "the decision has no decision table (only decision tables are supported)",
                        code="dmn_no_table")]
    table = decision.decisionTables[0]
    table_element = element.find(f"{{{etree.QName(element).namespace}}}decisionTable")
    line = table_element.sourceline
    problems = []
    if table.hit_policy not in HIT_POLICIES:
        problems.append(Problem(source.name, line, table.id,
                                f"hit policy {table.hit_policy} is not supported; use UNIQUE or COLLECT",
                                code="hit_policy", params={"policy": str(table.hit_policy)}))
    if table_element.get("aggregation"):
        problems.append(Problem(source.name, line, table.id,
                                f"COLLECT aggregation {table_element.get('aggregation')} is not supported; "
                                "remove it to collect all matches", code="collect_aggregation",
                                params={"aggregation": table_element.get("aggregation")}))
    return problems


def _cell_problems(source: _Source, decision: Any) -> list[Problem]:
    """Every cell of the table at once (before SpiffWorkflow's parser, which stops at the first):
    input expressions and output entries are Python expressions, input entries Python tests
    (SpiffWorkflow's DMN engine evaluates Python, not FEEL)."""
    ns = {"dmn": etree.QName(decision).namespace}
    table = decision.find("dmn:decisionTable", ns)
    if table is None:
        return []
    problems = []

    def add(element: Any, message: str, code: str, **params: Any) -> None:
        problems.append(Problem(source.name, element.sourceline, _nearest_id(element), message, code=code,
                                params=params))

    for clause in table.findall("dmn:input", ns):
        text = clause.find("dmn:inputExpression/dmn:text", ns)
        error = expression_error(text.text) if text is not None and (text.text or "").strip() else None
        if error:
            add(clause.find("dmn:inputExpression", ns), f"the input expression is not a valid expression: {error}",
                "dmn_input_expression", error=error)
    for number, rule in enumerate(table.findall("dmn:rule", ns), start=1):
        for entry in rule.findall("dmn:inputEntry", ns):
            text = entry.findtext("dmn:text", None, ns)
            error = input_entry_error(text)
            if error:
                add(entry, f"the input entry of rule {number} ({text.strip()}) {error}",
                    _INPUT_ENTRY_CODES.get(error, "dmn_input_entry_invalid"), rule=number, entry=text.strip())
        for entry in rule.findall("dmn:outputEntry", ns):
            text = entry.findtext("dmn:text", None, ns)
            error = expression_error(text) if (text or "").strip() else None
            if error:
                add(entry, f"the output entry of rule {number} is not a valid expression: {error}",
                    "dmn_output_entry", rule=number, error=error)
    return problems


_FEEL_NOT = re.compile(r"^\s*not\s*\(")
_ENTRY_FEEL_NOT = 'is FEEL\'s not(...); SpiffWorkflow evaluates Python: write != "a" or not in ("a", "b")'
_ENTRY_LIST = 'is a list of values; in Python write in ("a", "b")'
_ENTRY_INVALID = "is not a valid test: write a value (\"a\", 5), a comparison (< 5, in (\"a\", \"b\")) or - for any"
_INPUT_ENTRY_CODES = {_ENTRY_FEEL_NOT: "dmn_input_entry_feel_not", _ENTRY_LIST: "dmn_input_entry_list",
                      _ENTRY_INVALID: "dmn_input_entry_invalid"}


def input_entry_error(text: str | None) -> str | None:
    """Why SpiffWorkflow cannot test an input entry, or None. It compares ``input == (entry)``
    when the entry is an expression, appends the entry (``input < 5``, ``input in (...)``) when
    it starts with an operator, and puts the input in for ``?`` (``1 < ? < 5``)."""
    if text is None or not text.strip() or text.strip() == "-":
        return None
    entry = text.strip()
    if _FEEL_NOT.match(entry):
        return _ENTRY_FEEL_NOT
    if "?" in entry:
        entry = re.sub(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)", "dmninputexpr", entry)
    if expression_error(entry) is None:
        if _is_tuple(entry):
            return _ENTRY_LIST
        return None
    if expression_error(f"dmninputexpr {entry}") is None:
        return None
    return _ENTRY_INVALID


def _is_tuple(entry: str) -> bool:
    try:
        tree = ast.parse(entry, mode="eval")
    except SyntaxError:
        return False
    return isinstance(tree.body, ast.Tuple)


# --- stage 3: references and SpiffWorkflow's parser ------------------------------------

def _build_index(sources: list[_Source], known: list[_Source]) -> _Index:
    index = _Index()
    for source in sources + known:
        if source.root is None:
            continue
        table = index.processes if source.kind == "bpmn" else index.decisions
        for element_id in source.ids_of("process" if source.kind == "bpmn" else "decision"):
            table.setdefault(element_id, source)
    return index


def _reference_problems(source: _Source, index: _Index) -> list[Problem]:
    """Broken references get a clear message here instead of an obscure one from SpiffWorkflow."""
    if source.failed:
        return []
    problems = _duplicate_problems(source, index)
    if source.kind == "bpmn":
        problems += _flow_problems(source) + _call_problems(source, index)
        problems += _decision_ref_problems(source, index) + _id_clash_problems(source)
        if not problems and _uses_failed_decision(source, index):
            source.failed = True  # SpiffWorkflow cannot build it; the DMN file's problems say why
    return problems


def _duplicate_problems(source: _Source, index: _Index) -> list[Problem]:
    local_name = "process" if source.kind == "bpmn" else "decision"
    table = index.processes if source.kind == "bpmn" else index.decisions
    problems = []
    for element_id in source.ids_of(local_name):
        owner = table[element_id]
        if owner is not source:
            line = Locator({source.name: source.root}).line(source.name, element_id)
            problems.append(Problem(source.name, line, element_id,
                                    f"{local_name} id '{element_id}' is also defined in {owner.name}",
                                    code=f"duplicate_{local_name}", params={"id": element_id, "file": owner.name}))
    return problems


def _flow_problems(source: _Source) -> list[Problem]:
    problems = []
    for flow in source.root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        siblings = {el.get("id") for el in flow.getparent().iterchildren(etree.Element)}
        for attribute, verb in (("sourceRef", "starts at"), ("targetRef", "leads to")):
            ref = flow.get(attribute)
            if ref not in siblings:
                problems.append(Problem(source.name, flow.sourceline, flow.get("id"),
                                        f"the sequence flow {verb} '{ref}', which is not an element "
                                        "of the same process", code=f"flow_{attribute}",
                                        params={"ref": ref or ""}))
    return problems


def _call_problems(source: _Source, index: _Index) -> list[Problem]:
    problems = []
    for call in source.root.iter(f"{{{BPMN_NS}}}callActivity"):
        called = call.get("calledElement")
        if not called:
            message = "the call activity has no calledElement (the id of the process to call)"
            code = "no_called_process"
        elif called not in index.processes:
            message = (f"the call activity calls process '{called}', which is not defined in this "
                       "deployment or an earlier one")
            code = "unknown_called_process"
        else:
            continue
        problems.append(Problem(source.name, call.sourceline, call.get("id"), message, code=code,
                                params={"process": called or ""}))
    return problems


def _decision_refs(source: _Source) -> list[tuple[Any, Any, str | None]]:
    """(business rule task, its calledDecisionId element or None, the decision id)."""
    refs = []
    for task in source.root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        found = task.xpath("bpmn:extensionElements/spiffworkflow:calledDecisionId", namespaces=NSMAP)
        refs.append((task, found[0] if found else None, found[0].text if found else None))
    return refs


def _uses_failed_decision(source: _Source, index: _Index) -> bool:
    return any(index.decisions[decision].failed for _, _, decision in _decision_refs(source))


def _decision_ref_problems(source: _Source, index: _Index) -> list[Problem]:
    problems = []
    for task, found, decision in _decision_refs(source):
        known = ", ".join(sorted(index.decisions)[:20]) or "none"
        if not decision:
            message, code = "the business rule task has no spiffworkflow:calledDecisionId", "no_decision"
        elif decision not in index.decisions:
            message = (f"calledDecisionId '{decision}' names no DMN decision in this deployment or an "
                       f"earlier one (known decisions: {known})")
            code = "unknown_decision"
        else:
            continue
        line = found.sourceline if found is not None else task.sourceline
        problems.append(Problem(source.name, line, task.get("id"), message, code=code,
                                params={"decision": decision or "", "known": known}))
    return problems


def _id_clash_problems(source: _Source) -> list[Problem]:
    """SpiffWorkflow indexes every id in a process, so a parameter id can shadow a task id."""
    problems = []
    for process in source.root.iter(f"{{{BPMN_NS}}}process"):
        elements = [el for el in process.iter(etree.Element) if el.get("id")]
        bpmn_ids = {el.get("id") for el in elements if etree.QName(el).namespace == BPMN_NS}
        for element in elements:
            if etree.QName(element).namespace == SPIFF_NS and element.get("id") in bpmn_ids:
                problems.append(Problem(
                    source.name, element.sourceline, element.get("id"),
                    f"spiffworkflow:{etree.QName(element).localname} id '{element.get('id')}' is also "
                    "the id of a BPMN element; SpiffWorkflow would confuse the two, so rename one",
                    code="id_clash", params={"tag": f"spiffworkflow:{etree.QName(element).localname}",
                                             "id": element.get("id")}))
    return problems


def _decision_uses(index: _Index) -> dict[str, tuple[set[str], set[str]]]:
    """Each process: (the decisions its business rule tasks call, the processes it calls)."""
    uses: dict[str, tuple[set[str], set[str]]] = {}
    for process_id, source in index.processes.items():
        found = source.root.xpath("bpmn:process[@id=$id]", namespaces=NSMAP, id=process_id)
        if not found:
            continue
        decisions = {text.strip() for text in found[0].xpath(
            ".//bpmn:businessRuleTask/bpmn:extensionElements/spiffworkflow:calledDecisionId/text()",
            namespaces=NSMAP) if text.strip()}
        calls = {c.get("calledElement") for c in found[0].iter(f"{{{BPMN_NS}}}callActivity") if c.get("calledElement")}
        uses[process_id] = (decisions, calls)
    return uses


def decisions_used(uses: dict[str, tuple[set[str], set[str]]], process_id: str) -> set[str]:
    """The decisions a process's spec holds: its own and those of the processes it calls."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = [process_id]
    while pending:
        current = pending.pop()
        if current in seen or current not in uses:
            continue
        seen.add(current)
        decisions, calls = uses[current]
        found |= decisions
        pending.extend(calls)
    return found


def decisions_by_process(files: dict[str, bytes]) -> dict[str, set[str]]:
    """Each process the BPMN files define and the decisions its spec holds (its business rule
    tasks' and those of the processes it calls), read from the XML without building specs."""
    sources = [s for s in (_load(name, data, []) for name, data in files.items()) if s and s.kind == "bpmn"]
    index = _build_index(sources, [])
    uses = _decision_uses(index)
    return {process_id: decisions_used(uses, process_id) for process_id in index.processes}


def _rebuilt_sources(sources: list[_Source], known: list[_Source], index: _Index,
                     uses: dict[str, tuple[set[str], set[str]]], redeploy: dict[str, str]) -> list[_Source]:
    """The known files with deployed processes that use a decision of the new files; each gets
    those processes as its ``process_ids`` so they are built (and versioned) again."""
    new_decisions = {s.decision[0] for s in sources if s.kind == "dmn" and not s.failed and s.decision}
    if not new_decisions or not redeploy:
        return []
    known_by_name = {s.name: s for s in known}
    rebuilt: dict[str, _Source] = {}
    for process_id, source in index.processes.items():
        if (known_by_name.get(source.name) is source and redeploy.get(process_id) == source.name
                and decisions_used(uses, process_id) & new_decisions):
            source.process_ids.append(process_id)
            rebuilt[source.name] = source
    return list(rebuilt.values())


def _spiff_parser(sources: list[_Source], known: list[_Source], index: _Index,
                  problems: list[Problem]) -> SpiffBpmnParser:
    """All files in one SpiffWorkflow parser (schemas were checked in stage 2)."""
    parser = SpiffBpmnParser()
    for source in known:
        _add_known(parser, source, index)
    locator = Locator({s.name: s.root for s in sources if s.root is not None})
    for source in sorted(sources, key=lambda s: s.kind != "dmn"):
        if source.failed:
            continue
        before = set(parser.process_parsers)
        try:
            _add(parser, source)
        except Exception as exc:
            _stage(source, [_spiff_problem(exc, locator, source.name)], problems)
            continue
        added = [pid for pid in parser.process_parsers if pid not in before]
        source.process_ids = [pid for pid in added if parser.process_parsers[pid].process_executable]
        if source.kind == "bpmn" and not source.process_ids:
            message = 'the file defines no executable process (isExecutable="true")'
            _stage(source, [Problem(source.name, source.root.sourceline, None, message,
                                    code="no_executable_process")], problems)
    return parser


def _add(parser: SpiffBpmnParser, source: _Source) -> None:
    if source.kind == "dmn":
        parser.add_dmn_xml(source.root, filename=source.name)
    else:
        parser.add_bpmn_xml(source.root, filename=source.name)


def _add_known(parser: SpiffBpmnParser, source: _Source, index: _Index) -> None:
    """Only what the new files do not define themselves; a broken old file is left out."""
    table = index.processes if source.kind == "bpmn" else index.decisions
    for element in list(source.root.iterchildren(etree.Element)):
        if element.get("id") in table and table[element.get("id")] is not source:
            source.root.remove(element)
    try:
        _add(parser, source)
    except Exception:
        pass


def _spiff_problem(exc: Exception, locator: Locator, default_file: str) -> Problem:
    """A ValidationException (file_name, line_number, id) or any other parser error as a Problem."""
    if not isinstance(exc, ValidationException):
        return Problem(default_file, None, None, f"SpiffWorkflow could not parse the file: {exc!r}",
                       code="spiff_parse_error", params={"detail": repr(exc)})
    element_id = exc.id or None
    file = exc.file_name or _file_with(locator, default_file, element_id)
    line = exc.line_number if isinstance(exc.line_number, int) else locator.line(file, element_id)
    message = str(exc.args[0]).rstrip(". ") if exc.args else "invalid"
    readable_tag = _readable(exc.tag) if getattr(exc, "tag", "") else ""
    tag = f" ({readable_tag})" if readable_tag else ""
    return Problem(file, line, element_id, f"SpiffWorkflow cannot use this element{tag}: {message}",
                   code="spiff_invalid", params={"tag": readable_tag, "detail": message})


def _file_with(locator: Locator, preferred: str, element_id: str | None) -> str:
    if locator.element(preferred, element_id) is not None:
        return preferred
    return locator.file_of(element_id) or preferred


@dataclass
class _Build:
    source: _Source
    key: str
    spec: Any
    subprocess_specs: dict[str, Any]


class _Unbuildable(Exception):
    """A process calls a process whose own file failed; that file's problems say why."""


class _SpecCache:
    """get_spec once per id: after a failure SpiffWorkflow would return a half-built spec."""

    def __init__(self, parser: SpiffBpmnParser):
        self.parser = parser
        self.results: dict[str, Any] = {}

    def get(self, process_id: str) -> Any:
        if process_id not in self.results:
            try:
                self.results[process_id] = self.parser.get_spec(process_id)
            except Exception as exc:
                self.results[process_id] = exc
        result = self.results[process_id]
        if isinstance(result, Exception):
            raise result
        return result


def _build_specs(parser: SpiffBpmnParser, sources: list[_Source], index: _Index, locator: Locator,
                 problems: list[Problem]) -> list[_Build]:
    cache = _SpecCache(parser)
    by_name = {s.name: s for s in sources}
    builds = []
    for source in sources:
        for key in source.process_ids if not source.failed else []:
            try:
                spec = cache.get(key)
                builds.append(_Build(source, key, spec, _subprocess_specs(cache, spec, index)))
            except _Unbuildable:
                continue
            except Exception as exc:
                problem = _spiff_problem(exc, locator, source.name)
                _stage(by_name.get(problem.file, source), [problem], problems)
    return builds


def _subprocess_specs(cache: _SpecCache, spec: Any, index: _Index) -> dict[str, Any]:
    """Like parser.get_subprocess_specs, but errors keep their file and element."""
    found: dict[str, Any] = {}
    pending = [spec]
    while pending:
        current = pending.pop()
        for task_spec in current.task_specs.values():
            if isinstance(task_spec, SubWorkflowTask) and task_spec.spec not in found:
                owner = index.processes.get(task_spec.spec)
                if owner is not None and owner.failed:
                    raise _Unbuildable(task_spec.spec)
                found[task_spec.spec] = cache.get(task_spec.spec)
                pending.append(found[task_spec.spec])
    return found


# --- stage 4: platform checks ---------------------------------------------------------

def _check_builds(builds: list[_Build], sources: list[_Source], ctx: CheckContext,
                  problems: list[Problem]) -> None:
    failed = {s.name for s in sources if s.failed}
    checked: set[str] = set()
    for build in builds:
        if build.source.failed:
            continue
        for spec in [build.spec, *build.subprocess_specs.values()]:
            if spec.name not in checked and spec.file not in failed:
                checked.add(spec.name)
                problems.extend(check_spec(spec, ctx))
        problems.extend(check_has_end_event(build.spec, ctx))
    for source in sources:
        if source.kind == "bpmn" and not source.failed:
            problems.extend(check_conditions(source.name, source.root))
            problems.extend(check_unsupported(source.name, source.root))
            problems.extend(check_subprocess_endings(source.name, source.root))


def _unique(problems: list[Problem]) -> list[Problem]:
    seen = set()
    unique = []
    for problem in problems:
        key = (problem.file, problem.line, problem.element_id, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique


# --- the result -----------------------------------------------------------------------

def _result(parser: SpiffBpmnParser, builds: list[_Build], sources: list[_Source],
            uses: dict[str, tuple[set[str], set[str]]]) -> ParseResult:
    processes, problems = [], []
    new_files = {s.name for s in sources}
    for build in builds:
        try:
            parsed = _parsed_process(parser, build)
            parsed.decisions = sorted(decisions_used(uses, build.key))
            if build.source.name not in new_files:
                parsed.rebuilt_from = _sha256(build.source.data)
            processes.append(parsed)
        except Exception as exc:
            message = f"the spec could not be serialized: {exc!r}"
            problems.append(Problem(build.source.name, None, build.key, message, code="spec_not_serializable",
                                    params={"detail": repr(exc)}))
    if problems:
        return ParseResult([], [], problems)
    decisions = [ParsedDecision(s.decision[0], s.decision[1], s.name, _sha256(s.data))
                 for s in sources if s.kind == "dmn" and s.decision is not None]
    return ParseResult(processes, decisions, [])


def _parsed_process(parser: SpiffBpmnParser, build: _Build) -> ParsedProcess:
    spec_json = specs_to_json(build.spec, build.subprocess_specs)
    starts = [ts for ts in build.spec.task_specs.values() if isinstance(ts, StartEvent)]
    return ParsedProcess(
        key=build.key,
        name=parser.get_process_parser(build.key).get_name() or build.key,
        file=build.source.name,
        spec_json=spec_json,
        content_hash=_sha256(spec_json.encode() + build.source.data),
        starter_groups=_starter_groups(starts),
        start_form_key=_start_form_key(starts),
        message_starts=_message_starts(starts),
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _starter_groups(starts: list[Any]) -> list[str]:
    """Groups named on the none and message start events, in order, without repeats."""
    groups: list[str] = []
    for start in starts:
        kinds = event_definitions(start)
        if all(isinstance(d, NoneEventDefinition | MessageEventDefinition) for d in kinds):
            for group in (properties(start).get("starterGroups") or "").split(","):
                if group.strip() and group.strip() not in groups:
                    groups.append(group.strip())
    return groups


def _start_form_key(starts: list[Any]) -> str | None:
    """The form a person fills in to start the process: the none start event's formKey."""
    for start in starts:
        form_key = (properties(start).get("formKey") or "").strip()
        if form_key and isinstance(start.event_definition, NoneEventDefinition):
            return form_key
    return None


def _message_starts(starts: list[Any]) -> list[str]:
    names: list[str] = []
    for start in starts:
        for definition in event_definitions(start):
            if isinstance(definition, MessageEventDefinition) and definition.name not in names:
                names.append(definition.name)
    return names

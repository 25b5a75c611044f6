"""The deployment lint: good files parse into specs, broken files give located problems."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

import forms
from engine.definitions.parsing import MAX_FILE_BYTES, ParseResult, Problem, parse_files
from engine.definitions.serialization import specs_from_json
from engine.definitions.validation import normalize_timer

DATA = Path(__file__).parents[1] / "data" / "lint"
GOOD = DATA / "good"
BROKEN = DATA / "broken"
FORM_KEYS = set(forms.FORMS)
OPERATORS = {"core.echo"}


def read(folder: Path, *names: str) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in names}


def good_files() -> dict[str, bytes]:
    return read(GOOD, "site_order.bpmn", "site_survey.bpmn", "site_fee.dmn")


def lint(files: dict[str, bytes], known: dict[str, bytes] | None = None) -> ParseResult:
    return parse_files(files, form_keys=FORM_KEYS, operators=OPERATORS, known_files=known)


def lint_broken(name: str) -> ParseResult:
    return lint(read(BROKEN, name))


def line_of(name: str, needle: str, folder: Path = BROKEN) -> int:
    """1-based line of the first line of a test file containing needle."""
    for number, text in enumerate((folder / name).read_text().splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(f"{needle!r} not in {name}")


def only_problem(result: ParseResult, file: str) -> Problem:
    assert not result.ok
    assert result.processes == [] and result.decisions == []
    assert len(result.problems) == 1, [str(p) for p in result.problems]
    problem = result.problems[0]
    assert problem.file == file
    return problem


def by_key(result: ParseResult) -> dict:
    return {p.key: p for p in result.processes}


def task_spec_json(spec_json: str, process: str, task: str) -> dict:
    data = json.loads(spec_json)
    spec = data["spec"] if data["spec"]["name"] == process else data["subprocess_specs"][process]
    return spec["task_specs"][task]


# --- good files -----------------------------------------------------------------------

def test_good_deployment_parses_every_process_and_decision():
    result = lint(good_files())

    assert result.ok, [str(p) for p in result.problems]
    processes = by_key(result)
    assert set(processes) == {"site_order", "site_survey"}
    order = processes["site_order"]
    assert (order.name, order.file) == ("Site order", "site_order.bpmn")
    assert order.starter_groups == ["sales", "ops"]
    assert order.start_form_key == "comment"
    assert order.message_starts == ["order_placed"]
    survey = processes["site_survey"]
    assert (survey.starter_groups, survey.start_form_key, survey.message_starts) == ([], None, [])
    [decision] = result.decisions
    assert (decision.key, decision.name, decision.file) == ("site_fee", "Site fee", "site_fee.dmn")
    assert decision.content_hash == hashlib.sha256(good_files()["site_fee.dmn"]).hexdigest()


def test_call_activity_target_is_embedded_in_the_callers_spec():
    order = by_key(lint(good_files()))["site_order"]

    assert set(json.loads(order.spec_json)["subprocess_specs"]) == {"site_survey"}


def test_bare_timer_literal_is_rewritten_as_a_quoted_string():
    order = by_key(lint(good_files()))["site_order"]

    timer = task_spec_json(order.spec_json, "site_order", "review_timeout")["event_definition"]
    assert timer["expression"] == "'PT15M'"


def test_quoted_timer_literal_is_kept_as_written():
    survey = by_key(lint(good_files()))["site_survey"]

    timer = task_spec_json(survey.spec_json, "site_survey", "wait_until")["event_definition"]
    assert timer["expression"] == '"2026-12-01T10:00:00"'


def test_rewritten_timer_runs_in_spiffworkflow():
    order = by_key(lint(good_files()))["site_order"]
    spec, subprocess_specs = specs_from_json(order.spec_json)
    workflow = BpmnWorkflow(spec, subprocess_specs)

    workflow.do_engine_steps()
    workflow.refresh_timers()

    [timer] = [t for t in workflow.get_tasks(state=TaskState.WAITING) if t.task_spec.name == "review_timeout"]
    assert timer.internal_data["event_value"]


def test_content_hash_is_stable_for_the_same_bytes():
    first = {p.key: p.content_hash for p in lint(good_files()).processes}
    second = {p.key: p.content_hash for p in lint(good_files()).processes}

    assert first == second


def test_content_hash_changes_when_the_file_changes():
    files = good_files()
    before = {p.key: p.content_hash for p in lint(files).processes}
    files["site_order.bpmn"] = files["site_order.bpmn"].replace(b'name="Review order"', b'name="Check order"')
    after = {p.key: p.content_hash for p in lint(files).processes}

    assert after["site_order"] != before["site_order"]
    assert after["site_survey"] == before["site_survey"]


def test_call_activity_and_decision_resolve_from_known_files():
    known = read(GOOD, "site_survey.bpmn", "site_fee.dmn")

    result = lint(read(GOOD, "site_order.bpmn"), known=known)

    assert result.ok, [str(p) for p in result.problems]
    assert [p.key for p in result.processes] == ["site_order"]
    assert result.decisions == []
    assert "site_survey" in json.loads(result.processes[0].spec_json)["subprocess_specs"]


def test_a_new_file_shadows_the_known_process_of_the_same_id():
    old = (GOOD / "site_survey.bpmn").read_bytes().replace(b'name="Site survey"', b'name="Old survey"')

    result = lint(good_files(), known={"old_survey.bpmn": old})

    assert result.ok, [str(p) for p in result.problems]
    assert by_key(result)["site_survey"].name == "Site survey"
    assert '"Old survey"' not in by_key(result)["site_order"].spec_json


def test_timers_in_embedded_and_event_subprocesses_are_rewritten():
    result = lint(read(GOOD, "structures.bpmn"))

    assert result.ok, [str(p) for p in result.problems]
    spec_json = result.processes[0].spec_json
    timer = task_spec_json(spec_json, "inspection", "inspect_late")["event_definition"]
    assert timer["expression"] == "'P1D'"
    cycle = task_spec_json(spec_json, "hourly_ping", "ping_start")["event_definition"]
    assert cycle["expression"] == "'R3/PT1H'"
    expression = task_spec_json(spec_json, "structures", "pause")["event_definition"]
    assert expression["expression"] == "pause_for"


def test_bare_timer_in_a_known_called_process_is_rewritten_too():
    survey = (GOOD / "site_survey.bpmn").read_bytes()
    survey = survey.replace(b'"2026-12-01T10:00:00"', b"2026-12-01T10:00:00")

    result = lint(read(GOOD, "site_order.bpmn", "site_fee.dmn"), known={"site_survey.bpmn": survey})

    timer = task_spec_json(result.processes[0].spec_json, "site_survey", "wait_until")["event_definition"]
    assert timer["expression"] == "'2026-12-01T10:00:00'"


def test_problems_inside_subprocesses_and_loops_are_located():
    data = (GOOD / "structures.bpmn").read_bytes()
    data = data.replace(b'value="comment"', b'value="nope"').replace(b"counter &gt;= 3", b"counter &gt;=")

    result = lint({"structures.bpmn": data})

    found = {(p.element_id, p.line) for p in result.problems}
    assert found == {
        ("inspect", line_of("structures.bpmn", 'name="formKey"', GOOD)),
        ("count", line_of("structures.bpmn", "<bpmn:loopCondition>", GOOD)),
    }
    assert {p.file for p in result.problems} == {"structures.bpmn"}


# --- broken files, one kind each ------------------------------------------------------

def test_malformed_xml():
    problem = only_problem(lint_broken("malformed.bpmn"), "malformed.bpmn")

    assert problem.line == line_of("malformed.bpmn", "</bpmn:startEvnt>")
    assert "not well-formed" in problem.message and "startEvnt" in problem.message


def test_malformed_xml_is_located_after_an_earlier_xml_error():
    lint({"other.bpmn": b"<definitions><a"})

    problem = only_problem(lint_broken("malformed.bpmn"), "malformed.bpmn")

    assert problem.line == line_of("malformed.bpmn", "</bpmn:startEvnt>")


def test_doctype_entity_bomb_is_refused_before_parsing():
    problem = only_problem(lint_broken("entity_bomb.bpmn"), "entity_bomb.bpmn")

    assert problem.line == line_of("entity_bomb.bpmn", "<!DOCTYPE")
    assert "DOCTYPE" in problem.message and "not allowed" in problem.message


def test_every_schema_error_is_reported_with_its_line():
    result = lint_broken("xsd_violation.bpmn")

    assert not result.ok
    lines = [(p.file, p.line, p.element_id) for p in result.problems]
    assert lines == [
        ("xsd_violation.bpmn", line_of("xsd_violation.bpmn", 'colour="red"'), "task"),
        ("xsd_violation.bpmn", line_of("xsd_violation.bpmn", "<bpmn:wrongChild"), "task"),
    ]
    assert "schema" in result.problems[0].message and "'colour' is not allowed" in result.problems[0].message
    assert "bpmn:wrongChild" in result.problems[1].message


def test_sequence_flow_to_a_missing_element():
    problem = only_problem(lint_broken("missing_target.bpmn"), "missing_target.bpmn")

    assert (problem.line, problem.element_id) == (line_of("missing_target.bpmn", 'id="f3"'), "f3")
    assert "leads to 'nowhere'" in problem.message


def test_unknown_form_key():
    problem = only_problem(lint_broken("unknown_form.bpmn"), "unknown_form.bpmn")

    assert (problem.line, problem.element_id) == (line_of("unknown_form.bpmn", 'name="formKey"'), "task")
    assert "formKey 'no_such_form' is not a registered form" in problem.message


def test_unknown_operator():
    problem = only_problem(lint_broken("unknown_operator.bpmn"), "unknown_operator.bpmn")

    assert problem.line == line_of("unknown_operator.bpmn", "serviceTaskOperator id=")
    assert problem.element_id == "task"
    assert "operator 'pms.no_such_operator' has no registered handler" in problem.message


def test_unknown_called_decision():
    problem = only_problem(lint_broken("unknown_decision.bpmn"), "unknown_decision.bpmn")

    assert problem.line == line_of("unknown_decision.bpmn", "calledDecisionId>")
    assert problem.element_id == "task"
    assert "calledDecisionId 'no_such_decision' names no DMN decision" in problem.message


def test_unparsable_timer_literal():
    problem = only_problem(lint_broken("bad_timer.bpmn"), "bad_timer.bpmn")

    assert problem.line == line_of("bad_timer.bpmn", "<bpmn:timeDuration>")
    assert problem.element_id == "too_late"
    assert "'PT15X' is not a valid ISO 8601 duration" in problem.message


def test_syntax_error_in_a_condition():
    problem = only_problem(lint_broken("bad_condition.bpmn"), "bad_condition.bpmn")

    assert (problem.line, problem.element_id) == (line_of("bad_condition.bpmn", "approved =="), "f_yes")
    assert "condition is not a valid expression" in problem.message and "SyntaxError" in problem.message


def test_script_that_does_not_compile_and_an_ignored_post_script():
    result = lint_broken("bad_script.bpmn")

    problems = {p.line: p for p in result.problems}
    script_line = line_of("bad_script.bpmn", "<bpmn:script>")
    post_line = line_of("bad_script.bpmn", "postScript>")
    assert set(problems) == {script_line, post_line}
    script = problems[script_line]
    assert (script.file, script.element_id) == ("bad_script.bpmn", "task")
    assert "the script does not compile" in script.message and "never closed" in script.message
    ignored = problems[post_line]
    assert "never runs a postScript" in ignored.message


def test_bad_priority():
    problem = only_problem(lint_broken("bad_priority.bpmn"), "bad_priority.bpmn")

    assert (problem.line, problem.element_id) == (line_of("bad_priority.bpmn", 'name="priority"'), "task")
    assert "priority must be a whole number from 0 to 100, not '150'" in problem.message


def test_candidate_expression_that_does_not_parse():
    problem = only_problem(lint_broken("bad_candidates.bpmn"), "bad_candidates.bpmn")

    assert (problem.line, problem.element_id) == (line_of("bad_candidates.bpmn", 'name="candidateUsers"'), "task")
    assert "candidateUsers is not a valid expression" in problem.message


def test_file_over_ten_megabytes_is_refused_unread():
    padding = b"<!--" + b"x" * (11 * 1024 * 1024) + b"-->\n"
    data = (GOOD / "site_survey.bpmn").read_bytes().replace(b"<bpmn:def", padding + b"<bpmn:def")
    assert len(data) > MAX_FILE_BYTES

    problem = only_problem(lint({"huge.bpmn": data}), "huge.bpmn")

    assert (problem.line, problem.element_id) == (None, None)
    assert "the limit is 10 MB" in problem.message


def test_file_that_is_neither_bpmn_nor_dmn():
    problem = only_problem(lint({"notes.txt": b"hello"}), "notes.txt")

    assert (problem.line, problem.element_id) == (None, None)
    assert "only .bpmn and .dmn files" in problem.message


# --- more broken files ----------------------------------------------------------------

def test_bad_due_in_and_due_date():
    result = lint_broken("bad_due.bpmn")

    messages = {p.line: p.message for p in result.problems}
    assert "dueIn 'two days' is not an ISO 8601 duration" in messages[line_of("bad_due.bpmn", 'name="dueIn"')]
    assert "dueDate is not a valid expression" in messages[line_of("bad_due.bpmn", 'name="dueDate"')]
    assert {p.element_id for p in result.problems} == {"task"}


def test_bad_service_parameter_and_retries():
    result = lint_broken("bad_service.bpmn")

    messages = {p.line: p.message for p in result.problems}
    assert len(messages) == 2
    assert "retries must be a whole number from 1 to 20, not '50'" in messages[
        line_of("bad_service.bpmn", 'name="retries"')]
    assert "parameter 'site' is not a valid expression" in messages[line_of("bad_service.bpmn", 'id="site"')]


def test_unsupported_hit_policy():
    problem = only_problem(lint_broken("bad_hit_policy.dmn"), "bad_hit_policy.dmn")

    assert problem.line == line_of("bad_hit_policy.dmn", 'hitPolicy="FIRST"')
    assert problem.element_id == "first_fee_table"
    assert "hit policy FIRST is not supported" in problem.message


def test_two_decisions_in_one_dmn_file():
    problem = only_problem(lint_broken("two_decisions.dmn"), "two_decisions.dmn")

    assert (problem.line, problem.element_id) == (line_of("two_decisions.dmn", 'id="fee_b"'), "fee_b")
    assert "exactly one decision" in problem.message


def test_parameter_id_that_shadows_an_element_id():
    problem = only_problem(lint_broken("id_clash.bpmn"), "id_clash.bpmn")

    assert (problem.line, problem.element_id) == (line_of("id_clash.bpmn", 'parameter id="end"'), "end")
    assert "also the id of a BPMN element" in problem.message


def test_process_without_end_event():
    problem = only_problem(lint_broken("no_end.bpmn"), "no_end.bpmn")

    assert (problem.line, problem.element_id) == (line_of("no_end.bpmn", "<bpmn:process"), "no_end")
    assert "no end event" in problem.message


def test_spiffworkflow_validation_error_is_located():
    problem = only_problem(lint_broken("gateway_without_condition.bpmn"), "gateway_without_condition.bpmn")

    assert problem.element_id in {"f_yes", "f_no"}
    assert problem.line == line_of("gateway_without_condition.bpmn", f'id="{problem.element_id}"')
    assert "without condition" in problem.message


def test_file_not_in_utf8_is_refused():
    data = (GOOD / "site_survey.bpmn").read_text().replace('encoding="UTF-8"', 'encoding="UTF-16"')

    problem = only_problem(lint({"survey.bpmn": data.encode("utf-16")}), "survey.bpmn")

    assert "UTF-8" in problem.message


# --- one pass over many files ---------------------------------------------------------

def test_all_files_are_checked_in_one_pass():
    names = ["malformed.bpmn", "xsd_violation.bpmn", "unknown_form.bpmn", "bad_timer.bpmn",
             "bad_hit_policy.dmn"]

    result = lint({**good_files(), **read(BROKEN, *names)})

    assert {p.file for p in result.problems} == set(names)
    assert result.processes == [] and result.decisions == []


def test_a_file_stops_at_the_first_stage_it_fails():
    data = (BROKEN / "unknown_form.bpmn").read_bytes()
    data = data.replace(b'name="Approve"', b'name="Approve" colour="red"')

    problem = only_problem(lint({"unknown_form.bpmn": data}), "unknown_form.bpmn")

    assert "schema" in problem.message


def test_calling_a_broken_new_process_reports_only_the_broken_file():
    files = good_files()
    files["site_survey.bpmn"] = files["site_survey.bpmn"].replace(b'name="Survey the site"',
                                                                  b'name="Survey the site" colour="red"')

    result = lint(files)

    assert {p.file for p in result.problems} == {"site_survey.bpmn"}


def test_using_a_broken_new_decision_reports_only_the_broken_file():
    files = good_files()
    files["site_fee.dmn"] = files["site_fee.dmn"].replace(b'hitPolicy="UNIQUE"', b'hitPolicy="ANY"')

    result = lint(files)

    assert {p.file for p in result.problems} == {"site_fee.dmn"}


def test_duplicate_process_id_in_two_new_files():
    files = good_files()
    files["copy.bpmn"] = files["site_survey.bpmn"]

    result = lint(files)

    assert [(p.file, p.element_id) for p in result.problems] == [("copy.bpmn", "site_survey")]
    assert "also defined in site_survey.bpmn" in result.problems[0].message


# --- pieces ---------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "written", "rewritten", "error"), [
    ("duration", "PT15M", "'PT15M'", None),
    ("duration", " P2D ", "'P2D'", None),
    ("duration", '"PT15M"', None, None),
    ("duration", "'PT15M'", None, None),
    ("duration", "wait_time", None, None),
    ("duration", '"P2D" if urgent else "P5D"', None, None),
    ("duration", "PT15X", None, "not a valid ISO 8601 duration"),
    ("duration", '"PT15X"', None, "not a valid ISO 8601 duration"),
    ("duration", "2026-12-01T10:00:00", None, "not a valid ISO 8601 duration"),
    ("date", "2026-12-01T10:00:00", "'2026-12-01T10:00:00'", None),
    ("date", "PT15M", None, "not a valid ISO 8601 date"),
    ("cycle", "R3/PT1H", "'R3/PT1H'", None),
    ("cycle", "R3/PT1X", None, "not a valid ISO 8601 cycle"),
    ("cycle", "R3", None, None),
    ("duration", "", None, "no duration value"),
    ("duration", "due +", None, "neither an ISO 8601 duration nor a valid expression"),
])
def test_normalize_timer(kind, written, rewritten, error):
    new, problem = normalize_timer(kind, written)

    assert new == rewritten
    if error is None:
        assert problem is None
    else:
        assert error in problem


def test_problem_formats():
    problem = Problem("a.bpmn", 12, "task", "something is wrong")

    assert str(problem) == "a.bpmn:12: [task] something is wrong"
    assert str(Problem("a.txt", None, None, "bad name")) == "a.txt: bad name"
    assert problem.as_dict() == {
        "file": "a.bpmn", "line": 12, "element_id": "task", "message": "something is wrong"}


def test_an_event_subprocess_is_refused_with_a_way_out():
    problem = only_problem(lint_broken("event_subprocess.bpmn"), "event_subprocess.bpmn")

    assert (problem.line, problem.element_id) == (line_of("event_subprocess.bpmn", "triggeredByEvent"), "cancel_sp")
    assert "interrupting event subprocesses are not supported" in problem.message
    assert "boundary event" in problem.message


# --- severities and codes -------------------------------------------------------------

USER_TASK_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="t">
  <bpmn:process id="plain" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="task" name="Check">{extensions}
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def user_task_file(**props: str) -> dict[str, bytes]:
    extensions = ""
    if props:
        rows = "".join(f'<spiffworkflow:property name="{k}" value="{v}" />' for k, v in props.items())
        extensions = f"<bpmn:extensionElements><spiffworkflow:properties>{rows}</spiffworkflow:properties>" \
                     "</bpmn:extensionElements>"
    return {"plain.bpmn": USER_TASK_PROCESS.format(extensions=extensions).encode()}


def test_a_user_task_without_form_or_candidates_is_a_warning_that_deploys():
    result = lint(user_task_file())

    assert result.ok and [p.key for p in result.processes] == ["plain"]
    assert result.problems == []
    assert {(w.element_id, w.code, w.severity) for w in result.warnings} == {
        ("task", "user_task_no_form", "warning"), ("task", "user_task_no_candidates", "warning")}
    assert all(str(w).startswith("plain.bpmn:") and ": warning: [task] " in str(w) for w in result.warnings)
    assert result.warnings[0].as_dict()["severity"] == "warning"


def test_a_user_task_with_form_and_a_group_has_no_warning():
    result = lint(user_task_file(formKey="approval", candidateGroups="ops"))

    assert result.ok and result.warnings == []


def test_warnings_are_not_given_for_the_known_files_nor_alongside_errors():
    known = user_task_file()
    result = lint(read(BROKEN, "unknown_form.bpmn"), known=known)

    assert not result.ok
    assert {w.file for w in result.warnings} <= {"unknown_form.bpmn"}
    assert all(p.severity == "error" for p in result.problems)


@pytest.mark.parametrize(("name", "code", "params"), [
    ("unknown_form.bpmn", "unknown_form", {"form": "no_such_form"}),
    ("unknown_operator.bpmn", "unknown_handler", {"operator": "pms.no_such_operator"}),
    ("unknown_decision.bpmn", "unknown_decision", {"decision": "no_such_decision"}),
    ("bad_condition.bpmn", "bad_condition", {}),
    ("bad_timer.bpmn", "bad_timer", {}),
    ("no_end.bpmn", "no_end_event", {}),
    ("missing_target.bpmn", "flow_targetRef", {"ref": "nowhere"}),
    ("xsd_violation.bpmn", "schema", {"schema": "BPMN 2.0"}),
])
def test_the_designers_most_seen_problems_have_a_code_and_params(name, code, params):
    result = lint_broken(name)

    coded = [p for p in result.problems if p.code == code]
    assert coded, [(str(p), p.code) for p in result.problems]
    assert all(p.severity == "error" for p in result.problems)
    for key, value in params.items():
        assert coded[0].params[key] == value
    assert coded[0].as_dict()["code"] == code and "severity" not in coded[0].as_dict()


def test_an_unknown_called_process_has_a_code():
    files = user_task_file(formKey="approval", candidateGroups="ops")
    xml = files["plain.bpmn"].decode().replace(
        '<bpmn:endEvent id="end">',
        '<bpmn:callActivity id="call" calledElement="no_such_process" /><bpmn:endEvent id="end">')
    problems = lint({"plain.bpmn": xml.encode()}).problems

    assert [(p.element_id, p.code, p.params["process"]) for p in problems] == [
        ("call", "unknown_called_process", "no_such_process")]


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.iterdir()))
def test_every_problem_of_a_broken_file_has_a_code_and_keeps_its_english_message(name):
    result = lint_broken(name)

    assert result.problems
    for problem in result.problems + result.warnings:
        assert problem.code, str(problem)
        assert problem.as_dict()["code"] == problem.code and isinstance(problem.as_dict()["params"], dict)
        assert problem.message and problem.message.isascii(), problem.message


def test_a_third_party_detail_is_a_param_and_the_message_stays_as_it_was():
    problem = only_problem(lint_broken("malformed.bpmn"), "malformed.bpmn")

    assert problem.code == "xml_not_well_formed"
    assert problem.message == f"the XML is not well-formed: {problem.params['detail']}"

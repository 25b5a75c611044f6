"""The dry run: a diagram run in memory with sample data, leaving no trace in the database."""

from __future__ import annotations

import pytest
from helpers import deploy, read
from sqlalchemy import func, select

from engine.db import Base
from engine.errors import BadRequest, ValidationFailed
from engine.runtime.dry_run import STUB_RESULT, dry_run

APPROVED = {"start": {"comment": "urgent"}, "tasks": {"review": {"approved": True}}}


def files(name: str = "dry_run.bpmn", data: bytes | None = None) -> dict[str, bytes]:
    return {name: data if data is not None else read(name)}


def row_counts(platform) -> dict[str, int]:
    with platform.Session() as db:
        return {t.name: db.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def path(result) -> list[tuple[str, str]]:
    return [(s.element_id, s.outcome) for s in result.steps]


def test_runs_to_its_end_with_the_sample_data(platform, services):
    called = []
    services.add("core.echo", lambda params, call: called.append(params) or {"sent": True})
    result = dry_run(platform, files(), "dry_run", APPROVED)
    assert result.state == "completed" and result.element_id is None
    assert path(result) == [("start", "started"), ("review", "completed"), ("decide", "ran"), ("price", "ran"),
                            ("notify", "service_not_called"), ("cool_off", "timer_fired_early"), ("done", "ended")]
    review, price, notify = result.steps[1], result.steps[3], result.steps[4]
    assert review.given == {"approved": True} and review.changes == {"approved": True}
    assert review.came_from == "start" and price.came_from == "decide"
    assert price.changes == {"total": 300}
    assert notify.changes == {"notified": STUB_RESULT}
    assert result.variables == {"comment": "urgent", "approved": True, "total": 300, "notified": STUB_RESULT}
    assert called == []  # the handler was never called
    assert any("not called" in note for note in result.notes)
    assert any("cool_off" in note and "fired at once" in note for note in result.notes)
    assert [s.number for s in result.steps] == list(range(1, 8))


def test_the_gateway_takes_the_branch_the_data_chooses(platform):
    refused = dry_run(platform, files(), "dry_run", {"tasks": {"review": {"approved": False}}})
    assert refused.state == "completed"
    assert path(refused) == [("start", "started"), ("review", "completed"), ("decide", "ran"), ("refused", "ended")]
    assert refused.steps[-1].came_from == "decide"
    nothing = dry_run(platform, files(), None, {})  # no data for the task: the condition cannot be evaluated
    assert nothing.state == "error" and nothing.element_id == "decide"
    assert "approved" in nothing.message and "not defined" in nothing.message


def test_a_failing_script_reports_its_element_and_error(platform):
    broken = read("dry_run.bpmn").replace(b"total = 3 * 100", b"total = 3 / zero")
    result = dry_run(platform, files("dry_run.bpmn", broken), "dry_run", {**APPROVED, "start": {"zero": 0}})
    assert result.state == "error" and result.element_id == "price"
    assert "division by zero" in result.message
    assert path(result)[-1] == ("price", "failed")


def test_a_loop_stops_at_the_budget(platform):
    result = dry_run(platform, files("loop.bpmn"), "loop", {"start": {"limit": 10**9}}, budget=40)
    assert result.state == "budget" and len(result.steps) == 40
    assert "40 steps" in result.message
    small = dry_run(platform, files("loop.bpmn"), "loop", {"start": {"limit": 3}})
    assert small.state == "completed" and small.variables["i"] == 3


def test_a_message_catch_event_stops_the_run(platform):
    result = dry_run(platform, files("msg_wait.bpmn"), None, {})
    assert result.state == "waiting" and result.element_id == "wait_result"
    assert result.waiting == [{"element_id": "wait_result", "kind": "message", "message": "site_result"}]
    assert "site_result" in result.message


def test_timers_can_stop_the_run_instead_of_firing(platform):
    result = dry_run(platform, files(), "dry_run", APPROVED, fire_timers=False)
    assert result.state == "waiting" and result.element_id == "cool_off"
    assert result.waiting[0]["kind"] == "timer" and "due_at" in result.waiting[0]


def test_nothing_is_written(platform):
    deploy(platform, "jobs_wait.bpmn")  # something deployed: the lint reads it, the run must not touch it
    before = row_counts(platform)
    for sample in (APPROVED, {"tasks": {"review": {"approved": False}}}):
        dry_run(platform, files(), "dry_run", sample)
    dry_run(platform, files("loop.bpmn"), "loop", {"start": {"limit": 10**9}}, budget=20)
    dry_run(platform, files("msg_wait.bpmn"), None, {})
    after = row_counts(platform)
    assert after == before
    for table in ("process_instances", "human_tasks", "jobs", "audit_events", "outbox_messages"):
        assert after[table] == 0


def test_a_diagram_with_errors_is_refused_with_the_lint_problems(platform):
    bad = read("dry_run.bpmn").replace(b'id="core.echo"', b'id="no.such_operator"')
    with pytest.raises(ValidationFailed) as caught:
        dry_run(platform, files("dry_run.bpmn", bad), "dry_run", APPROVED)
    problems = caught.value.details["problems"]
    assert any(p["element_id"] == "notify" for p in problems)


def test_bad_sample_data_and_unknown_processes_are_refused(platform):
    with pytest.raises(BadRequest):
        dry_run(platform, files(), "dry_run", {"tasks": {"review": [1, 2]}})
    with pytest.raises(BadRequest):
        dry_run(platform, files(), "dry_run", {"start": "x"})
    with pytest.raises(BadRequest):
        dry_run(platform, files(), "no_such_process", {})

"""Instance migration (issue 15, point 3) on Flow 2: negotiations waiting on the deadline timer
and on a user task, on their own and called by a tower order, move to a changed version and
go on there; what would lose a token or a timer is refused; moving back undoes it."""

from __future__ import annotations

import pytest
from migration_world import (
    definition_id,
    deploy_variant,
    other_timer,
    renamed_with_new_step,
    without_accept,
    without_cancel,
    without_timer,
)
from sqlalchemy import select
from test_flow_negotiation import complete, negotiating, open_elements, start_negotiation, timer_jobs
from test_flow_negotiation import deployed as negotiation_deployed  # noqa: F401
from test_flow_negotiation import people as negotiation_people  # noqa: F401
from test_flow_tower_order import deployed as tower_deployed  # noqa: F401
from test_flow_tower_order import failed_screening
from test_flow_tower_order import people as tower_people  # noqa: F401

from engine.errors import Forbidden, ValidationFailed
from engine.models import AuditEvent, HumanTask, InstanceToken, ProcessInstance
from engine.principal import Principal
from engine.runtime import instances, migration

SUPERVISOR = Principal("zhou", frozenset({"supervisor"}))


def row(platform, instance_id: int) -> ProcessInstance:
    with platform.Session() as session:
        return session.get(ProcessInstance, instance_id)


def open_task(platform, root_id: int, element_id: str) -> HumanTask:
    with platform.Session() as session:
        [task] = session.scalars(select(HumanTask).where(HumanTask.instance_id == root_id, HumanTask.state == "open",
                                                         HumanTask.element_id == element_id))
        return task


def audit_events(platform, instance_id: int) -> list[AuditEvent]:
    with platform.Session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id,
                                                             AuditEvent.action == "instance.migrated")
                                    .order_by(AuditEvent.id)))


# --- standalone negotiations -------------------------------------------------------------------


@pytest.fixture
def people(negotiation_deployed, negotiation_people):  # noqa: F811
    return negotiation_people


def test_a_negotiation_at_the_report_moves_keeps_task_and_timer_and_continues(platform, people):
    iid = negotiating(people)
    v1 = definition_id(platform, "site_negotiation", 1)
    v2 = deploy_variant(platform, renamed_with_new_step())
    task_before = open_task(platform, iid, "report")
    [timer_before] = timer_jobs(platform, iid, "deadline")

    plan = migration.plan(platform, SUPERVISOR, v1, v2, [iid])
    assert (plan.movable, plan.refused) == (1, 0)
    [one] = plan.instances
    at = {e.element_id: (e.target_id, e.status, e.kind) for e in one.elements}
    assert at["report"] == ("report", "changed", "active")  # renamed, and a new step after it
    assert at["deadline"] == ("deadline", "same", "listener")
    assert ("check_report", "复核谈址进展") in plan.added
    assert row(platform, iid).definition_id == v1  # a plan changes nothing

    result = migration.migrate(platform, SUPERVISOR, v1, v2, [iid], reason="修正谈址流程")
    assert result.migrated == 1
    moved = row(platform, iid)
    assert (moved.definition_id, moved.version, moved.state) == (v2, 2, "waiting")
    task_after = open_task(platform, iid, "report")
    assert (task_after.id, task_after.spiff_task_id) == (task_before.id, task_before.spiff_task_id)
    assert task_after.title == "反馈谈址进展（新）"
    [timer_after] = timer_jobs(platform, iid, "deadline")
    assert (timer_after.id, timer_after.due_at, timer_after.state) == (timer_before.id, timer_before.due_at, "pending")
    [event] = audit_events(platform, iid)
    assert (event.actor, event.data["from_version"], event.data["to_version"]) == ("zhou", 1, 2)
    assert event.data["mapping"]["report"] == "report" and event.data["reason"] == "修正谈址流程"
    with platform.Session() as session:
        tokens = {t.element_id: t.definition_id for t in session.scalars(
            select(InstanceToken).where(InstanceToken.instance_id == iid))}
    assert tokens["report"] == v2

    complete(people.negotiator, iid, "report", progress_outcome="in_progress", progress_note="业主考虑中")
    assert open_elements(people.negotiator, iid) == ["check_report"]  # the new version's step
    complete(people.negotiator, iid, "check_report", comment="已复核")
    assert open_elements(people.negotiator, iid) == ["report"]


def test_undo_is_a_migration_back(platform, people):
    iid = negotiating(people)
    v1 = definition_id(platform, "site_negotiation", 1)
    v2 = deploy_variant(platform, renamed_with_new_step())
    task_before = open_task(platform, iid, "report")
    [timer_before] = timer_jobs(platform, iid, "deadline")
    assert migration.migrate(platform, SUPERVISOR, v1, v2, [iid], reason="试运行").migrated == 1
    assert migration.migrate(platform, SUPERVISOR, v2, v1, [iid], reason="撤销").migrated == 1
    back = row(platform, iid)
    assert (back.definition_id, back.version) == (v1, 1)
    assert open_task(platform, iid, "report").id == task_before.id
    assert open_task(platform, iid, "report").title == "反馈谈址进展"
    assert [j.due_at for j in timer_jobs(platform, iid, "deadline")] == [timer_before.due_at]
    assert [(e.data["from_version"], e.data["to_version"]) for e in audit_events(platform, iid)] == [(1, 2), (2, 1)]
    complete(people.negotiator, iid, "report", progress_outcome="in_progress", progress_note="业主考虑中")
    assert open_elements(people.negotiator, iid) == ["report"]  # version 1 has no check step


def test_a_filter_moves_the_waiting_ones_and_refuses_what_would_lose_a_token(platform, people):
    at_plan = start_negotiation(people)["id"]
    at_accept = start_negotiation(people)["id"]
    complete(people.regional, at_accept, "plan", negotiator="sun", plan="先谈业主")
    v1 = definition_id(platform, "site_negotiation", 1)
    v2 = deploy_variant(platform, without_accept())
    plan = migration.plan(platform, SUPERVISOR, v1, v2, flt=instances.InstanceFilter(state="waiting"))
    by_id = {p.instance_id: p for p in plan.instances}
    assert set(by_id) == {at_plan, at_accept}
    assert by_id[at_plan].ok
    assert [r.code for r in by_id[at_accept].refusals] == ["lost_token"]
    assert "接收谈址任务" in by_id[at_accept].refusals[0].message
    assert next(m for m in plan.mapping if m.element_id == "accept").status == "removed"

    result = migration.migrate(platform, SUPERVISOR, v1, v2, flt=instances.InstanceFilter(state="waiting"),
                               reason="去掉接收")
    assert {p.instance_id: p.migrated for p in result.instances} == {at_plan: True, at_accept: False}
    assert row(platform, at_accept).definition_id == v1 and not audit_events(platform, at_accept)
    complete(people.regional, at_plan, "plan", negotiator="sun", plan="先谈业主")
    assert open_elements(people.regional, at_plan) == ["report"]  # v2 goes straight to the report


@pytest.mark.parametrize("variant, code", [(without_timer, "lost_timer"), (other_timer, "timer_changed"),
                                           (without_cancel, "lost_listener")])
def test_a_waiting_timer_or_listener_that_would_be_lost_is_refused(platform, people, variant, code):
    iid = negotiating(people)
    v1 = definition_id(platform, "site_negotiation", 1)
    v2 = deploy_variant(platform, variant())
    [timer_before] = timer_jobs(platform, iid, "deadline")
    result = migration.migrate(platform, SUPERVISOR, v1, v2, [iid], reason="改期限")
    [one] = result.instances
    assert not one.migrated and code in [r.code for r in one.refusals]
    assert row(platform, iid).definition_id == v1
    assert [j.due_at for j in timer_jobs(platform, iid, "deadline")] == [timer_before.due_at]


def test_bad_requests_change_nothing(platform, people):
    iid = negotiating(people)
    v1 = definition_id(platform, "site_negotiation", 1)
    v2 = deploy_variant(platform, renamed_with_new_step())
    with pytest.raises(Forbidden):
        migration.migrate(platform, Principal("sun", frozenset({"negotiator"})), v1, v2, [iid], reason="x")
    with pytest.raises(ValidationFailed):
        migration.plan(platform, SUPERVISOR, v1, v1, [iid])
    with pytest.raises(ValidationFailed):
        migration.plan(platform, SUPERVISOR, v1, 99999, [iid])
    with pytest.raises(ValidationFailed):
        migration.plan(platform, SUPERVISOR, v1, definition_id(platform, "difficult_site", 1), [iid])
    other_tenant = Principal("cmcc", frozenset({"supervisor"}), tenant="china_mobile")
    [one] = migration.migrate(platform, other_tenant, v1, v2, [iid], reason="x").instances
    assert [r.code for r in one.refusals] == ["not_found"]
    [one] = migration.migrate(platform, SUPERVISOR, v2, v1, [iid], reason="x").instances
    assert [r.code for r in one.refusals] == ["not_source"]
    assert row(platform, iid).definition_id == v1


# --- negotiations called by a tower order ---------------------------------------------------------


def test_a_called_negotiation_moves_inside_its_tower_order_and_back(platform, tower_deployed, tower_people):  # noqa: F811
    from test_flow_tower_order import complete as complete_order
    from test_flow_tower_order import open_elements as order_elements

    people = tower_people
    root_id = failed_screening(people)
    with platform.Session() as session:
        [called] = session.scalars(select(ProcessInstance).where(ProcessInstance.root_id == root_id))
    v1 = called.definition_id
    v2 = deploy_variant(platform, renamed_with_new_step())
    task_before = open_task(platform, root_id, "report")
    [timer_before] = timer_jobs(platform, root_id, "deadline")

    plan = migration.plan(platform, SUPERVISOR, v1, v2, flt=instances.InstanceFilter(state="waiting"))
    assert [(p.instance_id, p.ok) for p in plan.instances] == [(called.id, True)]
    assert {e.element_id for e in plan.instances[0].elements} >= {"report", "deadline", "negotiation"}

    result = migration.migrate(platform, SUPERVISOR, v1, v2, [called.id], reason="修正谈址流程")
    assert result.migrated == 1
    moved, root = row(platform, called.id), row(platform, root_id)
    assert (moved.definition_id, moved.version, moved.state) == (v2, 2, "waiting")
    assert root.spec_overrides == {"site_negotiation": v2} and root.version == 1
    task_after = open_task(platform, root_id, "report")
    assert (task_after.id, task_after.title, task_after.called_instance_id) == (task_before.id, "反馈谈址进展（新）",
                                                                                called.id)
    assert [j.due_at for j in timer_jobs(platform, root_id, "deadline")] == [timer_before.due_at]
    assert [e.data["to_version"] for e in audit_events(platform, called.id)] == [2]

    # undo, and again forward: the choice the root remembers follows
    assert migration.migrate(platform, SUPERVISOR, v2, v1, [called.id], reason="撤销").migrated == 1
    assert row(platform, called.id).version == 1
    assert migration.migrate(platform, SUPERVISOR, v1, v2, [called.id], reason="再迁").migrated == 1

    complete_order(people.negotiator, people, root_id, "report", progress_outcome="in_progress", progress_note="谈")
    assert order_elements(people, root_id) == ["check_report"]
    check = open_task(platform, root_id, "check_report")
    assert (check.process_key, check.called_instance_id) == ("site_negotiation", called.id)
    complete_order(people.negotiator, people, root_id, "check_report", comment="已复核")
    complete_order(people.negotiator, people, root_id, "report", progress_outcome="success", site_code="NJ-XW-0100",
                   lessor="玄武湖物业", contract_no="HT-1", agreed_cost=40000, lease_years=5)
    complete_order(people.negotiator, people, root_id, "check_report", comment="已复核")
    assert order_elements(people, root_id) == ["confirm_screening"]  # back in the tower order
    assert row(platform, called.id).state == "completed"


# --- the command line ---------------------------------------------------------------------------


def test_the_command_line_prints_the_plan_then_migrates(platform, people, database_url):
    from click.testing import CliRunner

    from web.cli import main

    iid = negotiating(people)
    deploy_variant(platform, renamed_with_new_step())

    def cli(*args):
        return CliRunner().invoke(main, ["--database", database_url, "migrate", *args], catch_exceptions=False)

    dry = cli("--from", "site_negotiation:1", "--to", "site_negotiation:2", "--instance", str(iid), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "report -> report  [changed" in dry.output and f"instance {iid} [" in dry.output
    assert row(platform, iid).version == 1
    assert cli("--from", "site_negotiation:1", "--to", "site_negotiation:2").exit_code != 0  # no reason
    done = cli("--from", "site_negotiation:1", "--to", "site_negotiation:2", "--state", "waiting",
               "--reason", "修正谈址流程")
    assert done.exit_code == 0, done.output
    assert f"instance {iid}: migrated" in done.output and "1 of 1 migrated" in done.output
    assert row(platform, iid).version == 2
    bad = cli("--from", "site_negotiation:1", "--to", "site_negotiation:9", "--dry-run")
    assert bad.exit_code != 0 and "no version 9" in bad.output


def test_a_tower_order_moves_as_a_root_and_its_waiting_negotiation_stays(platform, tower_deployed,  # noqa: F811
                                                                       tower_people):  # noqa: F811
    from migration_world import PROCESSES
    from test_flow_tower_order import complete as complete_order
    from test_flow_tower_order import open_elements as order_elements

    from engine.definitions import deployments
    from engine.principal import SYSTEM

    people = tower_people
    root_id = failed_screening(people)
    task_before = open_task(platform, root_id, "report")
    [timer_before] = timer_jobs(platform, root_id, "deadline")
    text = (PROCESSES / "tower_order.bpmn").read_text(encoding="utf-8")
    text = text.replace('id="delivery" name="交付验收单"', 'id="delivery" name="提交交付验收单"')
    deployments.deploy(platform, SYSTEM, {"tower_order.bpmn": text.encode("utf-8")})
    v1, v2 = definition_id(platform, "tower_order", 1), definition_id(platform, "tower_order", 2)

    result = migration.migrate(platform, SUPERVISOR, v1, v2, [root_id], reason="改名")
    assert result.migrated == 1, [r.message for p in result.instances for r in p.refusals]
    assert (row(platform, root_id).version, row(platform, root_id).definition_id) == (2, v2)
    assert open_task(platform, root_id, "report").id == task_before.id
    assert [j.due_at for j in timer_jobs(platform, root_id, "deadline")] == [timer_before.due_at]
    complete_order(people.negotiator, people, root_id, "report", progress_outcome="success", site_code="NJ-XW-0100",
                   lessor="玄武湖物业", contract_no="HT-1", agreed_cost=40000, lease_years=5)
    assert order_elements(people, root_id) == ["confirm_screening"]

"""Do the rows a save keeps still say what each workflow says?

A save writes only the difference between the workflow as loaded and as saved
(engine/runtime/mirror.py), trusting that the rows match the loaded workflow. This check reads
every root instance's workflow and compares it with its rows: open human tasks, tokens,
pending timer and service jobs, and message subscriptions. The flow tests run it after each
test, so every path through the seven flows proves the rows were written right.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from engine.definitions.serialization import workflow_from_json
from engine.models import HumanTask, InstanceToken, Job, MessageSubscription, ProcessInstance
from engine.runtime.instance_run import FINAL_STATES
from engine.runtime.mirror import Mirror


def mismatches(platform) -> list[str]:
    """One line per instance whose rows differ from its workflow; empty when all agree."""
    problems: list[str] = []
    with platform.Session() as session:
        roots = session.scalars(select(ProcessInstance).where(ProcessInstance.parent_id.is_(None))
                                .order_by(ProcessInstance.id)).all()
        for row in roots:
            if row.workflow_json in ("", "{}"):
                continue
            workflow = workflow_from_json(row.workflow_json, platform.specs_for(session, row))
            problems += [f"instance {row.id} ({row.process_key}, {row.state}): {p}"
                         for p in _instance_problems(session, row, workflow)]
    return problems


def _instance_problems(session, row: ProcessInstance, workflow) -> list[str]:
    wanted = Mirror.of(workflow, row.state)
    final = row.state in FINAL_STATES
    found = []
    open_tasks = set(session.scalars(select(HumanTask.spiff_task_id).where(
        HumanTask.instance_id == row.id, HumanTask.state == "open")))
    if not final and open_tasks != wanted.user_tasks:
        found.append(f"open tasks {sorted(open_tasks)} but ready user tasks {sorted(wanted.user_tasks)}")
    if final and open_tasks:
        found.append(f"ended with open tasks {sorted(open_tasks)}")

    called = {r.call_task_id: r.id for r in session.scalars(
        select(ProcessInstance).where(ProcessInstance.root_id == row.id))}
    tokens = Counter((t.instance_id, t.element_id, t.spiff_task_id, t.kind) for t in session.scalars(
        select(InstanceToken).where(InstanceToken.root_id == row.id)))
    expected = Counter() if final else Counter(
        (called.get(call, row.id) if call else row.id, element, task_id, kind)
        for (call, element, task_id), kind in wanted.tokens.items())
    if tokens != expected:
        found.append(f"tokens {sorted(tokens.elements())} but live elements {sorted(expected.elements())}")

    jobs = session.scalars(select(Job).where(Job.instance_id == row.id)).all()
    timers = {j.spiff_task_id for j in jobs if j.kind == "timer" and j.state == "pending"}
    if row.state != "suspended" and timers != (set() if final else wanted.timers):
        found.append(f"pending timer jobs {sorted(timers)} but waiting timers {sorted(wanted.timers)}")
    services = {j.spiff_task_id for j in jobs if j.kind == "service" and j.state in ("pending", "failed")}
    pending_services = {j.spiff_task_id for j in jobs if j.kind == "service" and j.state == "pending"}
    if not final and not wanted.services <= services:
        found.append(f"ready service tasks {sorted(wanted.services - services)} have no job")
    if not pending_services <= wanted.services:
        found.append(f"pending service jobs {sorted(pending_services - wanted.services)} for tasks not ready")

    subscriptions = [(s.name, s.correlations) for s in session.scalars(
        select(MessageSubscription).where(MessageSubscription.instance_id == row.id)
        .order_by(MessageSubscription.id))]
    if subscriptions != ([] if final else wanted.messages):
        found.append(f"subscriptions {subscriptions} but waiting messages {wanted.messages}")
    return found

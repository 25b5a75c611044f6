"""Concurrency across OS processes: two real ``towerflow serve`` processes on one database, hit
over HTTP by many client threads released at the same instant.

Runs on PostgreSQL (row locks, as in production) and on SQLite too, where the database file
serializes the writers of both processes.
"""

from __future__ import annotations

from collections import Counter

from relhelp import all_at_once, call, rel_deploy
from sqlalchemy import select

from engine import identity
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.principal import SYSTEM
from engine.runtime import instances

CLAIMANTS = 50
PARALLEL_INSTANCES = 10
MESSAGE_REPEATS = 10


def tokens(platform, names: list[str], groups: list[str]) -> dict[str, str]:
    with platform.transaction() as session:
        for name in names:
            identity.add_user(session, name, "password123", groups)
        return {name: identity.create_token(session, name) for name in names}


def actions(platform, instance_id: int) -> Counter:
    with platform.Session() as session:
        return Counter(session.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == instance_id)))


def test_50_claims_at_once_from_two_server_processes_have_one_winner_and_49_conflicts(platform, spawn):
    rel_deploy(platform, "rel_parallel.bpmn")
    instance_id = instances.start(platform, SYSTEM, "rel_parallel", "SITE-1")
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                            HumanTask.element_id == "survey"))
    people = tokens(platform, [f"clerk{n:02d}" for n in range(CLAIMANTS)], ["clerk"])
    servers = [spawn.server(), spawn.server()]

    def claim(n, name):
        return lambda: (name, *call("POST", f"{servers[n % 2].base}/api/v1/tasks/{task_id}/claim", people[name]))

    outcomes = all_at_once([claim(n, name) for n, name in enumerate(people)])

    statuses = Counter(status for _, status, _ in outcomes)
    assert statuses == Counter({200: 1, 409: CLAIMANTS - 1}), outcomes
    [winner] = [name for name, status, _ in outcomes if status == 200]
    for _, status, body in outcomes:
        if status == 409:
            assert body["error"]["code"] == "conflict"
            assert body["error"]["message"] == f"task {task_id} is already claimed by {winner}"
    with platform.Session() as session:
        assert session.get(HumanTask, task_id).assignee == winner
    assert actions(platform, instance_id)["task.claimed"] == 1


def test_both_branches_of_a_parallel_gateway_completed_at_once_from_two_processes_take_effect(platform, spawn):
    rel_deploy(platform, "rel_parallel.bpmn")
    ids = [instances.start(platform, SYSTEM, "rel_parallel", f"SITE-{n}") for n in range(PARALLEL_INSTANCES)]
    clerk = tokens(platform, ["wang"], ["clerk"])["wang"]
    servers = [spawn.server(), spawn.server()]
    with platform.Session() as session:
        open_tasks = {(t.instance_id, t.element_id): t.id for t in session.scalars(select(HumanTask))}

    def complete(server, instance_id, element, data):
        task_id = open_tasks[(instance_id, element)]
        return lambda: call("POST", f"{server.base}/api/v1/tasks/{task_id}/complete", clerk, {"data": data})

    for n, instance_id in enumerate(ids):  # each pair released together: survey on one server, permit on the other
        answers = all_at_once([
            complete(servers[n % 2], instance_id, "survey", {"survey_note": f"ok {n}"}),
            complete(servers[(n + 1) % 2], instance_id, "permit", {"permit_no": f"P-{n}"}),
        ])
        assert [status for status, _ in answers] == [200, 200], answers

    with platform.Session() as session:
        for n, instance_id in enumerate(ids):
            row = session.get(ProcessInstance, instance_id)
            assert (row.variables["survey_note"], row.variables["permit_no"]) == (f"ok {n}", f"P-{n}")
            tasks = Counter((t.element_id, t.state) for t in session.scalars(
                select(HumanTask).where(HumanTask.instance_id == instance_id)))
            assert tasks == Counter({("survey", "completed"): 1, ("permit", "completed"): 1, ("build", "open"): 1})
            assert row.state == "waiting"
            assert actions(platform, instance_id)["task.completed"] == 2


def test_the_same_message_sent_ten_times_at_once_to_two_processes_is_delivered_once(platform, spawn):
    rel_deploy(platform, "rel_message.bpmn")
    waiting = instances.start(platform, SYSTEM, "rel_message", "SITE-7")
    bystander = instances.start(platform, SYSTEM, "rel_message", "SITE-8")
    system = tokens(platform, ["eoms"], ["admin"])["eoms"]
    servers = [spawn.server(), spawn.server()]
    message = {"name": "site_ready", "business_key": "SITE-7", "message_id": "eoms-42", "payload": {"power": "on"}}

    def send(n):
        return lambda: call("POST", f"{servers[n % 2].base}/api/v1/messages", system, message)

    answers = all_at_once([send(n) for n in range(MESSAGE_REPEATS)])

    assert [status for status, _ in answers] == [200] * MESSAGE_REPEATS, answers
    assert all(body == {"message_id": "eoms-42", "delivered_to": [waiting], "started": []} for _, body in answers)
    assert actions(platform, waiting)["message.received"] == 1
    assert actions(platform, bystander)["message.received"] == 0
    with platform.Session() as session:
        checks = session.scalars(select(HumanTask.instance_id).where(HumanTask.element_id == "check")).all()
        assert checks == [waiting]
        assert session.get(ProcessInstance, waiting).variables["power"] == "on"

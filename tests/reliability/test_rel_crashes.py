"""Crashes: ``kill -9`` of real worker and server processes at the worst moments.

- a worker killed while a handler runs, or after the handler returned but before the commit
  (a handler called inside the instance's lock, and a remote one called outside it): the job
  runs again after the lease runs out, with the same idempotency key, and the person's
  completed work before it is intact;
- a server killed in the middle of a task completion (deterministically, and at random moments
  of a stream of completions): each completion is all or nothing;
- a server killed with timers armed: the next server fires every one of them, once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from helpers import deploy
from relhelp import call, rel_deploy, wait_until
from sqlalchemy import select, update

from engine import identity
from engine.models import AuditEvent, HumanTask, Job, ProcessInstance
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, tasks

CLERK = Principal("wang", frozenset({"clerk"}))
LEASE_SECONDS = 2.0
COMPLETIONS = 24
RANDOM_KILLS = 3
TIMERS_FIRED_BEFORE = 4
TIMERS_DUE_DURING_OUTAGE = 8
TIMERS_RACING = 4
TIMERS_DUE_LATER = 4
TIMER_WAIT_SECONDS = 120  # only a bound on the wait: a second or two here


def actions(platform, instance_id: int) -> Counter:
    with platform.Session() as session:
        return Counter(session.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == instance_id)))


def log_lines(rel_dir) -> list[str]:
    path = rel_dir / "calls.log"
    return path.read_text().splitlines() if path.exists() else []


def token_for(platform, name: str, groups: list[str]) -> str:
    with platform.transaction() as session:
        identity.add_user(session, name, "password123", groups)
        return identity.create_token(session, name)


# --- workers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("remote", [False, True], ids=["in-the-lock", "remote-outside-the-lock"])
@pytest.mark.parametrize("flag, where", [("hang-in-handler", "in-handler"), ("hang-after-handler", "after-handler")])
def test_a_worker_killed_during_a_service_call_leaves_it_to_be_run_again_with_the_same_key(
        platform, spawn, rel_dir, flag, where, remote):
    platform.inline_services = False  # the person's completion queues the service task as a job (as on SQLite)
    rel_deploy(platform, "rel_service.bpmn")
    instance_id = instances.start(platform, SYSTEM, "rel_service", "ORD-1", {"site_id": "0571-003"})
    with platform.Session() as session:
        approve = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id))
    tasks.complete(platform, CLERK, approve, {"approved": True, "comment": "crane on Tuesday"})
    (rel_dir / flag).touch()

    handler_env = {"REL_REMOTE": "1"} if remote else None
    doomed = spawn.worker(lease_seconds=LEASE_SECONDS, extra_env=handler_env)
    wait_until(lambda: f"hanging {where} {doomed.pid}" in log_lines(rel_dir), 60, lambda: doomed.output())
    if remote and where == "in-handler":  # the hung call holds no lock: others write meanwhile (even on SQLite)
        instances.start(platform, SYSTEM, "rel_service", "ORD-2", {"site_id": "0571-004"})
    doomed.kill9()

    with platform.Session() as session:  # nothing of the handler's run was kept, the person's work was
        [job] = session.scalars(select(Job).where(Job.instance_id == instance_id, Job.kind == "service"))
        assert (job.state, job.attempts) == ("pending", 0)
        assert job.locked_by is not None, "the dead worker's lease is still there until it runs out"
        row = session.get(ProcessInstance, instance_id)
        assert row.state == "running"
        assert "booking" not in row.variables
        assert (row.variables["approved"], row.variables["comment"]) == (True, "crane on Tuesday")
        assert session.get(HumanTask, approve).state == "completed"
    assert actions(platform, instance_id)["service.completed"] == 0

    spawn.worker(lease_seconds=LEASE_SECONDS, extra_env=handler_env)  # takes the job over once the lease ran out

    def checked() -> bool:
        with platform.Session() as session:
            return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                             HumanTask.element_id == "check")) is not None

    wait_until(checked, 60, lambda: "the job was never run again")
    calls = [line.split() for line in log_lines(rel_dir) if not line.startswith("hanging")]
    assert len(calls) == 2, calls
    (first_key, first_attempt, first_pid), (second_key, second_attempt, second_pid) = calls
    assert first_key == second_key == f"{instance_id}:{job.spiff_task_id}"
    assert first_pid == str(doomed.pid) != second_pid
    with platform.Session() as session:
        job = session.get(Job, job.id)
        assert (job.state, job.locked_by) == ("done", None)
        row = session.get(ProcessInstance, instance_id)
        assert row.state == "waiting"
        assert row.variables["booking"] == {"crane": "C-12", "site": "0571-003"}
        assert row.variables["comment"] == "crane on Tuesday"
    assert actions(platform, instance_id)["service.completed"] == 1
    assert actions(platform, instance_id)["task.completed"] == 1


def test_a_server_killed_during_a_service_call_inline_commits_nothing_and_the_next_try_one_booking(
        platform, spawn, rel_dir):
    if not platform.is_postgres:
        pytest.skip("a step calls its service tasks inline on PostgreSQL only (SQLite queues jobs)")
    rel_deploy(platform, "rel_service.bpmn")
    instance_id = instances.start(platform, SYSTEM, "rel_service", "ORD-9", {"site_id": "0571-009"})
    approve = _approve_task(platform, instance_id)
    token = token_for(platform, "wang", ["clerk"])
    server = spawn.server()
    (rel_dir / "hang-in-handler").touch()
    body = {"data": {"approved": True, "comment": "crane on Friday"}}
    answer = {}
    request = threading.Thread(target=lambda: answer.update(r=_post(server, token, approve, body)))
    request.start()
    wait_until(lambda: f"hanging in-handler {server.pid}" in log_lines(rel_dir), 60, server.output)
    server.kill9()
    request.join(timeout=60)
    assert answer["r"][0] is None, "the request must have died with the server"

    with platform.Session() as session:  # nothing of the step was kept: it is the person's to submit again
        assert session.get(HumanTask, approve).state == "open"
        row = session.get(ProcessInstance, instance_id)
        assert "booking" not in row.variables and "comment" not in row.variables
        assert session.scalars(select(Job).where(Job.instance_id == instance_id)).all() == []
    assert actions(platform, instance_id)["task.completed"] == 0

    again = spawn.server()
    status, done = _post(again, token, approve, body)
    assert status == 200, done
    assert [t["element_id"] for t in done["active_tasks"]] == ["check"]
    assert done["variables"]["booking"] == {"crane": "C-12", "site": "0571-009"}
    (first_key, _, first_pid), (second_key, _, second_pid) = [
        line.split() for line in log_lines(rel_dir) if not line.startswith("hanging")]
    assert first_key == second_key, "the call made again has the same idempotency key"
    assert first_pid == str(server.pid) != second_pid
    assert actions(platform, instance_id)["service.completed"] == 1
    assert actions(platform, instance_id)["task.completed"] == 1


def _approve_task(platform, instance_id: int) -> int:
    with platform.Session() as session:
        return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.element_id == "approve"))


def _post(server, token: str, task_id: int, body: dict) -> tuple[int | None, object]:
    try:
        return call("POST", f"{server.base}/api/v1/tasks/{task_id}/complete", token, body, timeout=60)
    except OSError as exc:
        return None, exc


# --- task completion -------------------------------------------------------------------------------

def review_tasks(platform, count: int) -> dict[int, int]:
    """``count`` instances of tasks_inbox waiting in their review task: {instance id: task id}."""
    deploy(platform, "tasks_inbox.bpmn")
    ids = [instances.start(platform, SYSTEM, "tasks_inbox", f"SITE-{n}") for n in range(count)]
    with platform.Session() as session:
        return {t.instance_id: t.id for t in session.scalars(select(HumanTask).where(HumanTask.instance_id.in_(ids)))}


def completion_state(platform, instance_id: int, task_id: int) -> str:
    """"done" or "not done"; anything in between fails the test."""
    with platform.Session() as session:
        task = session.get(HumanTask, task_id)
        row = session.get(ProcessInstance, instance_id)
        next_tasks = session.scalars(select(HumanTask.state).where(HumanTask.instance_id == instance_id,
                                                                   HumanTask.element_id == "file_decision")).all()
    audit = actions(platform, instance_id)["task.completed"]
    facts = (task.state, task.completed_by, row.variables.get("approved"), row.variables.get("comment"),
             next_tasks, audit)
    if facts == ("completed", "li", True, f"ok {instance_id}", ["open"], 1):
        return "done"
    assert facts == ("open", None, None, None, [], 0), f"instance {instance_id} is half done: {facts}"
    return "not done"


def test_a_server_killed_in_the_middle_of_a_completion_leaves_it_not_done(platform, spawn, rel_dir):
    [(instance_id, task_id)] = review_tasks(platform, 1).items()
    token = token_for(platform, "li", ["city_director"])
    server = spawn.server()
    (rel_dir / "hang-in-completion").touch()
    answer = {}
    request = threading.Thread(target=lambda: answer.update(r=_complete(server, token, task_id, instance_id)))
    request.start()
    wait_until(lambda: any(line.startswith("hanging in-completion") for line in log_lines(rel_dir)), 60,
               server.output)
    server.kill9()  # the engine steps ran and were flushed, the commit never came
    request.join(timeout=60)
    assert answer["r"][0] is None, "the request must have died with the server"

    assert completion_state(platform, instance_id, task_id) == "not done"

    again = spawn.server()  # the person simply submits again
    assert _complete(again, token, task_id, instance_id)[0] == 200
    assert completion_state(platform, instance_id, task_id) == "done"


def test_servers_killed_at_random_moments_of_24_completions_leave_each_all_or_nothing(platform, spawn):
    pending = review_tasks(platform, COMPLETIONS)
    token = token_for(platform, "li", ["city_director"])
    rng = random.Random(20261203)
    kills, rounds = 0, []
    while len(pending) > 1 and kills < RANDOM_KILLS:
        server = spawn.server()
        todo, answered = list(pending.items()), []
        stream = threading.Thread(target=lambda s=server, todo=todo, answered=answered: [
            answered.append(_complete(s, token, t, i)) for i, t in todo])
        stream.start()
        after = rng.randrange(1, len(todo))  # kill while the stream is still going: after a random answer ...
        wait_until(lambda answered=answered, after=after: len(answered) >= after, 60)
        time.sleep(rng.uniform(0, 0.05))  # ... and a random instant into the next completion
        server.kill9()
        kills += 1
        stream.join(timeout=120)
        states = {i: completion_state(platform, i, t) for i, t in pending.items()}
        pending = {i: t for i, t in pending.items() if states[i] == "not done"}
        rounds.append(COMPLETIONS - len(pending))
    print(f"completions done when each of {kills} kill -9 came: {rounds}")

    server = spawn.server()
    for instance_id, task_id in pending.items():
        assert _complete(server, token, task_id, instance_id)[0] == 200
    assert {completion_state(platform, i, t) for i, t in review_tasks_done(platform).items()} == {"done"}


def review_tasks_done(platform) -> dict[int, int]:
    with platform.Session() as session:
        return {t.instance_id: t.id for t in session.scalars(select(HumanTask).where(HumanTask.element_id == "review"))}


def _complete(server, token: str, task_id: int, instance_id: int) -> tuple[int | None, object]:
    """Complete one review over HTTP; (None, error) when the connection died with the server."""
    try:
        return call("POST", f"{server.base}/api/v1/tasks/{task_id}/complete", token,
                    {"data": {"approved": True, "comment": f"ok {instance_id}"}}, timeout=60)
    except OSError as exc:
        return None, exc


# --- timers ----------------------------------------------------------------------------------------

def test_a_restarted_server_fires_every_timer_armed_before_the_crash_once(platform, spawn):
    """Four kinds of timer at the crash, none of them left to the machine's speed to sort out:
    fired before it (waited for), coming due around it (either way), due while the server was
    down (their due time put in the past after the kill, as if the outage lasted past it), and
    due long after (must stay as they were)."""
    rel_deploy(platform, "rel_timer.bpmn")
    token = token_for(platform, "ops", ["admin"])
    server = spawn.server(clock=True)
    numbers = iter(range(1000))

    def start(wait: str) -> int:
        status, body = call("POST", f"{server.base}/api/v1/process-instances", token,
                            {"process_key": "rel_timer", "business_key": f"T-{next(numbers)}",
                             "variables": {"wait": wait}})
        assert status == 201, body
        return body["id"]

    def followed_up() -> set[int]:
        with platform.Session() as session:
            return set(session.scalars(select(HumanTask.instance_id).where(HumanTask.element_id == "follow_up")))

    fired_before = [start("PT1S") for _ in range(TIMERS_FIRED_BEFORE)]
    wait_until(lambda: followed_up() >= set(fired_before), TIMER_WAIT_SECONDS,
               lambda: f"the first server's clock never fired: {set(fired_before) - followed_up()}")
    due_during = [start("PT1H") for _ in range(TIMERS_DUE_DURING_OUTAGE)]
    later = [start("PT1H") for _ in range(TIMERS_DUE_LATER)]
    racing = [start("PT1S") for _ in range(TIMERS_RACING)]  # fired or not when the kill comes: both are fine
    server.kill9()

    with platform.transaction() as session:
        session.execute(update(Job).where(Job.kind == "timer", Job.instance_id.in_(due_during))
                        .values(due_at=platform.real_now() - timedelta(seconds=1)))
    with platform.Session() as session:
        armed = {j.instance_id: (j.state, j.due_at) for j in session.scalars(select(Job).where(Job.kind == "timer"))}
    assert {armed[i][0] for i in due_during + later} == {"pending"}
    racing_at_crash = [i for i in racing if armed[i][0] == "pending"]

    spawn.server(clock=True)
    soon = fired_before + due_during + racing
    wait_until(lambda: followed_up() >= set(soon), TIMER_WAIT_SECONDS,
               lambda: f"not fired: {set(soon) - followed_up()}")
    with platform.Session() as session:
        fired = Counter(session.scalars(select(AuditEvent.instance_id).where(AuditEvent.action == "timer.fired")))
        assert fired == Counter({i: 1 for i in soon})
        still = {j.instance_id: (j.state, j.due_at) for j in session.scalars(
            select(Job).where(Job.kind == "timer", Job.instance_id.in_(later)))}
    assert still == {i: armed[i] for i in later}, "a long timer moved or fired"
    print(f"timers pending at the crash and fired by the next server: {len(due_during) + len(racing_at_crash)} "
          f"({len(racing_at_crash)} of the {len(racing)} coming due at the crash)")

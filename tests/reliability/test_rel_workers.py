"""Real ``towerflow worker`` processes on one job queue.

- 1,000 due jobs (500 timers, 500 service calls) and four workers: every job runs exactly once,
  every handler is called exactly once. Which worker won each lease is the machine's timing, so
  it is printed, never asserted.
- That a second worker really takes jobs is shown without timing: one worker is held inside a
  handler (a flag file, see proc.py), so every job queued meanwhile can only be run by the other.
  PostgreSQL only: on SQLite a handler runs inside the database's write lock, so a worker held
  in one holds up every writer (the 1,000 jobs test covers SQLite).

The 1,000 waiting instances are copies of two started instances (their rows copied with new
business keys), so that setting them up takes a second rather than a minute; the workers then
run them as they would any other. On SQLite the processes share the file's write lock.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from relhelp import rel_deploy, wait_until
from sqlalchemy import func, insert, select, update

from engine.models import AuditEvent, HumanTask, Job, ProcessInstance
from engine.principal import SYSTEM
from engine.runtime import instances

TIMERS = 500
SERVICES = 500
WORKERS = 4
QUEUED_WHILE_HELD = 20
ALL_DONE_SECONDS = 600  # only a bound on the wait: about 30 s here, and a machine 5x slower must pass


def copy_instance(platform, instance_id: int, copies: int, prefix: str) -> list[int]:
    """``copies`` new instances in exactly the state of ``instance_id``, pending jobs included."""
    table, jobs = ProcessInstance.__table__, Job.__table__
    ids = []
    with platform.transaction() as session:
        row = dict(session.execute(select(table).where(table.c.id == instance_id)).mappings().one())
        pending = [dict(j) for j in session.execute(
            select(jobs).where(jobs.c.instance_id == instance_id, jobs.c.state == "pending")).mappings()]
        for n in range(copies):
            values = {k: v for k, v in row.items() if k != "id"} | {"business_key": f"{prefix}-{n}"}
            new_id = session.execute(insert(table).values(**values)).inserted_primary_key[0]
            ids.append(new_id)
            session.execute(insert(jobs), [{k: v for k, v in j.items() if k != "id"} | {"instance_id": new_id}
                                           for j in pending])
    return ids


def test_four_worker_processes_run_1000_due_jobs_each_exactly_once(platform, spawn, rel_dir):
    platform.inline_services = False  # the start queues its service task as a job for the workers (as on SQLite)
    rel_deploy(platform, "rel_timer.bpmn", "rel_book.bpmn")
    timer = instances.start(platform, SYSTEM, "rel_timer", "T-0", {"wait": "PT1H"})
    service = instances.start(platform, SYSTEM, "rel_book", "B-0", {"site_id": "0571-001"})
    timer_ids = [timer, *copy_instance(platform, timer, TIMERS - 1, "T")]
    service_ids = [service, *copy_instance(platform, service, SERVICES - 1, "B")]
    with platform.Session() as session:
        kinds = Counter(session.scalars(select(Job.kind).where(Job.state == "pending")))
    assert kinds == Counter({"timer": TIMERS, "service": SERVICES})

    workers = [spawn.worker() for _ in range(WORKERS)]
    with platform.transaction() as session:  # everything falls due at once, with all four workers polling
        session.execute(update(Job).values(due_at=platform.real_now() - timedelta(seconds=1)))

    def pending() -> int:
        with platform.Session() as session:
            return session.scalar(select(func.count()).select_from(Job).where(Job.state == "pending"))

    wait_until(lambda: pending() == 0, ALL_DONE_SECONDS, lambda: f"{pending()} jobs still pending")
    # All four polled the same queue to the end; which of them won each lease is the machine's
    # timing (on a busy machine one process may win them all), so it is printed, not asserted.
    assert [worker.popen.poll() for worker in workers] == [None] * WORKERS, "a worker died"
    for worker in workers:
        worker.stop()

    with platform.Session() as session:
        assert Counter(session.scalars(select(Job.state))) == Counter({"done": TIMERS + SERVICES})
        fired = Counter(session.scalars(select(AuditEvent.instance_id).where(AuditEvent.action == "timer.fired")))
        assert fired == Counter({i: 1 for i in timer_ids})
        served = Counter(session.scalars(select(AuditEvent.instance_id)
                                         .where(AuditEvent.action == "service.completed")))
        assert served == Counter({i: 1 for i in service_ids})
        follow_ups = Counter(session.scalars(select(HumanTask.instance_id).where(HumanTask.state == "open")))
        assert follow_ups == Counter({i: 1 for i in timer_ids + service_ids})
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action.like("%.failed"))) == 0
        booked = {r.id: r.variables.get("booking") for r in session.scalars(
            select(ProcessInstance).where(ProcessInstance.id.in_(service_ids)))}
        assert set(map(str, booked.values())) == {str({"crane": "C-12", "site": "0571-001"})}

    calls = [line.split() for line in (rel_dir / "calls.log").read_text().splitlines()]
    keys = Counter(key for key, _attempt, _pid in calls)
    assert len(keys) == SERVICES and set(keys.values()) == {1}, "a handler ran twice or never"
    per_worker = Counter(pid for _key, _attempt, pid in calls)
    print("service calls per worker process:", dict(per_worker))


def log_lines(rel_dir) -> list[list[str]]:
    path = rel_dir / "calls.log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("remote", [False, True], ids=["in-the-lock", "remote-outside-the-lock"])
def test_while_one_worker_is_held_in_a_handler_the_other_runs_every_job_queued_meanwhile(
        platform, spawn, rel_dir, remote):
    if not platform.is_postgres and not remote:
        pytest.skip("on SQLite a handler called in the lock holds the database's write lock: a held worker "
                    "stops every writer (the remote case, called outside every lock, runs here)")
    platform.inline_services = False  # each start queues its service task as a job (as on SQLite)
    rel_deploy(platform, "rel_book.bpmn")
    (rel_dir / "hang-in-handler").touch()
    handler_env = {"REL_REMOTE": "1"} if remote else None
    held_worker = spawn.worker(extra_env=handler_env)  # the default lease (300 s): it holds its job for the whole test
    held = instances.start(platform, SYSTEM, "rel_book", "HELD", {"site_id": "0571-000"})
    wait_until(lambda: ["hanging", "in-handler", str(held_worker.pid)] in log_lines(rel_dir), 120,
               lambda: f"the first worker never took the job:\n{held_worker.output()}")

    other = spawn.worker(extra_env=handler_env)
    queued = [instances.start(platform, SYSTEM, "rel_book", f"Q-{n}", {"site_id": f"0571-{n:03d}"})
              for n in range(QUEUED_WHILE_HELD)]

    def done(ids: list[int]) -> int:
        with platform.Session() as session:
            return session.scalar(select(func.count()).select_from(Job).where(
                Job.instance_id.in_(ids), Job.kind == "service", Job.state == "done"))

    wait_until(lambda: done(queued) == QUEUED_WHILE_HELD, ALL_DONE_SECONDS,
               lambda: f"{QUEUED_WHILE_HELD - done(queued)} jobs queued meanwhile never ran:\n{other.output()}")
    calls = [line for line in log_lines(rel_dir) if line[0] != "hanging"]
    ran_by = {key: pid for key, _attempt, pid in calls}
    assert len(calls) == QUEUED_WHILE_HELD + 1, "a handler ran twice"
    assert ran_by.pop(next(key for key in ran_by if key.startswith(f"{held}:"))) == str(held_worker.pid)
    assert set(ran_by.values()) == {str(other.pid)}, "the held worker cannot have run these"
    with platform.Session() as session:
        [job] = session.scalars(select(Job).where(Job.instance_id == held, Job.kind == "service"))
        assert (job.state, job.attempts) == ("pending", 0), "the held job is still the first worker's"
        assert job.locked_by.split(":")[1] == str(held_worker.pid)

    held_worker.kill9()  # it dies holding the job; once its lease has run out the other worker takes it
    with platform.transaction() as session:
        session.execute(update(Job).where(Job.id == job.id).values(
            locked_until=platform.real_now() - timedelta(seconds=1)))
    wait_until(lambda: done([held]) == 1, ALL_DONE_SECONDS,
               lambda: f"the held job was never taken over:\n{other.output()}")

    with platform.Session() as session:
        everyone = [held, *queued]
        served = Counter(session.scalars(select(AuditEvent.instance_id)
                                         .where(AuditEvent.action == "service.completed")))
        assert served == Counter({i: 1 for i in everyone})
        follow_ups = Counter(session.scalars(select(HumanTask.instance_id).where(HumanTask.state == "open")))
        assert follow_ups == Counter({i: 1 for i in everyone})
    retried = [pid for key, _attempt, pid in log_lines(rel_dir) if key.startswith(f"{held}:")]
    assert retried == [str(held_worker.pid), str(other.pid)], "the held job ran again once, by the other worker"

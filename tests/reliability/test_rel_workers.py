"""1,000 due jobs (500 timers, 500 service calls) shared by four real ``towerflow worker``
processes: every job runs exactly once, every handler is called exactly once.

The 1,000 waiting instances are copies of two started instances (their rows copied with new
business keys), so that setting them up takes a second rather than a minute; the workers then
run them as they would any other. On SQLite the four processes share the file's write lock.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from relhelp import rel_deploy, wait_until
from sqlalchemy import func, insert, select, update

from engine.models import AuditEvent, HumanTask, Job, ProcessInstance
from engine.principal import SYSTEM
from engine.runtime import instances

TIMERS = 500
SERVICES = 500
WORKERS = 4


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

    wait_until(lambda: pending() == 0, 300, lambda: f"{pending()} jobs still pending")
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

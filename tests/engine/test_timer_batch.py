"""Timers in batches (engine/runtime/timer_batch.py): the due timers a runner leased fire in one
transaction, each exactly once; one instance whose step fails becomes an incident while the
others fire; a cycle timer still gets its next occurrence; a suspended instance's timer waits."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from helpers import deploy
from sqlalchemy import select

from engine.models import AuditEvent, HumanTask, Incident, Job, ProcessInstance
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, jobs, timer_batch

SUPERVISOR = Principal("zhao", frozenset({"supervisor"}), None)


def start_many(platform, process_key: str, count: int, variables=None) -> list[int]:
    return [instances.start(platform, SYSTEM, process_key, f"B-{n}", variables(n) if variables else None)
            for n in range(count)]


def fired(platform, instance_ids) -> Counter:
    with platform.Session() as session:
        return Counter(session.scalars(select(AuditEvent.instance_id).where(
            AuditEvent.action == "timer.fired", AuditEvent.instance_id.in_(instance_ids))))


def timer_jobs(platform, instance_ids) -> list[Job]:
    with platform.Session() as session:
        return list(session.scalars(select(Job).where(Job.kind == "timer", Job.instance_id.in_(instance_ids))
                                    .order_by(Job.id)))


def batches(monkeypatch) -> list[int]:
    """The size of every batch that ``timer_batch`` tried in one transaction."""
    sizes: list[int] = []
    real = timer_batch._fire_batch

    def spy(platform, session, job_ids):
        sizes.append(len(job_ids))
        return real(platform, session, job_ids)

    monkeypatch.setattr(timer_batch, "_fire_batch", spy)
    return sizes


def test_many_timers_due_at_once_fire_exactly_once_in_one_batch(platform, clock, monkeypatch):
    deploy(platform, "jobs_wait.bpmn")
    ids = start_many(platform, "jobs_wait", 12)
    sizes = batches(monkeypatch)

    clock.advance(timedelta(minutes=29))
    assert jobs.run_due_jobs(platform) == 0
    clock.advance(timedelta(minutes=2))
    assert jobs.run_due_jobs(platform, limit=20) == 12
    assert jobs.run_due_jobs(platform, limit=20) == 0

    assert sizes == [12], "the twelve timers of twelve instances were not fired in one transaction"
    assert fired(platform, ids) == Counter({i: 1 for i in ids})
    assert {j.state for j in timer_jobs(platform, ids)} == {"done"}
    with platform.Session() as session:
        follow_ups = Counter(session.scalars(select(HumanTask.instance_id).where(
            HumanTask.instance_id.in_(ids), HumanTask.state == "open", HumanTask.element_id == "follow_up")))
        assert follow_ups == Counter({i: 1 for i in ids})
        assert set(session.scalars(select(ProcessInstance.state).where(ProcessInstance.id.in_(ids)))) == {"waiting"}


def test_a_full_batch_leaves_the_rest_for_the_next_round(platform, clock, monkeypatch):
    deploy(platform, "jobs_wait.bpmn")
    ids = start_many(platform, "jobs_wait", 7)
    sizes = batches(monkeypatch)
    clock.advance(timedelta(minutes=31))

    assert jobs.run_due_jobs(platform, limit=3) == 3
    assert jobs.run_due_jobs(platform, limit=3) == 3
    assert jobs.run_due_jobs(platform, limit=3) == 1
    assert sizes == [3, 3]  # a batch of one runs as one job, as before
    assert fired(platform, ids) == Counter({i: 1 for i in ids})


def test_an_instance_whose_step_fails_becomes_an_incident_while_the_others_fire(platform, clock):
    deploy(platform, "timer_batch_divide.bpmn")
    ids = start_many(platform, "timer_batch_divide", 5, lambda n: {"divisor": 0 if n == 2 else n + 1})
    bad = ids[2]
    clock.advance(timedelta(minutes=31))

    assert jobs.run_due_jobs(platform, limit=20) == 5
    assert jobs.run_due_jobs(platform, limit=20) == 0

    good = [i for i in ids if i != bad]
    assert fired(platform, ids) == Counter({i: 1 for i in good})
    with platform.Session() as session:
        states = dict(session.execute(select(ProcessInstance.id, ProcessInstance.state)
                                      .where(ProcessInstance.id.in_(ids))).all())
        assert states == {**{i: "waiting" for i in good}, bad: "error"}
        ratios = {row.id: row.variables.get("ratio") for row in session.scalars(
            select(ProcessInstance).where(ProcessInstance.id.in_(good)))}
        assert ratios == {i: 100 / (n + 1) for n, i in enumerate(ids) if i != bad}
        [incident] = session.scalars(select(Incident).where(Incident.instance_id.in_(ids))).all()
        assert (incident.instance_id, incident.kind, incident.state) == (bad, "timer_failed", "open")
        assert "ZeroDivisionError" in incident.message
    jobs_by_instance = {j.instance_id: j.state for j in timer_jobs(platform, ids)}
    assert jobs_by_instance == {**{i: "done" for i in good}, bad: "failed"}
    with platform.Session() as session:  # each history in order: the firing, then what it changed
        for instance_id in good:
            actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == instance_id)
                                           .order_by(AuditEvent.id)))
            last_change = max(n for n, action in enumerate(actions) if action == "variables.changed")
            assert actions.index("timer.fired") < last_change, actions


def test_a_cycle_timer_fired_in_a_batch_gets_its_next_occurrence(platform, clock, monkeypatch):
    deploy(platform, "jobs_reminder.bpmn")
    ids = start_many(platform, "jobs_reminder", 4)
    sizes = batches(monkeypatch)
    first = {j.instance_id: j.due_at for j in timer_jobs(platform, ids)}

    clock.advance(timedelta(minutes=11))
    assert jobs.run_due_jobs(platform, limit=20) == 4
    assert sizes == [4]
    assert fired(platform, ids) == Counter({i: 1 for i in ids})
    pending = {j.instance_id: j.due_at for j in timer_jobs(platform, ids) if j.state == "pending"}
    assert set(pending) == set(ids), "a cycle timer fired in a batch lost its next occurrence"
    for instance_id, due_at in pending.items():  # ten minutes on (from the fired time: the clock is moved)
        assert first[instance_id] + timedelta(minutes=10) <= due_at <= clock.now() + timedelta(minutes=10, seconds=2)

    clock.advance(timedelta(minutes=10))
    assert jobs.run_due_jobs(platform, limit=20) == 4
    assert fired(platform, ids) == Counter({i: 2 for i in ids})


def test_a_timer_of_an_instance_suspended_after_the_lease_waits_for_the_resume(platform, clock):
    deploy(platform, "jobs_wait.bpmn")
    ids = start_many(platform, "jobs_wait", 3)
    clock.advance(timedelta(minutes=31))
    leased = jobs.lease_due_jobs(platform, limit=20)
    assert len(leased) == 3
    instances.suspend(platform, SUPERVISOR, ids[0])

    assert timer_batch.fire_timers(platform, leased) == 2
    assert fired(platform, ids) == Counter({ids[1]: 1, ids[2]: 1})
    [waiting] = [j for j in timer_jobs(platform, ids) if j.instance_id == ids[0]]
    assert (waiting.state, waiting.locked_by) == ("pending", None)

    instances.resume(platform, SUPERVISOR, ids[0])
    assert jobs.run_due_jobs(platform, limit=20) == 1
    assert fired(platform, ids) == Counter({i: 1 for i in ids})


def test_a_job_another_runner_holds_is_neither_fired_nor_counted(platform, clock):
    deploy(platform, "jobs_wait.bpmn")
    ids = start_many(platform, "jobs_wait", 3)
    clock.advance(timedelta(minutes=31))
    leased = jobs.lease_due_jobs(platform, limit=20)
    with platform.transaction() as session:  # the lease expired and another runner took the job
        session.get(Job, leased[1]).locked_by = "another-worker"

    assert timer_batch.fire_timers(platform, leased) == 2
    taken = {j.id: j for j in timer_jobs(platform, ids)}[leased[1]]
    assert (taken.state, taken.locked_by) == ("pending", "another-worker")
    assert sum(fired(platform, ids).values()) == 2


# --- the saves' writes, held and sent together (runtime/batched_writes.py) ---------------------

def history(platform, instance_id: int) -> list[tuple[str, str | None]]:
    with platform.Session() as session:
        return [(e.action, e.element_id) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id))]


def alone_then_together(platform, clock, monkeypatch, process_key: str, count: int,
                        wait: timedelta) -> tuple[int, list[int]]:
    """One instance whose timer fires alone (a batch of one runs the one-at-a-time path), then
    ``count`` whose timers fire in one batch; their ids."""
    alone = start_many(platform, process_key, 1)[0]
    clock.advance(wait)
    assert jobs.run_due_jobs(platform, limit=1) == 1
    together = start_many(platform, process_key, count)
    sizes = batches(monkeypatch)
    clock.advance(wait)
    assert jobs.run_due_jobs(platform, limit=20) == count
    assert sizes == [count], "the timers were not fired in one batch"
    return alone, together


def test_a_batch_leaves_the_same_rows_and_history_as_one_timer_at_a_time(platform, clock, monkeypatch):
    from rows_check import mismatches

    deploy(platform, "jobs_wait.bpmn")
    alone, together = alone_then_together(platform, clock, monkeypatch, "jobs_wait", 9, timedelta(minutes=31))
    assert mismatches(platform) == []
    expected = history(platform, alone)
    assert ("timer.fired", "pause") in expected
    assert all(history(platform, i) == expected for i in together), "an instance's history reads as if fired alone"
    with platform.Session() as session:
        revisions = set(session.scalars(select(ProcessInstance.revision).where(ProcessInstance.id.in_(together))))
        assert revisions == {session.get(ProcessInstance, alone).revision}


def test_a_token_row_not_where_the_save_expects_sends_the_batch_one_timer_at_a_time(platform, clock, monkeypatch):
    from rows_check import mismatches
    from sqlalchemy import delete

    from engine.models import InstanceToken

    deploy(platform, "jobs_wait.bpmn")
    ids = start_many(platform, "jobs_wait", 6)
    with platform.transaction() as session:  # e.g. a row lost by hand: the batch's token move touches nothing
        session.execute(delete(InstanceToken).where(InstanceToken.root_id == ids[3]))
    sizes = batches(monkeypatch)
    clock.advance(timedelta(minutes=31))
    assert jobs.run_due_jobs(platform, limit=20) == 6

    assert sizes == [6], "the batch was tried"
    assert fired(platform, ids) == Counter({i: 1 for i in ids}), "then each timer fired once, one at a time"
    assert mismatches(platform) == []
    with platform.Session() as session:
        assert session.scalar(select(Incident.id)) is None


def test_a_batch_of_boundary_timers_cancels_the_tasks_and_keeps_values_searchable(platform, clock, monkeypatch):
    from rows_check import mismatches

    from engine.models import InstanceValue

    deploy(platform, "jobs_timer_bare.bpmn")  # a review task, its 15-minute boundary timer, timed_out = True
    alone, together = alone_then_together(platform, clock, monkeypatch, "jobs_timer_bare", 8, timedelta(minutes=16))
    assert mismatches(platform) == []
    assert all(history(platform, i) == history(platform, alone) for i in together)
    with platform.Session() as session:
        values = {(v.instance_id, v.name): v.value for v in session.scalars(select(InstanceValue))}
        assert all(values.get((i, "timed_out")) == "true" for i in [alone, *together])
        open_reviews = session.scalar(select(HumanTask.id).where(HumanTask.instance_id.in_(together),
                                                                 HumanTask.state == "open"))
        assert open_reviews is None, "every review was cancelled by its timer"

"""Timers in batches (issue 16, point 4): a runner fires every leased timer job in one transaction.

One timer per transaction tops out at about 167 firings a second per process: each pays its
own lease, locks, reads and commit (an fsync on SQLite). Here the due timers a runner leased
share one transaction: their instances are locked in id order in one statement, then their jobs
(every other writer locks an instance before its jobs, and several instances only in id order,
so this cannot deadlock with them); each instance is loaded, fired, stepped and saved with the
``InstanceRun`` every change goes through; one commit ends the batch.

Should any instance fail, the whole batch is rolled back and its jobs run one at a time as
before (``jobs.run_job``, the leases are still this runner's), where a failing timer becomes
the incident it always was: no timer is lost or fired twice, and the common case pays nothing
for the rare one (no savepoint per instance).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import observe, request_context
from engine.models import AuditEvent, Job, ProcessInstance
from engine.runtime import audit, jobs
from engine.runtime.advance import step_and_save
from engine.runtime.batched_writes import batched
from engine.runtime.instance_run import FINAL_STATES, InstanceRun
from engine.runtime.workflow import find_task, fire_timer

if TYPE_CHECKING:
    from engine.platform import Platform

log = logging.getLogger(__name__)
LATENESS = "timer_lateness"  # session.info: how late each timer of the batch fired, reported once committed


def fire_timers(platform: Platform, job_ids: Sequence[int]) -> int:
    """Fire the timer jobs ``job_ids`` (leased by this runner) together; how many ran, counted
    as ``jobs.run_job`` counts (a job another runner took, or of a suspended instance, is not)."""
    if not job_ids:
        return 0
    if len(job_ids) > 1:
        try:
            with platform.transaction() as session:
                ran = _fire_batch(platform, session, job_ids)
                lateness = session.info.pop(LATENESS, [])
        except Exception:
            log.info("a batch of %d timers failed; running them one at a time", len(job_ids), exc_info=True)
        else:  # measured once committed: a batch rolled back fires again one at a time below
            for seconds in lateness:
                observe.timer_fired.send(seconds)
            for _ in range(ran):
                observe.job_ran.send("timer", "done")
            return ran
    return sum(1 for job_id in job_ids if jobs.run_job(platform, job_id))


def _fire_batch(platform: Platform, session: Session, job_ids: Sequence[int]) -> int:
    instance_ids = sorted(set(session.scalars(select(Job.instance_id).where(Job.id.in_(job_ids)))))
    rows = _lock_instances(platform, session, instance_ids)
    by_instance = _leased_jobs(platform, session, job_ids)
    runs: list[tuple[ProcessInstance, InstanceRun | None, list[Job]]] = []
    for instance_id in sorted(by_instance):
        leased = by_instance[instance_id]
        row = rows[instance_id]
        if row.state == "suspended":  # fires on resume; lease_due_jobs skips it meanwhile
            for job in leased:
                job.locked_by = None
                job.locked_until = None
            continue
        run = None if row.state in FINAL_STATES else InstanceRun.load(platform, session, row, mirror=True)
        runs.append((row, run, leased))
    _hand_over_pending_jobs(session, runs)
    recorded = _record_first_firings(platform, session, runs)
    ran: list[int] = []
    with batched(session):  # the saves' writes, sent together at the end (runtime/batched_writes.py)
        for row, run, leased in runs:
            ran += _fire_instance(platform, session, row, run, leased, recorded)
    _mark_done(platform, session, ran)
    return len(ran)


def _hand_over_pending_jobs(session: Session,
                            runs: list[tuple[ProcessInstance, InstanceRun | None, list[Job]]]) -> None:
    """Every pending job of the batch's instances in one read, handed to each run's first save
    (``InstanceRun.pending_jobs``) instead of one read per instance."""
    loaded = {row.id: run for row, run, _ in runs if run is not None}
    if not loaded:
        return
    for run in loaded.values():
        run.pending_jobs = []
    for job in session.scalars(select(Job).where(Job.instance_id.in_(sorted(loaded)), Job.state == "pending")):
        loaded[job.instance_id].pending_jobs.append(job)


def _record_first_firings(platform: Platform, session: Session,
                          runs: list[tuple[ProcessInstance, InstanceRun | None, list[Job]]]) -> set[int]:
    """The ``timer.fired`` audit rows of each instance's first due timer, in one INSERT before
    any save writes its own rows (an instance's history stays in order); the jobs' ids."""
    now = platform.clock.now()
    events, recorded = [], set()
    for row, run, leased in runs:
        task = find_task(run.workflow, leased[0].spiff_task_id) if run is not None else None
        if task is not None and task.state == TaskState.WAITING:
            events.append({"instance_id": row.id, "actor": None, "action": "timer.fired", "task_id": None,
                           "element_id": leased[0].element_id, "data": {}, "at": now})
            recorded.add(leased[0].id)
    if events:
        session.execute(insert(AuditEvent.__table__), events)
    return recorded


def _lock_instances(platform: Platform, session: Session, instance_ids: list[int]) -> dict[int, ProcessInstance]:
    """All the batch's instances read and locked in one statement, in id order."""
    stmt = (select(ProcessInstance).where(ProcessInstance.id.in_(instance_ids)).order_by(ProcessInstance.id)
            .execution_options(populate_existing=True))
    if platform.is_postgres:
        stmt = stmt.with_for_update()
    return {row.id: row for row in session.scalars(stmt)}


def _leased_jobs(platform: Platform, session: Session, job_ids: Sequence[int]) -> dict[int, list[Job]]:
    """The jobs still pending and leased by this runner, per instance in due order (``jobs._leased_job``)."""
    stmt = (select(Job).where(Job.id.in_(job_ids)).order_by(Job.due_at, Job.id)
            .execution_options(populate_existing=True))
    if platform.is_postgres:
        stmt = stmt.with_for_update()
    by_instance: dict[int, list[Job]] = defaultdict(list)
    for job in session.scalars(stmt):
        if job.state == "pending" and job.locked_by == platform.worker_id and job.kind == "timer":
            by_instance[job.instance_id].append(job)
    return by_instance


def _fire_instance(platform: Platform, session: Session, row: ProcessInstance, run: InstanceRun | None,
                   leased: list[Job], recorded: set[int]) -> list[int]:
    """One instance's due timers, each fired and stepped as ``jobs.run_job`` would, one after
    the other (a save may close the next one: an interrupting timer ended its activity); the
    ids of the jobs it ran. Their rows are marked done for the whole batch at its end, in one
    UPDATE; meanwhile each is done in memory only, which is what the saves look at."""
    ran = []
    for job in leased:
        if job.state != "pending":  # closed by the save of an earlier timer of this instance
            continue
        # before the save, so a cycle timer's next occurrence gets a job of its own; not a change
        # for the unit of work to flush (one UPDATE per job), see _mark_done
        set_committed_value(job, "state", "done")
        ran.append(job.id)
        if run is None:
            continue
        task = find_task(run.workflow, job.spiff_task_id)
        if task is not None and task.state == TaskState.WAITING:
            with request_context.using(job.request_id):  # the log lines of the request that queued it
                fire_timer(run.workflow, task)
                now = platform.clock.now()
                session.info.setdefault(LATENESS, []).append((now - job.due_at).total_seconds())
                if job.id not in recorded:
                    audit.record(session, row.id, None, "timer.fired", element_id=job.element_id, at=now)
                step_and_save(run)
    return ran


def _mark_done(platform: Platform, session: Session, job_ids: list[int]) -> None:
    """The batch's jobs done, at the batch's end: the time its timers' effects are committed."""
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(job_ids))
                        .values(state="done", finished_at=platform.clock.now(), locked_by=None, locked_until=None)
                        .execution_options(synchronize_session=False))

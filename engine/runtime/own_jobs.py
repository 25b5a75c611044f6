"""Run the service and step jobs a request's own step queued, in one transaction.

Where a step cannot call its service tasks inline (SQLite, see runtime/service_calls.py), the
request drains them right after its commit. Run one lease at a time, that is a lease
transaction, then per job a transaction that locks, loads, steps and saves the instance, then
another look at the queue. Here the instance is locked and loaded once, its due jobs are taken
under that lock, run, and the instance saved once, round after round while the steps queue
more. A job another runner holds, a due timer or a remote handler's call (made outside every
lock, runtime/remote_calls.py) sends the caller back to the one-at-a-time path; so does a
failure, after its attempt is counted on its job as the job runner counts it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from engine.models import Job
from engine.runtime.advance import step_and_save
from engine.runtime.instance_run import FINAL_STATES, InstanceRun
from engine.runtime.remote_calls import is_remote
from engine.runtime.service_calls import INLINE_ROUNDS
from engine.runtime.workflow import find_task

if TYPE_CHECKING:
    from engine.platform import Platform


class _HandBack(Exception):
    """Not for this path: leave the jobs to the one-at-a-time runner."""


def run_own_jobs(platform: Platform, instance_id: int) -> bool:
    """True when every due service and step job of the instance ran here (or none was due);
    False when the caller should run what is left one by one (``jobs.run_due_jobs``). Each
    round is a savepoint: a failing round is undone alone, the rounds before it are kept."""
    from engine.runtime import jobs

    failed: tuple[int, BaseException] | None = None
    with platform.transaction() as session:
        run = InstanceRun.open(platform, session, instance_id, mirror=True)
        if run.row.state in FINAL_STATES or run.row.state == "suspended":
            return False
        for _ in range(INLINE_ROUNDS):
            try:
                due = _due_jobs(platform, session, instance_id)
            except _HandBack:
                return False
            if not due:
                return True
            if any(_remote(platform, run, job) for job in due):
                return False  # called outside every lock by the job runner (runtime/remote_calls.py)
            savepoint = session.begin_nested()
            try:
                for job in due:
                    try:
                        if job.kind == "service":
                            jobs.run_service_job(platform, run, job)
                    except Exception as exc:
                        failed = (job.id, exc)
                        raise
                    job.state, job.finished_at = "done", platform.clock.now()
                step_and_save(run)
                savepoint.commit()
            except Exception:  # undone: the one-at-a-time path runs it and records what fails
                savepoint.rollback()
                break
    if failed is not None:
        jobs.record_failure(platform, *failed)  # the attempt is counted; the job waits for its backoff
    return False


def _remote(platform: Platform, run: InstanceRun, job: Job) -> bool:
    task = find_task(run.workflow, job.spiff_task_id) if job.kind == "service" else None
    return task is not None and is_remote(platform, task)


def _due_jobs(platform: Platform, session, instance_id: int) -> list[Job]:
    """The instance's due jobs, taken under the instance's lock; _HandBack when one is a timer
    (timers fire in batches) or is leased by another runner."""
    now = platform.clock.now()
    stmt = select(Job).where(Job.instance_id == instance_id, Job.state == "pending", Job.due_at <= now) \
        .order_by(Job.due_at, Job.id)
    if platform.is_postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    due = [job for job in session.scalars(stmt) if job.state == "pending"]
    if any(job.kind not in ("service", "step") or (job.locked_until is not None and job.locked_until >= now)
           for job in due):
        raise _HandBack()
    return due

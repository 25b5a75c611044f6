"""Jobs: timers, service tasks and deferred engine steps, run by whoever holds the lease.

A job is a row with a due time. A runner leases due jobs (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several processes share the queue), then runs each in its own transaction
that locks the instance, re-checks the lease and marks the job done together with the
instance's new state: a job's effect is committed at most once. A runner that dies loses
its lease when it expires, and another runs the job again with the same idempotency key.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from datetime import timedelta
from typing import TYPE_CHECKING

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine import observe, request_context
from engine.db import unavailable_kind
from engine.errors import Conflict, Forbidden, NotFound
from engine.models import Incident, Job, ProcessInstance
from engine.principal import Principal
from engine.runtime import audit, outage_leases, timer_batch
from engine.runtime.advance import step_and_save
from engine.runtime.instance_run import FINAL_STATES, InstanceRun, backoff, derive_state, lock_instance
from engine.runtime.own_jobs import run_own_jobs
from engine.runtime.remote_calls import Answer, call_outside
from engine.runtime.service_calls import call_service
from engine.runtime.workflow import errored_task, find_task, fire_timer

if TYPE_CHECKING:
    from engine.platform import Platform

log = logging.getLogger(__name__)


_leased_here = threading.local()  # .request_ids: {job id: the id of the request that queued it}


class JobSkipped(Exception):
    """The job cannot run now (instance suspended); leave it pending."""


def lease_due_jobs(platform: Platform, limit: int = 20, instance_id: int | None = None) -> list[int]:
    """Take a lease on up to ``limit`` due jobs and return their ids."""
    return [job_id for job_id, _kind in _lease_due(platform, limit, instance_id)]


def _lease_due(platform: Platform, limit: int, instance_id: int | None) -> list[tuple[int, str]]:
    """``lease_due_jobs`` as (id, kind) pairs, so timers can be run in a batch."""
    outage_leases.give_back(platform)
    now = platform.clock.now()
    with platform.transaction() as session:
        stmt = (
            select(Job.id, Job.kind, Job.request_id).join(ProcessInstance, ProcessInstance.id == Job.instance_id)
            .where(Job.state == "pending", Job.due_at <= now, ProcessInstance.state != "suspended",
                   or_(Job.locked_until.is_(None), Job.locked_until < now))
            .order_by(Job.due_at, Job.id).limit(limit)
        )
        if instance_id is not None:
            stmt = stmt.where(Job.instance_id == instance_id)
        if platform.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True, of=Job)
        rows = session.execute(stmt).all()
        _leased_here.request_ids = {row.id: row.request_id for row in rows if row.request_id}
        leased = [(row.id, row.kind) for row in rows]
        if leased:
            session.execute(update(Job).where(Job.id.in_([job_id for job_id, _kind in leased])).values(
                locked_by=platform.worker_id, locked_until=now + timedelta(seconds=platform.lease_seconds)))
        return leased


def run_due_jobs(platform: Platform, limit: int = 20, instance_id: int | None = None) -> int:
    """Lease and run due jobs; returns how many ran (successfully or not). The timers among
    them fire together in one transaction (runtime/timer_batch.py), the others one by one."""
    leased = _lease_due(platform, limit, instance_id)
    with outage_leases.kept_if_database_fails(platform, [job_id for job_id, _kind in leased]):
        ran = timer_batch.fire_timers(platform, [job_id for job_id, kind in leased if kind == "timer"])
        for job_id, kind in leased:
            if kind != "timer" and run_job(platform, job_id):
                ran += 1
    return ran


DRAIN_WAIT_SECONDS = 2.0  # how long a request waits for another worker's run of its instance's job


def drain(platform: Platform, instance_id: int, rounds: int = 50) -> None:
    """Run an instance's due jobs right away, e.g. the service tasks after a completed form, so
    the answer shows where the instance went. A job another worker's clock leased first is
    waited for (briefly), not skipped: otherwise the answer would miss the next task."""
    if run_own_jobs(platform, instance_id):
        return
    waited_until = time.monotonic() + DRAIN_WAIT_SECONDS
    for _ in range(rounds):
        if run_due_jobs(platform, limit=10, instance_id=instance_id) > 0:
            continue
        if not _leased_elsewhere(platform, instance_id) or time.monotonic() > waited_until:
            return
        time.sleep(0.02)


def _leased_elsewhere(platform: Platform, instance_id: int) -> bool:
    """A due job of the instance is leased by another run: another process's clock, or this
    process's own clock thread (same worker id), never this drain (its runs are over)."""
    now = platform.clock.now()
    with platform.Session() as session:
        return session.scalar(select(Job.id).where(
            Job.instance_id == instance_id, Job.state == "pending", Job.kind.in_(("service", "step")),
            Job.due_at <= now, Job.locked_until >= now).limit(1)) is not None


def run_job(platform: Platform, job_id: int) -> bool:
    """``_run_job`` with the id of the request that queued the job (read with its lease by this
    thread) in the log context, so the run's log lines carry it."""
    with request_context.using(getattr(_leased_here, "request_ids", {}).get(job_id)):
        return _run_job(platform, job_id)


def _run_job(platform: Platform, job_id: int) -> bool:
    """Run a leased job in one transaction that locks its instance. A remote handler is called
    before that, with nothing locked (runtime/remote_calls.py); its answer is stored here."""
    answer = call_outside(platform, job_id)
    try:
        with platform.transaction() as session:
            _lock_instance_of(platform, session, job_id)
            job = _leased_job(platform, session, job_id)
            if job is None:
                return False
            _execute(platform, session, job, answer)
            job.state = "done"
            job.finished_at = platform.clock.now()
            job.locked_by = None
            job.locked_until = None
        observe.job_ran.send(job.kind, "done")
        return True
    except JobSkipped:
        _release(platform, job_id)
        return False
    except Exception as exc:
        if unavailable_kind(exc):  # the database's fault, not the job's: no attempt counted
            raise
        log.info("job %s failed", job_id, exc_info=True)
        record_failure(platform, job_id, exc)
        return True


def _lock_instance_of(platform: Platform, session: Session, job_id: int) -> None:
    """Lock the job's instance before the job row: every writer takes instance then job,
    so a job runner and a person completing a task never deadlock on PostgreSQL."""
    instance_id = session.scalar(select(Job.instance_id).where(Job.id == job_id))
    if instance_id is not None:
        lock_instance(platform, session, instance_id)


def _leased_job(platform: Platform, session: Session, job_id: int) -> Job | None:
    stmt = select(Job).where(Job.id == job_id)
    if platform.is_postgres:
        stmt = stmt.with_for_update()
    job = session.scalar(stmt)
    if job is None or job.state != "pending" or job.locked_by != platform.worker_id:
        return None
    return job


def _execute(platform: Platform, session: Session, job: Job, answer: Answer | None = None) -> None:
    run = InstanceRun.open(platform, session, job.instance_id, mirror=True)
    if run.row.state == "suspended":
        raise JobSkipped()
    if run.row.state in FINAL_STATES:
        return
    now = platform.clock.now()
    if job.kind == "timer":
        task = find_task(run.workflow, job.spiff_task_id)
        if task is None or task.state != TaskState.WAITING:
            return
        fire_timer(run.workflow, task)
        observe.timer_fired.send((now - job.due_at).total_seconds())
        job.state = "done"  # before the save, so a cycle timer's next occurrence gets a job of its own
        audit.record(session, run.row.id, None, "timer.fired", element_id=job.element_id, at=now)
    elif job.kind == "service":
        run_service_job(platform, run, job, answer)
    step_and_save(run)


def run_service_job(platform: Platform, run: InstanceRun, job: Job, answer: Answer | None = None) -> None:
    task = find_task(run.workflow, job.spiff_task_id)
    if task is None or task.state != TaskState.READY:
        return
    call_service(platform, run, task, attempt=job.attempts + 1, answer=answer)


def _release(platform: Platform, job_id: int) -> None:
    with platform.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id, Job.locked_by == platform.worker_id)
                        .values(locked_by=None, locked_until=None))


def record_failure(platform: Platform, job_id: int, exc: BaseException) -> None:
    """Count the attempt; retry later with backoff, or raise an incident when attempts run out."""
    with platform.transaction() as session:
        _lock_instance_of(platform, session, job_id)
        job = session.get(Job, job_id)
        if job is not None and job.state == "pending":
            count_failure(platform, session, job, exc)


def count_failure(platform: Platform, session: Session, job: Job, exc: BaseException) -> None:
    """``record_failure`` inside the caller's transaction, which holds the instance's lock."""
    message = _describe(exc)
    now = platform.clock.now()
    observe.job_ran.send(job.kind, "failed")
    job.attempts += 1
    job.last_error = message
    job.locked_by = None
    job.locked_until = None
    audit.record(session, job.instance_id, None, f"{job.kind}.failed", element_id=job.element_id,
                 data={"attempt": job.attempts, "error": message}, at=now)
    if job.attempts < job.max_attempts:
        job.due_at = now + backoff(platform.retry_backoff_seconds, job.attempts)
        return
    job.state = "failed"
    job.finished_at = now
    element = job.element_id or _element_of(exc)
    session.add(Incident(instance_id=job.instance_id, job_id=job.id, element_id=element,
                         kind=f"{job.kind}_failed", message=message,
                         traceback="".join(traceback.format_exception(exc)), state="open", created_at=now))
    session.flush()
    audit.record(session, job.instance_id, None, "incident.raised", element_id=element,
                 data={"error": message, "attempts": job.attempts}, at=now)
    instance = session.get(ProcessInstance, job.instance_id)
    if instance.state not in FINAL_STATES and instance.state != "suspended":
        instance.state = "error"


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    inner = getattr(exc, "error", None) or exc.__cause__ or exc.__context__
    if inner is not None and str(inner) and str(inner) not in text:
        text = f"{text}: {inner.__class__.__name__}: {inner}"
    return f"{exc.__class__.__name__}: {text}"


def _element_of(exc: BaseException) -> str | None:
    if getattr(exc, "element_id", None):
        return exc.element_id
    spec = getattr(exc, "task_spec", None)
    return getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)


def visible_incident(session: Session, actor: Principal, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("incident %(id)s does not exist", id=incident_id)
    instance = session.get(ProcessInstance, incident.instance_id)
    if not actor.sees_tenant(instance.tenant):
        raise NotFound("incident %(id)s does not exist", id=incident_id)
    return incident


def list_incidents(session: Session, actor: Principal, state: str | None = "open",
                   instance_id: int | None = None, offset: int = 0, limit: int = 50):
    from sqlalchemy import func

    stmt = select(Incident).join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
    if actor.tenant is not None:
        stmt = stmt.where(ProcessInstance.tenant == actor.tenant)
    if state:
        stmt = stmt.where(Incident.state == state)
    if instance_id is not None:
        stmt = stmt.where(Incident.instance_id == instance_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Incident.id.desc()).offset(offset).limit(limit)).all()
    return list(rows), int(total or 0)


def retry_incident(platform: Platform, actor: Principal, incident_id: int) -> int:
    """A supervisor's retry: the failed job gets a fresh set of attempts, due now."""
    if not (actor.is_admin or "supervisor" in actor.groups):
        raise Forbidden("only supervisors and administrators may retry incidents")
    now = platform.clock.now()
    with platform.transaction() as session:
        incident = visible_incident(session, actor, incident_id)
        lock_instance(platform, session, incident.instance_id)
        session.refresh(incident)
        if incident.state != "open":
            raise Conflict("incident %(id)s is already %(state)s", id=incident_id, state=incident.state)
        job = session.get(Job, incident.job_id) if incident.job_id else None
        if job is None:
            raise Conflict("incident %(id)s has no job to retry", id=incident_id)
        job.state = "pending"
        job.attempts = 0
        job.due_at = now
        job.locked_by = None
        job.locked_until = None
        job.finished_at = None
        incident.state = "resolved"
        incident.resolved_at = now
        incident.resolved_by = actor.username
        instance = session.get(ProcessInstance, incident.instance_id)
        audit.record(session, instance.id, actor.username, "incident.retried", element_id=incident.element_id,
                     data={"incident_id": incident.id}, at=now)
        session.flush()
        if instance.state not in FINAL_STATES and instance.state != "suspended":
            instance.state = derive_state(session, instance.id)
        instance_id = instance.id
    drain(platform, instance_id)
    return instance_id


def errored_element(run: InstanceRun) -> str | None:
    task = errored_task(run.workflow)
    return task.task_spec.bpmn_id if task is not None else None

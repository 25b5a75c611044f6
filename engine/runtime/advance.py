"""Apply a person's change to an instance and run the engine on, without ever losing it.

The change (a completed form, a start, a message) and the engine steps after it are tried
in one transaction. When the steps fail (a script error, a stuck loop), that transaction is
rolled back and the change alone is committed in a second one, with a ``step`` job that
runs the engine steps again from the job runner, where a failure becomes an incident.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import observe, request_context
from engine.db import unavailable_kind
from engine.errors import EngineError
from engine.models import Job
from engine.runtime.instance_run import InstanceRun
from engine.runtime.service_calls import InlineFailure, call_inline
from engine.runtime.workflow import check_progress, run_engine_steps

if TYPE_CHECKING:
    from engine.platform import Platform

log = logging.getLogger(__name__)

Opener = Callable[..., InstanceRun]
Change = Callable[[InstanceRun], object]


@dataclass
class Step:
    """What a change and its engine steps left: the caller drains jobs only when ``queued``
    (a service or step job pending, or a timer already due), saving a request two reads."""

    instance_id: int
    result: object
    queued: bool
    view: object = None  # what ``then`` made of the run before the commit, when nothing was queued


def step_and_save(run: InstanceRun, platform: Platform | None = None) -> None:
    """Run the engine on and save; with ``platform``, a person's step: the service tasks it
    readied are called first, inline, where the platform allows it (runtime/service_calls.py).
    A failed call leaves them queued as jobs, the failing one an attempt down."""
    started = time.perf_counter()
    run_engine_steps(run.workflow)
    check_progress(run.workflow)
    failure = call_inline(platform, run) if platform is not None else None
    run.save()
    observe.step_done.send(time.perf_counter() - started)
    if failure is not None:
        _count_inline_failure(platform, run, failure)


def _count_inline_failure(platform: Platform, run: InstanceRun, failure: InlineFailure) -> None:
    from engine.runtime import jobs

    job = run.session.scalar(select(Job).where(Job.instance_id == run.row.id, Job.kind == "service",
                                               Job.spiff_task_id == failure.spiff_task_id, Job.state == "pending"))
    if job is not None:
        jobs.count_failure(platform, run.session, job, failure.error)
        run.session.flush()


def apply(platform: Platform, open_run: Opener, change: Change) -> tuple[int, object]:
    """``apply_step`` as (instance id, what ``change`` returned)."""
    step = apply_step(platform, open_run, change)
    return step.instance_id, step.result


def apply_step(platform: Platform, open_run: Opener, change: Change,
               then: Callable[[InstanceRun], object] | None = None) -> Step:
    """Run ``change`` then the engine in a transaction of its own (as ``apply_in``, without
    the savepoint: the whole transaction is the attempt). ``then`` reads the saved run in the
    same transaction (an answer without reading the instance again) when the step queued
    nothing; otherwise the caller drains the queue and reads afterwards."""
    try:
        with platform.transaction() as session:
            run = open_run(session)
            result = change(run)
            step_and_save(run, platform)
            view = then(run) if then is not None and not run.queued else None
            return Step(run.row.id, result, run.queued, view)
    except EngineError:
        raise
    except Exception as exc:
        if unavailable_kind(exc):  # the database failed, not the engine: nothing is kept, a 503
            raise
        log.info("engine steps failed after a change; keeping the change and queueing a step job",
                 exc_info=True)
    with platform.transaction() as session:
        return _change_alone(platform, session, open_run, change)


def apply_in(platform: Platform, session: Session, open_run: Opener, change: Change) -> tuple[int, object]:
    """``apply_in_step`` as (instance id, what ``change`` returned)."""
    step = apply_in_step(platform, session, open_run, change)
    return step.instance_id, step.result


def apply_in_step(platform: Platform, session: Session, open_run: Opener, change: Change) -> Step:
    """Run ``change`` then the engine inside ``session``. Engine failures fall back to the
    change alone plus a step job."""
    savepoint = session.begin_nested()
    try:
        run = open_run(session)
        result = change(run)
        step_and_save(run)
        savepoint.commit()
        return Step(run.row.id, result, run.queued)
    except EngineError:
        savepoint.rollback()
        raise
    except Exception as exc:
        if unavailable_kind(exc):  # the database failed, not the engine: the caller's transaction ends
            raise
        savepoint.rollback()
        log.info("engine steps failed after a change; keeping the change and queueing a step job",
                 exc_info=True)
    return _change_alone(platform, session, open_run, change)


def _change_alone(platform: Platform, session: Session, open_run: Opener, change: Change) -> Step:
    run = open_run(session)
    result = change(run)
    run.save()
    queue_step(platform, run)
    run.refresh_state()
    return Step(run.row.id, result, True)


def queue_step(platform: Platform, run: InstanceRun) -> None:
    now = platform.clock.now()
    run.session.add(Job(instance_id=run.row.id, kind="step", spiff_task_id="", element_id="",
                        due_at=now, max_attempts=1, created_at=now, request_id=request_context.current()))
    run.session.flush()

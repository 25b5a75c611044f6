"""A remote handler's call, made outside every lock: read, call, then store the answer.

A handler registered ``remote=True`` (engine/services.py) waits on another system over the
network, for up to its connect and read timeouts. Under the instance's lock that wait would hold
up every person acting on the instance, and on SQLite the database's one write lock, so every
instance. The job runner therefore:

1. reads the instance in a plain snapshot (no lock; on SQLite a reader never blocks a writer)
   and runs the service task in that throwaway copy, so the handler gets exactly the parameters
   the task evaluates;
2. calls the handler with no transaction open (``call.session`` is None: its own records go
   through short transactions of their own, keyed by the idempotency key, so a second call
   leaves one record);
3. locks the instance as every job does, checks that the job is still its own and the task
   still ready, and completes the task with the answer it got, without calling again.

The answer is stored at most once: step 3 commits it together with the job marked done, and
runs only while this runner holds the job's lease. A runner that dies between 2 and 3 loses the
answer; the job's lease runs out and the call is made again with the same key, which the other
system (and the outbox) treat as the same call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState

from engine.models import Job, ProcessInstance
from engine.runtime.instance_run import FINAL_STATES, InstanceRun
from engine.runtime.workflow import find_task

if TYPE_CHECKING:
    from engine.platform import Platform


@dataclass(frozen=True)
class Answer:
    """What the handler of ``spiff_task_id`` returned, or the error it raised."""

    spiff_task_id: str
    result: Any = None
    error: BaseException | None = None


def call_outside(platform: Platform, job_id: int) -> Answer | None:
    """Call the remote handler of service job ``job_id`` with no lock and no transaction open.
    None when the job is not this runner's pending service job, its task is not ready, or its
    handler is not remote: then the job runs the usual way, calling inside its transaction."""
    from engine.runtime.service_calls import service_call

    with platform.Session() as session:
        job = session.get(Job, job_id)
        if job is None or job.kind != "service" or job.state != "pending" or job.locked_by != platform.worker_id:
            return None
        row = session.get(ProcessInstance, job.instance_id)
        if row is None or row.state in FINAL_STATES or row.state == "suspended" or row.parent_id is not None:
            return None
        if not _may_be_remote(platform, platform.specs_for(session, row), job.element_id):
            return None  # (decided from the specs: most handlers are not remote, load nothing for them)
        run = InstanceRun.load(platform, session, row)
        task = find_task(run.workflow, job.spiff_task_id)
        if task is None or task.state != TaskState.READY or not is_remote(platform, task):
            return None
        attempt = job.attempts + 1
    got: dict[str, Any] = {}

    def call(spiff_task, operator: str, params: dict[str, Any]) -> Any:
        context = service_call(platform, run.row, task, operator, attempt, dict(spiff_task.data), session=None)
        got["result"] = platform.services.get(operator)(params, context)
        return got["result"]

    run.workflow.script_engine = platform.script_engine(call=call)
    try:
        task.run()
    except Exception as exc:  # the handler's error, or the task's own with the answer
        if "result" not in got:
            return Answer(job.spiff_task_id, error=exc)
    return Answer(job.spiff_task_id, result=got.get("result"))


def _may_be_remote(platform: Platform, specs, element_id: str) -> bool:
    """Whether a service task named ``element_id`` in the version's specs (or a called
    process's) has a remote handler; an element found nowhere is looked at in the workflow."""
    spec, subprocess_specs = specs
    found = [s.task_specs[element_id] for s in (spec, *subprocess_specs.values()) if element_id in s.task_specs]
    if not found:
        return True
    return any(platform.services.is_remote(getattr(t, "operation_name", None), platform) for t in found)


def is_remote(platform: Platform, task) -> bool:
    return platform.services.is_remote(getattr(task.task_spec, "operation_name", None), platform)

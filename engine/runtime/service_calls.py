"""Calling a service task's handler: from a job, or inline, in the step that readied it.

Either way the handler gets the idempotency key ``<instance id>:<task id>``, so a call made
again after a crash or a failure has one effect, and the result is stored with the step that
completes the service task, in the same transaction as the instance's save.

Inline (``Platform.inline_services``, PostgreSQL by default): a person's completion that readies
service tasks calls them before its one save, so the instance is locked, loaded and saved once
instead of twice. Only the instance's row is locked meanwhile, so other instances go on. A
handler that fails makes the step start over without inline calls: the person's work is
committed with the job queued, and the failure counts as the job's first attempt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from SpiffWorkflow.task import Task

from engine.runtime import audit
from engine.runtime.workflow import check_progress, ready_service_tasks, run_engine_steps
from engine.services import ServiceCall

if TYPE_CHECKING:
    from engine.platform import Platform
    from engine.runtime.instance_run import InstanceRun

INLINE_ROUNDS = 20  # service tasks readying service tasks: at most this many rounds in one step


class InlineCallFailed(Exception):
    """A service task called inline failed; the step is tried again with it queued as a job."""

    def __init__(self, spiff_task_id: str, error: BaseException):
        super().__init__(str(error))
        self.spiff_task_id = spiff_task_id
        self.error = error


def call_service(platform: Platform, run: InstanceRun, task: Task, attempt: int) -> None:
    """Run the ready service task ``task``: its handler's answer goes into the task's data."""
    element_id = task.task_spec.bpmn_id or task.task_spec.name
    row = run.row

    def call(spiff_task, operator: str, params: dict[str, Any]) -> Any:
        handler = platform.services.get(operator)
        if handler is None:
            raise LookupError(f"no handler is registered for service operator '{operator}'")
        context = ServiceCall(
            operator=operator, idempotency_key=f"{row.id}:{task.id}",
            instance_id=row.id, business_key=row.business_key, tenant=row.tenant,
            element_id=element_id, attempt=attempt, variables=dict(spiff_task.data), platform=platform,
            session=run.session,
        )
        return handler(params, context)

    run.workflow.script_engine = platform.script_engine(call=call)
    try:
        task.run()
    finally:
        run.workflow.script_engine = platform.script_engine()
    audit.record(run.session, row.id, None, "service.completed", element_id=element_id,
                 data={"operator": task.task_spec.operation_name, "attempt": attempt,
                       "result": task.data.get(task.task_spec.result_variable)},
                 at=platform.clock.now())


def call_inline(platform: Platform, run: InstanceRun) -> None:
    """Call the service tasks this step readied (not those that waited before it: their jobs
    exist), then run the engine on, until none is ready. ``InlineCallFailed`` on a failure."""
    if not platform.inline_services or run.mirror is None:
        return
    waiting_before = run.mirror.services
    for _ in range(INLINE_ROUNDS):
        ready = [task for task in ready_service_tasks(run.workflow) if str(task.id) not in waiting_before]
        if not ready:
            return
        for task in ready:
            try:
                call_service(platform, run, task, attempt=1)
            except Exception as exc:
                raise InlineCallFailed(str(task.id), exc) from exc
        run_engine_steps(run.workflow)
        check_progress(run.workflow)

"""Calling a service task's handler: from a job, or inline, in the step that readied it.

Either way the handler gets the idempotency key ``<instance id>:<task id>``, so a call made
again after a crash or a failure has one effect, and the result is stored with the step that
completes the service task, in the same transaction as the instance's save.

Inline (``Platform.inline_services``, PostgreSQL by default): a person's completion that readies
service tasks calls them before its one save, so the instance is locked, loaded and saved once
instead of twice. Only the instance's row is locked meanwhile, so other instances go on. When a
handler fails, the step is saved as it was before the call: the person's work is committed
with the service task queued as a job, and the failure counts as the job's first attempt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.task import Task

from engine.definitions.serialization import workflow_from_json, workflow_to_json
from engine.runtime import audit
from engine.runtime.workflow import check_progress, ready_service_tasks, run_engine_steps
from engine.services import ServiceCall

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.models import ProcessInstance
    from engine.platform import Platform
    from engine.runtime.instance_run import InstanceRun
    from engine.runtime.remote_calls import Answer

log = logging.getLogger(__name__)

INLINE_ROUNDS = 20  # service tasks readying service tasks: at most this many rounds in one step


@dataclass
class InlineFailure:
    """A service task called inline failed: the step is saved as it was before the call, with
    the task queued as a job, and the failure is counted on that job (``advance.step_and_save``)."""

    spiff_task_id: str
    error: BaseException


def call_service(platform: Platform, run: InstanceRun, task: Task, attempt: int, answer: Answer | None = None) -> None:
    """Run the ready service task ``task``: its handler's answer goes into the task's data.
    ``answer``: what the handler already returned, called outside the lock (remote_calls.py);
    it is used instead of calling again."""
    element_id = task.task_spec.bpmn_id or task.task_spec.name
    row = run.row

    def call(spiff_task, operator: str, params: dict[str, Any]) -> Any:
        if answer is not None and answer.spiff_task_id == str(task.id):
            if answer.error is not None:
                raise answer.error
            return answer.result
        handler = platform.services.get(operator)
        if handler is None:
            raise LookupError(f"no handler is registered for service operator '{operator}'")
        return handler(params, service_call(platform, row, task, operator, attempt, dict(spiff_task.data),
                                            session=run.session))

    run.workflow.script_engine = platform.script_engine(call=call)
    try:
        task.run()
    finally:
        run.workflow.script_engine = platform.script_engine()
    audit.record(run.session, row.id, None, "service.completed", element_id=element_id,
                 data={"operator": task.task_spec.operation_name, "attempt": attempt,
                       "result": task.data.get(task.task_spec.result_variable)},
                 at=platform.clock.now())


def service_call(platform: Platform, row: ProcessInstance, task: Task, operator: str, attempt: int,
                 variables: dict[str, Any], session: Session | None) -> ServiceCall:
    """What the handler gets besides its parameters; the key names the instance and the task."""
    return ServiceCall(
        operator=operator, idempotency_key=f"{row.id}:{task.id}", instance_id=row.id,
        business_key=row.business_key, tenant=row.tenant, element_id=task.task_spec.bpmn_id or task.task_spec.name,
        attempt=attempt, variables=variables, platform=platform, session=session,
    )


def call_inline(platform: Platform, run: InstanceRun) -> InlineFailure | None:
    """Call the service tasks this step readied (not those that waited before it: their jobs
    exist), then run the engine on, round after round until none is ready. A failing round is
    undone alone (a savepoint, and the workflow as it was before the round), so the jobs the
    save then queues have the same task ids, and so the same idempotency keys, as the calls."""
    if not platform.inline_services or run.mirror is None:
        return None
    waiting_before = run.mirror.services
    for _ in range(INLINE_ROUNDS):
        ready = _called_now(run, waiting_before)
        if not ready:
            return None
        before = workflow_to_json(run.workflow)
        savepoint = run.session.begin_nested()
        calling = ""
        try:
            for task in ready:
                calling = str(task.id)
                call_service(platform, run, task, attempt=1)
            run_engine_steps(run.workflow)
            check_progress(run.workflow)
            savepoint.commit()
        except Exception as exc:
            log.info("a service task called inline failed; its step is saved with the task queued",
                     exc_info=True)
            savepoint.rollback()
            run.workflow = workflow_from_json(before, platform.specs_for(run.session, run.row))
            run.workflow.script_engine = platform.script_engine()
            return InlineFailure(calling, exc)  # (or the engine steps right after its call)
    return None


def _called_now(run: InstanceRun, waiting_before: set[str]) -> list[Task]:
    return [task for task in ready_service_tasks(run.workflow) if str(task.id) not in waiting_before]

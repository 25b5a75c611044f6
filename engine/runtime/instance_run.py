"""Load an instance under its row lock, advance its workflow, and write everything back.

Every change to an instance goes through ``InstanceRun``: lock the row (``FOR UPDATE`` on
PostgreSQL; SQLite transactions are already serialized), deserialize the workflow, change
it, then ``save`` mirrors the workflow into the tables that people and the clock query:
human tasks, timer and service jobs, message subscriptions, state and variables.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, exists, insert, inspect, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.session import make_transient_to_detached

from engine import request_context
from engine.definitions.serialization import SERIALIZER_VERSION, workflow_from_json, workflow_to_json
from engine.errors import Conflict, NotFound
from engine.lifecycle import InstanceEvent, TaskEvent
from engine.models import (
    HumanTask,
    Incident,
    Job,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
)
from engine.runtime import audit
from engine.runtime.batched_writes import held
from engine.runtime.called import follow_root, owning_call, sync_called
from engine.runtime.endings import Ending, ending
from engine.runtime.mirror import Mirror, wanted_subscriptions
from engine.runtime.tokens import sync_tokens
from engine.runtime.values import sync_values
from engine.runtime.workflow import (
    compact,
    current_data,
    find_task,
    is_completed,
    ready_service_tasks,
    ready_user_tasks,
    waiting_timers,
)

if TYPE_CHECKING:
    from engine.platform import Platform

# completed and cancelled: the diagram reached an end event (engine/runtime/endings.py says which);
# terminated: a supervisor (or a newer timer-start version) stopped the instance from outside.
FINAL_STATES = ("completed", "cancelled", "terminated")


def lock_instance(platform: Platform, session: Session, instance_id: int) -> ProcessInstance:
    stmt = (select(ProcessInstance).where(ProcessInstance.id == instance_id)
            .execution_options(populate_existing=True))
    if platform.is_postgres:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        raise NotFound("process instance %(id)s does not exist", id=instance_id)
    return row


class InstanceRun:
    """One locked instance with its workflow in memory, for the length of a transaction."""

    def __init__(self, platform: Platform, session: Session, row: ProcessInstance, workflow: BpmnWorkflow):
        self.platform = platform
        self.session = session
        self.row = row
        self.workflow = workflow
        self.variables_before = dict(row.variables or {})
        self.created_tasks: list[HumanTask] = []  # rows added by the save under way
        # whether rows kept from the workflow may exist already (else a save skips reading them)
        self.had_called = bool(workflow.subprocesses)
        self.had_tokens = bool(row.id) and row.workflow_json not in ("", "{}")
        self.called_states: dict[str, str] = {}
        # the rows the last save wrote, read from the workflow (runtime/mirror.py); None: read them
        self.mirror: Mirror | None = None
        self.closed_tasks: set[str] = set()  # SpiffWorkflow ids of the tasks a change closed itself
        self.open_rows: list[HumanTask] | None = None  # after a save: its open task rows, when it knows them all
        # the instance's pending jobs, when the caller read them already (a timer batch reads a
        # whole batch's at once): the next save uses them instead of reading its own
        self.pending_jobs: list[Job] | None = None
        self._only_new_open = False
        # set by save: a service or step job is pending, or a timer is due already (jobs.drain has work)
        self.queued = False
        self.timer_due = False

    @classmethod
    def open(cls, platform: Platform, session: Session, instance_id: int, mirror: bool = False) -> InstanceRun:
        """``mirror``: the caller changes the workflow only through SpiffWorkflow (and reports
        the human tasks it closed in ``closed_tasks``), so the save may write the difference
        blind. Repairs and migrations, which rework the workflow, leave it off."""
        return cls.load(platform, session, lock_instance(platform, session, instance_id), mirror)

    @classmethod
    def load(cls, platform: Platform, session: Session, row: ProcessInstance, mirror: bool = False) -> InstanceRun:
        """``open`` for a row the caller locked itself (with the row it came for, in one read)."""
        if row.parent_id is not None:  # a called process lives in its root's workflow (runtime/called.py)
            raise Conflict("instance %(id)s is a process called by instance %(root)s; act on that instance",
                           id=row.id, root=row.root_id)
        workflow = workflow_from_json(row.workflow_json, platform.specs_for(session, row))
        workflow.script_engine = platform.script_engine()
        run = cls(platform, session, row, workflow)
        if mirror and run.had_tokens:
            run.mirror = Mirror.of(workflow, row.state)
        return run

    @classmethod
    def create(cls, platform: Platform, session: Session, definition: ProcessDefinition,
               business_key: str | None, tenant: str | None, actor: str | None) -> InstanceRun:
        spec, subs = platform.specs(session, definition.id)
        workflow = BpmnWorkflow(spec, subs, script_engine=platform.script_engine())
        now = platform.clock.now()
        values = {
            **_INSTANCE_DEFAULTS,
            "definition_id": definition.id, "process_key": definition.key, "version": definition.version,
            "business_key": business_key, "tenant": tenant, "state": "running", "started_by": actor,
            "started_at": now, "updated_at": now, "variables": {}, "workflow_json": "{}",
            "serializer_version": SERIALIZER_VERSION, "revision": 1,
        }
        with session.no_autoflush:  # one plain INSERT; the row joins the session as if read back
            row = ProcessInstance(id=session.scalar(_INSERT_INSTANCE, values), **values)
        make_transient_to_detached(row)
        session.add(row)
        run = cls(platform, session, row, workflow)
        run.mirror = Mirror()  # a new instance has no rows yet
        return run

    def save(self) -> None:
        """Write the workflow back and bring every derived table in line with it."""
        now = self.platform.clock.now()
        row = self.row
        compact(self.workflow)
        row.variables = current_data(self.workflow)
        row.workflow_json = workflow_to_json(self.workflow)
        row.serializer_version = SERIALIZER_VERSION
        row.updated_at = now
        # The queries below read only rows this method writes itself; holding the flush back
        # sends all the writes (instance, tasks, jobs, audit rows) together at the end.
        mirror = self.mirror
        with self.session.no_autoflush:
            called_rows = sync_called(self, now)
            self._sync_human_tasks(now, called_rows)
            pending = self._pending_jobs() if mirror is None or mirror.may_have_jobs else {}
            self._sync_timer_jobs(now, pending.get("timer", {}))
            queued = self._sync_service_jobs(now, pending.get("service", {}))
            queued |= any(job.state == "pending" for job in pending.get("step", {}).values())
            self.queued = queued or self.timer_due
            self._sync_subscriptions()
            completed = row.state not in FINAL_STATES and row.state != "suspended" and is_completed(self.workflow)
            ended = ending(self.workflow) if completed else None
            if ended is not None:
                self._end(ended, now)
            if row.state not in FINAL_STATES and row.state != "suspended":
                row.state = self._current_state(queued)
            follow_root(self, called_rows, now)
            self.tokens = sync_tokens(self, called_rows, row.state in FINAL_STATES, now,
                                      before=mirror.tokens if mirror is not None else None)
            changed = _changed(self.variables_before, row.variables)
            sync_values(self.session, row.id, changed, row.variables, fresh=mirror is not None and mirror.fresh)
            lifecycle = self.platform.lifecycle
            if lifecycle.listens("instance_saved"):
                lifecycle.emit("instance_saved", InstanceEvent(self.session, row, now, changed))
            if changed:
                audit.record(self.session, row.id, None, "variables.changed", data={"changed": changed}, at=now)
                self.variables_before = dict(row.variables)
        _write_row(self.session, row)
        self.session.flush()
        self.open_rows = list(self.created_tasks) if self._only_new_open else None
        if mirror is not None:  # the rows now mirror the workflow as saved
            self.mirror = Mirror.of(self.workflow, row.state)
            self.closed_tasks = set()
        self._emit_after_flush(ended, now)

    def open_tasks(self) -> list[HumanTask]:
        """The instance's open task rows (its called processes' too) after the save, oldest
        first; read from the database only when some were open before the step."""
        if self.open_rows is not None:
            return self.open_rows
        return list(self.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == self.row.id, HumanTask.state == "open").order_by(HumanTask.id)))

    def sync_called_states(self) -> None:
        """After a state change without a step (suspend, resume): the called rows follow."""
        now = self.platform.clock.now()
        with self.session.no_autoflush:
            follow_root(self, sync_called(self, now), now)

    def _end(self, ended: Ending, now: datetime) -> None:
        """The diagram reached its end: the state and reason its end event declares, and the audit row."""
        row = self.row
        row.state = ended.state
        row.end_reason = ended.reason
        row.ended_at = now
        data = {key: value for key, value in (("reason", ended.reason), ("error", ended.error)) if value is not None}
        audit.record(self.session, row.id, None, f"instance.{ended.state}", element_id=ended.element_id,
                     data=data or None, at=now)

    def _emit_after_flush(self, ended: Ending | None, now: datetime) -> None:
        """Hooks that hand listeners rows with their ids: the tasks this save created, the end
        (``instance_cancelled`` for a cancel end event, with its reason; else ``instance_completed``)."""
        lifecycle = self.platform.lifecycle
        created, self.created_tasks = self.created_tasks, []
        if lifecycle.listens("task_created"):
            for task_row in created:
                lifecycle.emit("task_created", TaskEvent(self.session, self.row, task_row, now))
        if ended is None:
            return
        hook = "instance_cancelled" if ended.state == "cancelled" else "instance_completed"
        if lifecycle.listens(hook):
            lifecycle.emit(hook, InstanceEvent(self.session, self.row, now, reason=ended.reason))

    def _current_state(self, queued: bool) -> str:
        """``derive_state`` without asking the database what this save just decided: an open
        incident always puts an instance in "error" (jobs.py), so only one in "error" can have one."""
        if self.row.state == "error" and derive_state(self.session, self.row.id) == "error":
            return "error"
        return "running" if queued else "waiting"

    def refresh_state(self) -> None:
        row = self.row
        if row.state in FINAL_STATES or row.state == "suspended":
            return
        row.state = derive_state(self.session, row.id)

    def _sync_human_tasks(self, now: datetime, called_rows: dict[str, ProcessInstance]) -> None:
        ready = {str(t.id): t for t in ready_user_tasks(self.workflow)}
        mirror = self.mirror
        self._only_new_open = False
        if mirror is not None and not (mirror.user_tasks - self.closed_tasks - ready.keys()):
            # nothing to cancel: the rows that exist are the mirror's, so only the new tasks get one
            self._only_new_open = not (mirror.user_tasks & ready.keys()) - self.closed_tasks
            self._add_human_tasks(now, called_rows, [t for i, t in ready.items()
                                                     if i not in mirror.user_tasks and i not in self.closed_tasks])
            return
        # the open rows, and any row of a ready task (one completed in this very step)
        rows = self.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == self.row.id,
            or_(HumanTask.state == "open", HumanTask.spiff_task_id.in_(list(ready) or [""]))),
        ).all()
        known = {r.spiff_task_id for r in rows}
        cancelled = []
        for task_row in rows:
            if task_row.state == "open" and task_row.spiff_task_id not in ready:
                task_row.state = "cancelled"
                task_row.completed_at = now
                cancelled.append(task_row.id)
        if cancelled:  # candidate rows serve only open tasks (see tasks.complete)
            self.session.execute(delete(TaskCandidate).where(TaskCandidate.task_id.in_(cancelled)))
        self._add_human_tasks(now, called_rows, [task for task_id, task in ready.items() if task_id not in known])

    def _add_human_tasks(self, now: datetime, called_rows: dict[str, ProcessInstance], tasks: list) -> None:
        """The new tasks' rows and their candidates, each table in one plain INSERT; the rows
        join the session as if read back (no unit of work, no second read)."""
        if not tasks:
            return
        values = []
        for task in tasks:
            call_task_id = owning_call(self.workflow, task) if called_rows else None
            owner = called_rows.get(call_task_id) if call_task_id else None
            values.append({**_TASK_DEFAULTS, **self.platform.human_task_values(self.row, task, now, called=owner)})
        with self.session.no_autoflush:
            ids = self.session.scalars(_INSERT_TASK, values).all() if len(values) > 1 else \
                [self.session.scalar(_INSERT_TASK, values[0])]
            candidates = [{"task_id": task_id, "kind": kind, "name": name, "tenant": fields["tenant"],
                           "due_at": fields["due_at"], "priority": fields["priority"], "assignee": fields["assignee"]}
                          for task_id, fields in zip(ids, values, strict=True)
                          for kind, column in (("group", "candidate_groups"), ("user", "candidate_users"))
                          for name in fields[column] or ()]
            if candidates:
                self.session.execute(_INSERT_CANDIDATES, candidates)
        for task_id, fields in zip(ids, values, strict=True):
            task_row = HumanTask(id=task_id, **fields)
            make_transient_to_detached(task_row)
            self.session.add(task_row)
            self.created_tasks.append(task_row)

    def _sync_timer_jobs(self, now: datetime, pending: dict[str, Job]) -> None:
        offset = self.platform.clock.now() - self.platform.real_now()
        # SpiffWorkflow computes durations from the wall clock; a timeDate is already a date on
        # the platform's clock (scripts compute it with now()), so only durations are shifted.
        due = {str(t.task.id): (t.task, t.due_at if t.absolute else t.due_at + offset, t.cycle)
               for t in waiting_timers(self.workflow)}
        self.timer_due = any(due_at <= now for _, due_at, _ in due.values())
        for job in pending.values():
            if job.spiff_task_id not in due:
                self._close_timer_job(job, now)
        for task_id, (task, due_at, cycle) in due.items():
            job = pending.get(task_id)
            if job is None:
                self.session.add(Job(instance_id=self.row.id, kind="timer", spiff_task_id=task_id,
                                     element_id=task.task_spec.bpmn_id or task.task_spec.name,
                                     due_at=due_at, max_attempts=1, created_at=now,
                                     request_id=request_context.current()))
            elif cycle and abs((job.due_at - due_at).total_seconds()) > 1:
                # A duration or date never moves once the timer started: recomputing it would
                # shift it by however far a manual clock moved since.
                job.due_at = due_at

    def _close_timer_job(self, job: Job, now: datetime) -> None:
        """A timer no longer waits: SpiffWorkflow fired it itself (its due time passed while
        the instance was saved for another reason), or its activity ended first."""
        task = find_task(self.workflow, job.spiff_task_id)
        job.finished_at = now
        if task is not None and task.state == TaskState.COMPLETED:
            job.state = "done"
            audit.record(self.session, self.row.id, None, "timer.fired", element_id=job.element_id, at=now)
        else:
            job.state = "cancelled"

    def _sync_service_jobs(self, now: datetime, pending: dict[str, Job]) -> bool:
        """Queue a job per ready service task; True when a service job is pending after this."""
        ready = {str(t.id): t for t in ready_service_tasks(self.workflow)}
        for job in pending.values():
            if job.spiff_task_id not in ready:
                job.state = "cancelled"
                job.finished_at = now
        new = [task_id for task_id in ready if task_id not in pending]
        failed = self._failed_jobs(new) if new else set()  # an incident's task waits for a retry
        queued = False
        for task_id in new:
            if task_id in failed:
                continue
            task = ready[task_id]
            self.session.add(Job(instance_id=self.row.id, kind="service", spiff_task_id=task_id,
                                 element_id=task.task_spec.bpmn_id or task.task_spec.name,
                                 due_at=now, max_attempts=service_retries(task), created_at=now,
                                 request_id=request_context.current()))
            queued = True
        return queued or any(job.state == "pending" for job in pending.values())

    def _pending_jobs(self) -> dict[str, dict[str, Job]]:
        """The instance's pending jobs by kind, then by SpiffWorkflow task id (one query, or none
        when the caller handed them over in ``pending_jobs``)."""
        given, self.pending_jobs = self.pending_jobs, None
        jobs = given if given is not None else self.session.scalars(
            select(Job).where(Job.instance_id == self.row.id, Job.state == "pending"))
        by_kind: dict[str, dict[str, Job]] = {}
        for job in jobs:
            if job.state == "pending":  # not already finished in this transaction (a fired timer)
                by_kind.setdefault(job.kind, {})[job.spiff_task_id] = job
        return by_kind

    def _failed_jobs(self, spiff_task_ids: list[str]) -> set[str]:
        return set(self.session.scalars(select(Job.spiff_task_id).where(
            Job.instance_id == self.row.id, Job.spiff_task_id.in_(spiff_task_ids), Job.state == "failed")))

    def _sync_subscriptions(self) -> None:
        """Rewrite the subscriptions only when what the workflow waits for changed."""
        wanted = wanted_subscriptions(self.workflow)
        mirror = self.mirror
        if mirror is not None and mirror.messages == wanted:
            return
        if mirror is None or not mirror.fresh:
            rows = self.session.scalars(select(MessageSubscription).where(
                MessageSubscription.instance_id == self.row.id).order_by(MessageSubscription.id)).all()
            if [(r.name, r.correlations) for r in rows] == wanted and all(
                    r.business_key == self.row.business_key and r.tenant == self.row.tenant for r in rows):
                return
            self.session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == self.row.id))
        for name, correlations in wanted:
            self.session.add(MessageSubscription(instance_id=self.row.id, name=name, business_key=self.row.business_key,
                                                 tenant=self.row.tenant, correlations=correlations))


_INSERT_INSTANCE = insert(ProcessInstance.__table__).returning(ProcessInstance.__table__.c.id)
# every column of a new instance row that create() leaves out
_INSTANCE_DEFAULTS = {"state_before_suspend": None, "end_reason": None, "ended_at": None, "parent_id": None,
                      "root_id": None, "call_task_id": None, "spec_overrides": None}
_INSERT_TASK = insert(HumanTask.__table__).returning(HumanTask.__table__.c.id, sort_by_parameter_order=True)
_INSERT_CANDIDATES = insert(TaskCandidate.__table__)
# every column a new task row has that human_task_values leaves out, so no attribute is left unloaded
_TASK_DEFAULTS = {"assignee": None, "claimed_at": None, "completed_at": None, "completed_by": None,
                  "called_instance_id": None}

# The columns a save changes, written by one prebuilt UPDATE instead of the unit of work.
_SAVED = ("variables", "workflow_json", "serializer_version", "updated_at", "state", "end_reason", "ended_at")
_INSTANCES = ProcessInstance.__table__
_WRITES: dict[tuple[str, ...], Any] = {}


def _write_statement(changed: tuple[str, ...]):
    """The UPDATE of these columns, built once per combination (a step changes few of them)."""
    statement = _WRITES.get(changed)
    if statement is None:
        statement = _WRITES[changed] = (
            update(_INSTANCES)
            .where(_INSTANCES.c.id == bindparam("b_id"), _INSTANCES.c.revision == bindparam("b_revision"))
            .values({name: bindparam(f"v_{name}") for name in (*changed, "revision")}))
    return statement


def _write_row(session: Session, row: ProcessInstance) -> None:
    """UPDATE the instance row with what the save changed, its revision checked and counted as
    the ORM's version counter would (so a later flush of other columns still checks it)."""
    state = inspect(row)
    if state.pending or state.transient:
        return  # not in the database yet: the flush INSERTs it whole
    changed = tuple(name for name in _SAVED if state.attrs[name].history.has_changes())
    if not changed:
        return
    revision = row.revision
    params = {"b_id": row.id, "b_revision": revision, "v_revision": revision + 1,
              **{f"v_{name}": getattr(row, name) for name in changed}}
    writes = held(session)
    if writes is not None:  # a batch of timers: sent with the batch, its row count checked then
        writes.add(row.id, _write_statement(changed), params, rows=1)
    else:
        with session.no_autoflush:  # (an autoflush would write the row the ORM's way first)
            result = session.execute(_write_statement(changed), params)
        if result.rowcount != 1:
            raise StaleDataError(f"process instance {row.id} was changed by another writer (revision {revision})")
    for name in changed:
        set_committed_value(row, name, getattr(row, name))
    set_committed_value(row, "revision", revision + 1)
    if not any(attr.history.has_changes() for attr in state.attrs):
        # nothing is left for the ORM: take the row out of the session's dirty set, or the next
        # flush walks it through the unit of work for nothing (about 1 ms a save). SQLAlchemy's
        # own flush ends the same way; the version is pinned in pyproject.toml.
        state._commit_all(state.dict, session.identity_map)


def derive_state(session: Session, instance_id: int) -> str:
    """error with an open incident, running with work queued now, else waiting (one query)."""
    incident, queued = session.execute(select(
        exists().where(Incident.instance_id == instance_id, Incident.state == "open"),
        exists().where(Job.instance_id == instance_id, Job.state == "pending", Job.kind.in_(("service", "step"))),
    )).one()
    if incident:
        return "error"
    return "running" if queued else "waiting"


def service_retries(task) -> int:
    props = (getattr(task.task_spec, "extensions", None) or {}).get("properties", {})
    value = props.get("retries") or getattr(task.task_spec, "retries", None)
    try:
        return max(1, min(20, int(value))) if value is not None else 3
    except (TypeError, ValueError):
        return 3


def backoff(base_seconds: float, attempts: int) -> timedelta:
    """Exponential backoff: base, 2*base, 4*base, ... capped at one hour."""
    return timedelta(seconds=min(3600.0, base_seconds * (2 ** max(0, attempts - 1))))


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    changed = {k: v for k, v in after.items() if before.get(k, object()) != v}
    changed.update({k: None for k in before if k not in after})
    return changed

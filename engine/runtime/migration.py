"""Move running instances from one version of a process to another (Camunda's migration).

A supervisor picks a source and a target version of the same process. ``plan`` tries the
migration on a copy of each instance's workflow and says, per instance, which live elements
map where and why an instance would be refused; ``migrate`` does it for real, one instance
per transaction, so a refusal never stops the rest. Each migrated instance gets an
``instance.migrated`` audit event; undoing is a migration back.

The alignment of old to new elements is SpiffWorkflow's (``SpiffWorkflow.bpmn.util.diff``):
same BPMN id, else the same place in the graph. What would lose a token or a timer is
refused: a live task whose element is gone, a waiting timer that is gone or whose timer
changed, a waiting message event that is gone.

A called process (a negotiation a tower order called) has no workflow of its own: it is a
subworkflow of its root's. It is migrated inside its root, and the root remembers the choice
in ``spec_overrides`` ({called key: definition id}) so every later load takes that spec
(``Platform.specs_for``).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.definitions.serialization import SERIALIZER, workflow_from_json, workflow_to_json
from engine.errors import Conflict, EngineError, ValidationFailed
from engine.models import HumanTask, InstanceToken, ProcessDefinition, ProcessInstance
from engine.principal import Principal
from engine.runtime import audit, instances
from engine.runtime.called import called_definition_id, owning_call
from engine.runtime.instance_run import FINAL_STATES, InstanceRun
from engine.runtime.repairs import require_supervisor
from engine.runtime.tokens import token_kind

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn import BpmnWorkflow

    from engine.platform import Platform

log = logging.getLogger(__name__)

MAX_INSTANCES = 10_000
LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR

# reason code -> English template (web/translations/migration has them in Chinese)
REASONS = {
    "not_found": "process instance %(id)s does not exist",
    "not_source": "instance %(id)s runs version %(version)s, not the source version",
    "ended": "instance %(id)s has ended; only running instances can move",
    "lost_token": "the instance is at %(element)s, which the target version does not have: it would lose a token",
    "lost_timer": "the timer %(element)s waits, and the target version does not have it: it would lose a timer",
    "timer_changed": "the timer %(element)s waits, and the target version changes its time: it would lose a timer",
    "lost_listener": "the message event %(element)s waits, and the target version does not have it",
    "lost_process": "the process %(element)s runs inside the instance, and the target version does not call it",
    "cannot_load": "the instance cannot be loaded on the target version: %(detail)s",
}


@dataclass
class Version:
    id: int
    key: str
    version: int
    name: str | None


@dataclass
class ElementMap:
    """One element of the source version and where it goes in the target."""

    element_id: str
    name: str | None
    target_id: str | None
    target_name: str | None
    status: str  # "same", "changed" or "removed"
    changes: list[str] = field(default_factory=list)


@dataclass
class LiveElement:
    """An element an instance stands at now, and where the migration puts it."""

    element_id: str
    name: str | None
    kind: str  # active, scope or listener (as instance_tokens says)
    target_id: str | None
    status: str  # "same", "changed" or "refused"


@dataclass
class Refusal:
    code: str
    error: EngineError  # English template and params, for the web layer to translate

    @property
    def message(self) -> str:
        return self.error.message


@dataclass
class InstancePlan:
    instance_id: int
    business_key: str | None = None
    state: str | None = None
    process_key: str | None = None
    parent_id: int | None = None
    elements: list[LiveElement] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    migrated: bool = False

    @property
    def ok(self) -> bool:
        return not self.refusals

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.instance_id, "business_key": self.business_key, "state": self.state,
                "process_key": self.process_key, "parent_id": self.parent_id, "ok": self.ok,
                "migrated": self.migrated,
                "elements": [dataclasses.asdict(e) for e in self.elements],
                "refusals": [{"code": r.code, "reason": r.message} for r in self.refusals]}


@dataclass
class Plan:
    source: Version
    target: Version
    mapping: list[ElementMap]
    added: list[tuple[str, str | None]]
    instances: list[InstancePlan]

    @property
    def movable(self) -> int:
        return sum(1 for p in self.instances if p.ok)

    @property
    def refused(self) -> int:
        return sum(1 for p in self.instances if not p.ok)

    def as_dict(self) -> dict[str, Any]:
        return {"source": dataclasses.asdict(self.source), "target": dataclasses.asdict(self.target),
                "mapping": [dataclasses.asdict(m) for m in self.mapping],
                "added": [{"element_id": e, "name": n} for e, n in self.added],
                "total": len(self.instances), "movable": self.movable, "refused": self.refused,
                "instances": [p.as_dict() for p in self.instances]}


@dataclass
class MigrationResult:
    source: Version
    target: Version
    instances: list[InstancePlan]

    @property
    def migrated(self) -> int:
        return sum(1 for p in self.instances if p.migrated)

    def as_dict(self) -> dict[str, Any]:
        return {"source": dataclasses.asdict(self.source), "target": dataclasses.asdict(self.target),
                "total": len(self.instances), "migrated": self.migrated,
                "refused": len(self.instances) - self.migrated,
                "instances": [p.as_dict() for p in self.instances]}


# --- versions ---------------------------------------------------------------------------------


def versions(session: Session, source_id: int, target_id: int) -> tuple[Version, Version]:
    """The two versions, checked: both exist, differ, and are of the same process."""
    found = []
    for definition_id in (source_id, target_id):
        row = session.get(ProcessDefinition, int(definition_id))
        if row is None:
            raise ValidationFailed("process version %(id)s does not exist", id=definition_id)
        found.append(Version(row.id, row.key, row.version, row.name))
    source, target = found
    if source.id == target.id:
        raise ValidationFailed("the source and the target are the same version")
    if source.key != target.key:
        raise ValidationFailed("the target version is of another process than %(process_key)s",
                               process_key=source.key)
    return source, target


def definition_by_version(session: Session, key: str, version: int) -> int:
    """The definition id of ``key`` version ``version`` (the command line names versions so)."""
    found = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key,
                                                              ProcessDefinition.version == int(version)))
    if found is None:
        raise ValidationFailed("process %(process_key)s has no version %(version)s", process_key=key, version=version)
    return found


def element_mapping(platform: Platform, session: Session, source: Version,
                    target: Version) -> tuple[list[ElementMap], list[tuple[str, str | None]]]:
    """Every BPMN element of the source version (and the sub-processes it holds) and its match."""
    old_spec, old_subs = platform.specs(session, source.id)
    new_spec, new_subs = platform.specs(session, target.id)
    pairs = [(old_spec, new_spec)] + [(sp, new_subs[name]) for name, sp in old_subs.items()
                                      if name in new_subs and sp is not new_subs[name]]
    rows: list[ElementMap] = []
    added: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for old, new in pairs:
        diff = SpecDiff(SERIALIZER.registry, old, new)
        for spec, match in diff.alignment.items():
            element = getattr(spec, "bpmn_id", None)
            if element is None or element in seen:
                continue
            seen.add(element)
            changes = [c for c in diff.comparisons.get(spec, []) if c not in ("inputs", "outputs")]
            status = "removed" if match is None else ("changed" if _changed(diff.comparisons.get(spec)) else "same")
            rows.append(ElementMap(element, getattr(spec, "bpmn_name", None),
                                   getattr(match, "bpmn_id", None), getattr(match, "bpmn_name", None),
                                   status, changes))
        added += [(spec.bpmn_id, spec.bpmn_name) for spec in diff.added if getattr(spec, "bpmn_id", None)]
    return rows, added


# --- plan and migrate -------------------------------------------------------------------------


def plan(platform: Platform, actor: Principal, source_definition_id: int, target_definition_id: int,
         instance_ids: list[int] | None = None, flt: instances.InstanceFilter | None = None) -> Plan:
    """What ``migrate`` would do, changing nothing."""
    require_supervisor(actor)
    with platform.Session() as session:
        source, target = versions(session, source_definition_id, target_definition_id)
        mapping, added = element_mapping(platform, session, source, target)
    ids = _instance_ids(platform, actor, source, instance_ids, flt)
    found = []
    for instance_id in ids:
        with platform.Session() as session:
            found.append(_try(platform, session, actor, instance_id, source, target, None))
    return Plan(source, target, mapping, added, found)


def migrate(platform: Platform, actor: Principal, source_definition_id: int, target_definition_id: int,
            instance_ids: list[int] | None = None, flt: instances.InstanceFilter | None = None,
            reason: str | None = None) -> MigrationResult:
    """Move each instance in its own transaction; a refused one is reported and the rest go on."""
    require_supervisor(actor)
    with platform.Session() as session:
        source, target = versions(session, source_definition_id, target_definition_id)
    ids = _instance_ids(platform, actor, source, instance_ids, flt)
    reason = (reason or "").strip() or None
    results = []
    for instance_id in ids:
        try:
            with platform.transaction() as session:
                result = _try(platform, session, actor, instance_id, source, target, reason)
                if not result.ok:
                    session.rollback()
        except EngineError as exc:  # e.g. the instance changed meanwhile
            result = InstancePlan(instance_id, refusals=[Refusal("cannot_load", exc)])
        except Exception as exc:  # a database error for one instance must not stop the rest
            log.warning("migration of instance %s failed", instance_id, exc_info=True)
            result = InstancePlan(instance_id, refusals=[
                Refusal("cannot_load", Conflict(REASONS["cannot_load"], detail=f"{exc.__class__.__name__}: {exc}"))])
        results.append(result)
    return MigrationResult(source, target, results)


def _instance_ids(platform: Platform, actor: Principal, source: Version, instance_ids: list[int] | None,
                  flt: instances.InstanceFilter | None) -> list[int]:
    from engine.runtime.bulk import matching_ids

    if (instance_ids is None) == (flt is None):
        raise ValidationFailed("give either instance ids or a filter")
    if instance_ids is not None:
        ids = sorted({int(i) for i in instance_ids})
    else:
        flt = dataclasses.replace(flt, process_key=flt.process_key or source.key,
                                  version=flt.version if flt.version is not None else source.version)
        with platform.Session() as session:
            ids = [i for i in matching_ids(platform, actor, flt)
                   if session.get(ProcessInstance, i).state not in FINAL_STATES]
    if len(ids) > MAX_INSTANCES:
        raise ValidationFailed("at most %(max)s instances can be changed at once; narrow the filter", max=MAX_INSTANCES)
    if not ids:
        raise ValidationFailed("no instance matches")
    return ids


def _refused(result: InstancePlan, code: str, **params: Any) -> InstancePlan:
    result.refusals.append(Refusal(code, Conflict(REASONS[code], **params)))
    return result


def _try(platform: Platform, session: Session, actor: Principal, instance_id: int, source: Version,
         target: Version, reason: str | None) -> InstancePlan:
    """Migrate one instance in ``session``: for real when ``reason`` is not None (the caller commits
    or rolls back), else on a throwaway copy (a plan)."""
    for_real = reason is not None
    row = session.get(ProcessInstance, instance_id)
    result = InstancePlan(instance_id)
    if row is None or not actor.sees_tenant(row.tenant):
        return _refused(result, "not_found", id=instance_id)
    result.business_key, result.state = row.business_key, row.state
    result.process_key, result.parent_id = row.process_key, row.parent_id
    if row.definition_id != source.id:
        return _refused(result, "not_source", id=instance_id, version=row.version)
    if row.state in FINAL_STATES:
        return _refused(result, "ended", id=instance_id, state=row.state)
    root_id = row.root_id if row.parent_id is not None else row.id
    if for_real:
        run = InstanceRun.open(platform, session, root_id)
        root, workflow = run.row, run.workflow
        row = session.get(ProcessInstance, instance_id)
    else:
        root = session.get(ProcessInstance, root_id)
        workflow = workflow_from_json(root.workflow_json, platform.specs_for(session, root))
    if row.definition_id != source.id or row.state in FINAL_STATES:  # changed while we waited for the lock
        return _refused(result, "not_source", id=instance_id, version=row.version)

    overrides = dict(root.spec_overrides or {})
    if row is root:
        top_id = target.id
    else:
        top_id = root.definition_id
        overrides[row.process_key] = target.id
    new_spec, new_subs = platform.specs_for(session, root, top_id, overrides)
    scope = None if row is root else row.call_task_id
    moves = _move(workflow, new_spec, new_subs, scope, result)
    if not result.ok:
        return result
    before = {"definition_id": row.definition_id, "version": row.version}
    if for_real:
        _apply(moves)
        try:
            workflow_from_json(workflow_to_json(workflow), (new_spec, new_subs))
        except Exception as exc:  # never save what the next load could not read
            return _refused(result, "cannot_load", detail=f"{exc.__class__.__name__}: {exc}")
        if row is root:
            root.definition_id, root.version = target.id, target.version
        else:
            root.spec_overrides = overrides
        _follow_called(session, root)
        run.save()
        _retitle_tasks(session, root, workflow)
        _retag_tokens(session, root)
        audit.record(session, row.id, actor.username, "instance.migrated", data={
            "from_definition_id": before["definition_id"], "from_version": before["version"],
            "to_definition_id": target.id, "to_version": target.version, "reason": reason,
            "mapping": {e.element_id: e.target_id for e in result.elements},
            "root_id": root.id if row is not root else None,
        }, at=platform.clock.now())
        result.migrated = True
        result.state = row.state
    else:
        _apply(moves)
        try:
            workflow_from_json(workflow_to_json(workflow), (new_spec, new_subs))
        except Exception as exc:
            return _refused(result, "cannot_load", detail=f"{exc.__class__.__name__}: {exc}")
    return result


@dataclass
class _Move:
    workflow: Any
    spec: Any
    diff: WorkflowDiff
    top: Any


def _move(workflow: BpmnWorkflow, new_spec: Any, new_subs: dict[str, Any], scope: str | None,
          result: InstancePlan) -> list[_Move]:
    """Diff every (sub)workflow whose spec the move changes; refusals and live elements go in ``result``."""
    moves = []
    parts = [(workflow, new_spec)] + [(sp, new_subs.get(sp.spec.name)) for sp in workflow.subprocesses.values()]
    for wf, spec in parts:
        if spec is None:
            if any(t.state & LIVE for t in wf.tasks.values()):
                _refused(result, "lost_process", element=wf.spec.bpmn_name or wf.spec.name)
            continue
        if spec is wf.spec:
            continue
        spec_diff = SpecDiff(SERIALIZER.registry, wf.spec, spec)
        diff = WorkflowDiff(wf, spec_diff)
        for task in wf.tasks.values():
            _check(workflow, task, spec_diff, scope, result)
        moves.append(_Move(wf, spec, diff, workflow))
    if not moves:  # nothing differs (e.g. the same spec bundled twice): still list where it stands
        for wf, _spec in parts:
            for task in wf.tasks.values():
                _check(workflow, task, None, scope, result)
    return moves


def _check(workflow: BpmnWorkflow, task: Any, spec_diff: SpecDiff | None, scope: str | None,
           result: InstancePlan) -> None:
    spec = task.task_spec
    element = getattr(spec, "bpmn_id", None)
    if element is None or not task.state & LIVE:
        return
    kind = token_kind(task)
    if task.state == TaskState.READY and kind == "listener":
        return  # a boundary event not armed (tokens.py counts it so too)
    match = spec_diff.alignment.get(spec) if spec_diff is not None else spec
    changes = spec_diff.comparisons.get(spec, []) if spec_diff is not None else []
    definition = getattr(spec, "event_definition", None)
    name = getattr(spec, "bpmn_name", None) or element
    status = "same"
    if match is None:
        status = "refused"
        if isinstance(definition, TimerEventDefinition):
            _refused(result, "lost_timer", element=name)
        elif isinstance(definition, MessageEventDefinition) and kind == "listener":
            _refused(result, "lost_listener", element=name)
        else:
            _refused(result, "lost_token", element=name)
    elif isinstance(definition, TimerEventDefinition) and task.state == TaskState.WAITING and (
            "event_definition" in changes
            or getattr(getattr(match, "event_definition", None), "expression", None) != definition.expression):
        status = "refused"
        _refused(result, "timer_changed", element=name)
    elif _changed(changes):
        status = "changed"
    if owning_call(workflow, task) == scope:
        result.elements.append(LiveElement(element, getattr(spec, "bpmn_name", None), kind,
                                           getattr(match, "bpmn_id", None), status))


def _changed(changes: list[str] | None) -> bool:
    """A step changed for its reader: anything but the flows coming into it (a step inserted
    before it changes those, not the step)."""
    return any(c != "inputs" for c in changes or ())


def _apply(moves: list[_Move]) -> None:
    """SpiffWorkflow's migrate_workflow, keeping what a reset would lose: a waiting timer's due
    time and a live task's data (the task ids stay, so inbox rows and timer jobs stay too)."""
    for move in moves:
        kept = {task.id: (copy.deepcopy(task.internal_data), copy.deepcopy(task.data))
                for task in move.workflow.tasks.values() if task.state & (TaskState.READY | TaskState.WAITING)}
        migrate_workflow(move.diff, move.workflow, move.spec)
        for task_id, (internal, data) in kept.items():
            task = move.workflow.tasks.get(task_id)
            if task is not None:
                task.internal_data = internal
                task.data = data
    if moves:
        top = moves[0].top
        subs = dict(top.subprocess_specs)
        for move in moves:
            if move.workflow is not top:
                subs[move.workflow.spec.name] = move.spec
        top.subprocess_specs = subs


def _follow_called(session: Session, root: ProcessInstance) -> None:
    """The called rows say the version their run now has (a migration's choice or the one bound)."""
    for called in session.scalars(select(ProcessInstance).where(ProcessInstance.root_id == root.id)):
        if called.state in FINAL_STATES:
            continue
        definition_id = called_definition_id(session, root, called.process_key)
        if definition_id is not None and definition_id != called.definition_id:
            definition = session.get(ProcessDefinition, definition_id)
            called.definition_id, called.version = definition.id, definition.version


def _retitle_tasks(session: Session, root: ProcessInstance, workflow: BpmnWorkflow) -> None:
    """An open task keeps its row; its title (and element id) follow the step it now is."""
    from engine.runtime.workflow import find_task

    for task_row in session.scalars(select(HumanTask).where(HumanTask.instance_id == root.id,
                                                            HumanTask.state == "open")):
        task = find_task(workflow, task_row.spiff_task_id)
        if task is not None:
            spec = task.task_spec
            title = spec.bpmn_name or spec.bpmn_id or spec.name
            if task_row.title != title:
                task_row.title = title
            if spec.bpmn_id and task_row.element_id != spec.bpmn_id:  # matched by place, not by id
                task_row.element_id = spec.bpmn_id


def _retag_tokens(session: Session, root: ProcessInstance) -> None:
    """Tokens kept by the save still name the old version: point them at their row's."""
    rows = [root, *session.scalars(select(ProcessInstance).where(ProcessInstance.root_id == root.id))]
    session.flush()
    for owner in rows:
        session.execute(update(InstanceToken).where(InstanceToken.instance_id == owner.id,
                                                    InstanceToken.definition_id != owner.definition_id)
                        .values(definition_id=owner.definition_id))



def plan_lines(found: Plan) -> list[str]:
    """The plan as plain English lines (the command line prints them)."""
    s, t = found.source, found.target
    lines = [f"{s.key}: version {s.version} -> version {t.version}", "element mapping:"]
    for m in found.mapping:
        target = m.target_id or "-"
        note = f" ({', '.join(m.changes)})" if m.changes else ""
        lines.append(f"  {m.element_id} -> {target}  [{m.status}{note}]")
    for element_id, _name in found.added:
        lines.append(f"  (new) -> {element_id}")
    lines.append(f"instances: {len(found.instances)}, movable {found.movable}, refused {found.refused}")
    for item in found.instances:
        at = ", ".join(f"{e.element_id}->{e.target_id or '-'}" for e in item.elements)
        state = "ok" if item.ok else "refused: " + "; ".join(r.message for r in item.refusals)
        lines.append(f"  instance {item.instance_id} [{at}] {state}")
    return lines

"""Deploy BPMN and DMN files: validate everything first, then version by content.

Redeploying unchanged files creates nothing; a process whose spec or file changed gets
version N+1, and running instances keep the version they started with.

A process version holds copies of the decision tables it uses (SpiffWorkflow embeds them when
it parses the BPMN). So a deployment that changes a decision also stores a new version of every
process whose latest version uses that decision, rebuilt from its deployed BPMN file with the
new table, in the same transaction: instances started afterwards take the new table, running
ones keep theirs. The answer says so: each decision lists the process versions it ``affects``,
each process the decision versions it ``decisions`` uses (docs/engine.md, "Decisions (DMN) and
their versions").
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only

from engine.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from engine.models import DecisionDefinition, Deployment, DeploymentFile, ProcessDefinition
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.definitions.parsing import ParsedProcess, ParseResult
    from engine.platform import Platform

MAX_FILES = 100


def lint(platform: Platform, files: dict[str, bytes]) -> ParseResult:
    """Parse and check the files against what is deployed; deploys nothing."""
    from engine.definitions.parsing import parse_files

    if not files:
        raise BadRequest("no files were given")
    if len(files) > MAX_FILES:
        raise BadRequest("at most %(max)s files can be deployed at once", max=MAX_FILES)
    with platform.Session() as session:
        known = known_files(session, exclude=set(files))
        deployed = latest_process_files(session)
    return parse_files(files, form_keys=set(platform.forms), operators=platform.services.names(),
                       known_files=known, redeploy=deployed)


def deploy(platform: Platform, actor: Principal, files: dict[str, bytes]) -> dict[str, Any]:
    if not (actor.is_admin or "designer" in actor.groups):
        raise Forbidden("only designers and administrators may deploy")
    result = lint(platform, files)
    if result.problems:  # errors only: warnings do not refuse a deployment
        raise ValidationFailed(
            "%(count)s problem(s) found; nothing was deployed",
            {"problems": [p.as_dict() for p in result.problems]}, count=len(result.problems),
        )
    try:
        with platform.transaction() as session:
            summary = _store(platform, session, actor, files, result)
    except IntegrityError:
        # another deployment stored the same key's next version between our read and our write
        raise Conflict("another deployment stored a new version at the same time; nothing was "
                       "deployed, deploy again") from None
    platform.versions_deployed([p["key"] for p in summary["processes"] if p["new"]])
    if result.warnings:
        summary["warnings"] = [w.as_dict() for w in result.warnings]
    return summary


def plan(platform: Platform, files: dict[str, bytes]) -> dict[str, Any]:
    """What deploying the files would do, without deploying: the lint's problems and, when there
    are none, the processes and decisions shaped as in ``deploy``'s answer without versions
    (``new``: would get a new version; a decision ``affects`` the processes it would version)."""
    result = lint(platform, files)
    answer: dict[str, Any] = {"problems": [p.as_dict() for p in result.problems], "processes": [],
                              "decisions": []}
    if result.warnings:
        answer["warnings"] = [w.as_dict() for w in result.warnings]
    with platform.Session() as session:
        for p in result.processes:
            new = _latest_hash(session, ProcessDefinition, p.key) != p.content_hash
            if new or p.rebuilt_from is None:
                item: dict[str, Any] = {"key": p.key, "new": new}
                if p.rebuilt_from is not None:
                    item["rebuilt"] = True
                if p.decisions:
                    item["decisions"] = [{"key": key} for key in p.decisions]
                answer["processes"].append(item)
        for d in result.decisions:
            new = _latest_hash(session, DecisionDefinition, d.key) != d.content_hash
            affects = [{"key": p["key"]} for p in answer["processes"]
                       if new and p["new"] and {"key": d.key} in p.get("decisions", [])]
            answer["decisions"].append({"key": d.key, "new": new, "affects": affects})
    return answer


def _store(platform: Platform, session: Session, actor: Principal, files: dict[str, bytes],
           result: ParseResult) -> dict[str, Any]:
    now = platform.clock.now()
    new_processes = [p for p in result.processes if _latest_hash(session, ProcessDefinition, p.key) != p.content_hash]
    new_decisions = [d for d in result.decisions
                     if _latest_hash(session, DecisionDefinition, d.key) != d.content_hash]
    # a process rebuilt for a decision is only mentioned when it gets a new version
    listed = [p for p in result.processes if p.rebuilt_from is None or p in new_processes]
    summary: dict[str, Any] = {"deployment_id": None, "processes": [], "decisions": []}
    if not new_processes and not new_decisions:
        summary["processes"] = [_unchanged_process(session, p) for p in listed]
        summary["decisions"] = [_unchanged(session, DecisionDefinition, d.key) | {"affects": []}
                                for d in result.decisions]
        return summary
    deployment = Deployment(deployed_at=now, deployed_by=actor.username)
    session.add(deployment)
    stored = {name: _file(deployment, name, data) for name, data in files.items()}
    session.flush()
    for d in result.decisions:
        if d not in new_decisions:
            summary["decisions"].append(_unchanged(session, DecisionDefinition, d.key) | {"affects": []})
            continue
        version = _next_version(session, DecisionDefinition, d.key)
        session.add(DecisionDefinition(key=d.key, version=version, name=d.name, deployment_id=deployment.id,
                                       file_id=stored[d.file].id, content_hash=d.content_hash, deployed_at=now))
        summary["decisions"].append({"key": d.key, "version": version, "new": True, "affects": []})
    session.flush()
    for p in listed:
        if p not in new_processes:
            summary["processes"].append(_unchanged_process(session, p))
            continue
        file_id = stored[p.file].id if p.rebuilt_from is None else _deployed_file_id(session, p)
        version = _next_version(session, ProcessDefinition, p.key)
        session.add(ProcessDefinition(
            key=p.key, version=version, name=p.name, deployment_id=deployment.id, file_id=file_id,
            content_hash=p.content_hash, spec_json=p.spec_json, starter_groups=p.starter_groups,
            start_form_key=p.start_form_key, message_starts=p.message_starts, deployed_at=now,
        ))
        item: dict[str, Any] = {"key": p.key, "version": version, "new": True}
        if p.rebuilt_from is not None:
            item["rebuilt"] = True
        if p.decisions:
            item["decisions"] = decision_versions(session, p.decisions, deployment.id)
        summary["processes"].append(item)
    for decision in summary["decisions"]:
        if decision["new"]:
            decision["affects"] = [{"key": p["key"], "version": p["version"]} for p in summary["processes"]
                                   if p["new"] and decision["key"] in {d["key"] for d in p.get("decisions", [])}]
    summary["deployment_id"] = deployment.id
    return summary


def _deployed_file_id(session: Session, p: ParsedProcess) -> int:
    """The BPMN file of the process's latest version, which it was rebuilt from; refused when
    another deployment changed that process since the lint read it."""
    row = session.execute(
        select(ProcessDefinition.file_id, DeploymentFile.sha256)
        .join(DeploymentFile, DeploymentFile.id == ProcessDefinition.file_id)
        .where(ProcessDefinition.key == p.key).order_by(ProcessDefinition.version.desc()).limit(1)
    ).first()
    if row is None or row.sha256 != p.rebuilt_from:
        raise Conflict("process '%(process_key)s' was deployed again while this deployment was checked; "
                       "nothing was deployed, deploy again", process_key=p.key)
    return row.file_id


def decision_versions(session: Session, keys: list[str], deployment_id: int) -> list[dict[str, Any]]:
    """The version of each decision a process version of this deployment holds: the latest one
    deployed up to that deployment (every deployment parses with the latest deployed files)."""
    found = []
    for key in keys:
        version = session.scalar(select(func.max(DecisionDefinition.version))
                                 .where(DecisionDefinition.key == key,
                                        DecisionDefinition.deployment_id <= deployment_id))
        if version is not None:
            found.append({"key": key, "version": version})
    return found


def _unchanged_process(session: Session, p: ParsedProcess) -> dict[str, Any]:
    row = session.scalar(
        select(ProcessDefinition).options(load_only(ProcessDefinition.id, ProcessDefinition.version,
                                                    ProcessDefinition.deployment_id))
        .where(ProcessDefinition.key == p.key).order_by(ProcessDefinition.version.desc()).limit(1))
    item: dict[str, Any] = {"key": p.key, "version": row.version, "new": False}
    if p.decisions:
        item["decisions"] = decision_versions(session, p.decisions, row.deployment_id)
    return item


def _file(deployment: Deployment, name: str, data: bytes) -> DeploymentFile:
    row = DeploymentFile(filename=name, kind=name.rsplit(".", 1)[-1].lower(),
                         sha256=hashlib.sha256(data).hexdigest(), content=data.decode("utf-8"))
    deployment.files.append(row)
    return row


def _latest(session: Session, model, key: str):
    return session.scalar(
        select(model).options(load_only(model.id, model.key, model.version, model.content_hash))
        .where(model.key == key).order_by(model.version.desc()).limit(1)
    )


def _latest_hash(session: Session, model, key: str) -> str | None:
    row = _latest(session, model, key)
    return row.content_hash if row is not None else None


def _next_version(session: Session, model, key: str) -> int:
    return int(session.scalar(select(func.max(model.version)).where(model.key == key)) or 0) + 1


def _unchanged(session: Session, model, key: str) -> dict[str, Any]:
    row = _latest(session, model, key)
    return {"key": key, "version": row.version, "new": False}


def latest_process_files(session: Session) -> dict[str, str]:
    """Each deployed process and the file name of its latest version."""
    latest_ids = select(func.max(ProcessDefinition.id)).group_by(ProcessDefinition.key)
    return dict(session.execute(
        select(ProcessDefinition.key, DeploymentFile.filename)
        .join(DeploymentFile, DeploymentFile.id == ProcessDefinition.file_id)
        .where(ProcessDefinition.id.in_(latest_ids))
    ).all())


def known_files(session: Session, exclude: set[str]) -> dict[str, bytes]:
    """The files of the latest version of every deployed process and decision."""
    known: dict[str, bytes] = {}
    for model in (ProcessDefinition, DecisionDefinition):
        latest_ids = select(func.max(model.id)).group_by(model.key)
        rows = session.execute(
            select(DeploymentFile.filename, DeploymentFile.content)
            .join(model, model.file_id == DeploymentFile.id).where(model.id.in_(latest_ids))
        ).all()
        for filename, content in rows:
            if filename not in exclude:
                known[filename] = content.encode("utf-8")
    return known


def processes_using(platform: Platform, decision_key: str) -> list[dict[str, Any]]:
    """The processes whose latest version calls the decision (directly or through a process it
    calls), each with that version: deploying a new version of the decision versions them."""
    from engine.definitions.parsing import decisions_by_process

    with platform.Session() as session:
        latest = dict(session.execute(select(ProcessDefinition.key, func.max(ProcessDefinition.version))
                                      .group_by(ProcessDefinition.key)).all())
        files = {name: data for name, data in known_files(session, exclude=set()).items()
                 if name.lower().endswith(".bpmn")}
    uses = decisions_by_process(files)
    return [{"key": key, "version": latest[key]} for key in sorted(latest) if decision_key in uses.get(key, ())]


def decision_file(platform: Platform, key: str, version: int | None = None) -> dict[str, Any]:
    """A deployed decision's file to edit: its latest version, or ``version``; NotFound if none."""
    with platform.Session() as session:
        latest = session.scalar(select(func.max(DecisionDefinition.version)).where(DecisionDefinition.key == key))
        row = session.scalar(select(DecisionDefinition).where(DecisionDefinition.key == key,
                                                              DecisionDefinition.version == (version or latest)))
        if row is None:
            if version:
                raise NotFound("decision '%(key)s' has no version %(version)s deployed", key=key, version=version)
            raise NotFound("decision '%(key)s' has no version deployed", key=key)
        stored = session.get(DeploymentFile, row.file_id)
        return {"key": row.key, "version": row.version, "latest": latest, "name": row.name,
                "filename": stored.filename, "xml": stored.content, "deployed_at": row.deployed_at}


def definition_file(session: Session, definition: ProcessDefinition) -> DeploymentFile:
    return session.get(DeploymentFile, definition.file_id)

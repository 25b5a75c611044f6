"""Deploy BPMN and DMN files: validate everything first, then version by content.

Redeploying unchanged files creates nothing; a process whose spec or file changed gets
version N+1, and running instances keep the version they started with.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from engine.errors import BadRequest, Forbidden, ValidationFailed
from engine.models import DecisionDefinition, Deployment, DeploymentFile, ProcessDefinition
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.definitions.parsing import ParseResult
    from engine.platform import Platform

MAX_FILES = 100


def lint(platform: Platform, files: dict[str, bytes]) -> ParseResult:
    """Parse and check the files against what is deployed; deploys nothing."""
    from engine.definitions.parsing import parse_files

    if not files:
        raise BadRequest("no files were given")
    if len(files) > MAX_FILES:
        raise BadRequest(f"at most {MAX_FILES} files can be deployed at once")
    with platform.Session() as session:
        known = known_files(session, exclude=set(files))
    return parse_files(files, form_keys=set(platform.forms), operators=platform.services.names(),
                       known_files=known)


def deploy(platform: Platform, actor: Principal, files: dict[str, bytes]) -> dict[str, Any]:
    if not (actor.is_admin or "designer" in actor.groups):
        raise Forbidden("only designers and administrators may deploy")
    result = lint(platform, files)
    if result.problems:
        raise ValidationFailed(
            f"{len(result.problems)} problem(s) found; nothing was deployed",
            {"problems": [p.as_dict() for p in result.problems]},
        )
    with platform.transaction() as session:
        summary = _store(platform, session, actor, files, result)
    platform.versions_deployed([p["key"] for p in summary["processes"] if p["new"]])
    return summary


def _store(platform: Platform, session: Session, actor: Principal, files: dict[str, bytes],
           result: ParseResult) -> dict[str, Any]:
    now = platform.clock.now()
    new_processes = [p for p in result.processes if _latest_hash(session, ProcessDefinition, p.key) != p.content_hash]
    new_decisions = [d for d in result.decisions
                     if _latest_hash(session, DecisionDefinition, d.key) != d.content_hash]
    summary: dict[str, Any] = {"deployment_id": None, "processes": [], "decisions": []}
    if not new_processes and not new_decisions:
        summary["processes"] = [_unchanged(session, ProcessDefinition, p.key) for p in result.processes]
        summary["decisions"] = [_unchanged(session, DecisionDefinition, d.key) for d in result.decisions]
        return summary
    deployment = Deployment(deployed_at=now, deployed_by=actor.username)
    session.add(deployment)
    stored = {name: _file(deployment, name, data) for name, data in files.items()}
    session.flush()
    for p in result.processes:
        if p not in new_processes:
            summary["processes"].append(_unchanged(session, ProcessDefinition, p.key))
            continue
        version = _next_version(session, ProcessDefinition, p.key)
        session.add(ProcessDefinition(
            key=p.key, version=version, name=p.name, deployment_id=deployment.id, file_id=stored[p.file].id,
            content_hash=p.content_hash, spec_json=p.spec_json, starter_groups=p.starter_groups,
            start_form_key=p.start_form_key, message_starts=p.message_starts, deployed_at=now,
        ))
        summary["processes"].append({"key": p.key, "version": version, "new": True})
    for d in result.decisions:
        if d not in new_decisions:
            summary["decisions"].append(_unchanged(session, DecisionDefinition, d.key))
            continue
        version = _next_version(session, DecisionDefinition, d.key)
        session.add(DecisionDefinition(key=d.key, version=version, name=d.name, deployment_id=deployment.id,
                                       file_id=stored[d.file].id, content_hash=d.content_hash, deployed_at=now))
        summary["decisions"].append({"key": d.key, "version": version, "new": True})
    summary["deployment_id"] = deployment.id
    return summary


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


def definition_file(session: Session, definition: ProcessDefinition) -> DeploymentFile:
    return session.get(DeploymentFile, definition.file_id)

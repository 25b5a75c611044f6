"""The designer: upload BPMN/DMN files, edit processes in the bpmn-js modeler, deploy, download.

Every deploy goes through ``engine.deployments``: the engine validates everything first and
deploys nothing on error, so these pages only translate requests and show the problems
(listed, and marked on the diagram when the file is well-formed enough to draw).
"""

from __future__ import annotations

import io
import secrets
import zipfile
from collections import defaultdict
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from engine.definitions import deployments
from engine.errors import EngineError, ValidationFailed
from engine.models import DecisionDefinition, Deployment, DeploymentFile, ProcessDefinition
from engine.queries import catalog as catalog_queries
from forms import describe

from ..error_text import say
from ..errors import error_response
from ..labels import KNOWN_GROUPS
from .form_widgets import localized
from .helpers import pager, platform, principal, require_groups
from .problem_text import localized_problems

bp = Blueprint("designer", __name__, url_prefix="/designer")

KINDS = (".bpmn", ".dmn")
CONTENT_TYPE = "application/xml; charset=utf-8"  # BPMN and DMN files are XML; no IANA type of their own
RECENT_DEPLOYMENTS = 10


# --- list and upload ----------------------------------------------------------------------

@bp.get("/")
@require_groups("designer")
def index():
    with platform().Session() as db:
        paging = pager(_count_keys(db, ProcessDefinition), default_size=20)
        processes = _versions_by_key(db, ProcessDefinition, _page_of_keys(db, ProcessDefinition, paging))
        decisions = _versions_by_key(db, DecisionDefinition, _page_of_keys(db, DecisionDefinition, None))
        recent = _recent_deployments(db)
    return render_template("designer/index.html", processes=processes, decisions=decisions,
                           deployments=recent, pager=paging)


@bp.post("/upload")
@require_groups("designer")
def upload():
    files, error = _uploaded_files()
    if error:
        flash(error, "error")
        return redirect(url_for("designer.index"))
    try:
        summary = deployments.deploy(platform(), principal(), files)
    except ValidationFailed as exc:
        problems = localized_problems(exc.details["problems"])
        return render_template("designer/problems.html", problems=problems,
                               diagrams=_diagrams(files, problems)), 422
    except EngineError as exc:
        flash(say(exc), "error")
        return redirect(url_for("designer.index"))
    return render_template("designer/deployed.html", summary=summary, files=sorted(files))


def _uploaded_files() -> tuple[dict[str, bytes], str | None]:
    """The uploaded files by their base name, or a message saying what is wrong with them."""
    files: dict[str, bytes] = {}
    for storage in request.files.getlist("files"):
        name = (storage.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            continue  # an empty file input sends a part without a name
        if not name.lower().endswith(KINDS):
            return {}, _("Only .bpmn and .dmn files can be uploaded: %(name)s", name=name)
        if name in files:
            return {}, _("The file %(name)s was chosen twice.", name=name)
        files[name] = storage.read()
    if not files:
        return {}, _("Choose one or more BPMN or DMN files to upload.")
    return files, None


def _diagrams(files: dict[str, bytes], problems: list[dict]) -> list[dict[str, Any]]:
    """The uploaded BPMN files well-formed enough to draw, each with its own problems."""
    drawn = []
    for name, data in files.items():
        xml = _drawable_xml(name, data)
        if xml is not None:
            drawn.append({"name": name, "xml": xml, "problems": [p for p in problems if p["file"] == name]})
    return drawn


def _drawable_xml(name: str, data: bytes) -> str | None:
    """A BPMN file's text when it is UTF-8, well-formed XML without a DTD; None otherwise."""
    if not name.lower().endswith(".bpmn") or b"<!DOCTYPE" in data.upper():
        return None
    try:
        text = data.decode("utf-8")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        etree.fromstring(data, parser)
    except (UnicodeDecodeError, etree.LxmlError, ValueError):
        return None
    return text


# --- listing queries ----------------------------------------------------------------------

def _count_keys(db: Session, model) -> int:
    return db.scalar(select(func.count(func.distinct(model.key)))) or 0


def _page_of_keys(db: Session, model, paging) -> list[str]:
    stmt = select(model.key).distinct().order_by(model.key)
    if paging is not None:
        stmt = stmt.offset(paging.offset).limit(paging.size)
    return list(db.scalars(stmt))


def _versions_by_key(db: Session, model, keys: list[str]) -> list[dict[str, Any]]:
    """Each key with its versions (newest first) and the file each version was deployed in."""
    if not keys:
        return []
    rows = db.execute(
        select(model, DeploymentFile.filename, Deployment.deployed_by)
        .options(load_only(model.id, model.key, model.version, model.name, model.deployment_id,
                           model.file_id, model.deployed_at))
        .join(DeploymentFile, DeploymentFile.id == model.file_id)
        .join(Deployment, Deployment.id == model.deployment_id)
        .where(model.key.in_(keys)).order_by(model.key, model.version.desc())
    ).all()
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row, filename, deployed_by in rows:
        grouped[row.key].append({"version": row.version, "name": row.name, "filename": filename,
                                 "deployment_id": row.deployment_id, "deployed_at": row.deployed_at,
                                 "deployed_by": deployed_by})
    return [{"key": key, "name": grouped[key][0]["name"], "versions": grouped[key]} for key in keys]


def _recent_deployments(db: Session) -> list[dict[str, Any]]:
    rows = db.scalars(select(Deployment).order_by(Deployment.id.desc()).limit(RECENT_DEPLOYMENTS)).all()
    names = defaultdict(list)
    for deployment_id, filename in db.execute(
            select(DeploymentFile.deployment_id, DeploymentFile.filename)
            .where(DeploymentFile.deployment_id.in_([d.id for d in rows])).order_by(DeploymentFile.filename)):
        names[deployment_id].append(filename)
    return [{"id": d.id, "deployed_at": d.deployed_at, "deployed_by": d.deployed_by, "files": names[d.id]}
            for d in rows]


# --- downloads ----------------------------------------------------------------------------

@bp.get("/processes/<key>/versions/<int:version>/download")
@require_groups("designer")
def download_process(key: str, version: int):
    return _download_definition(ProcessDefinition, key, version)


@bp.get("/decisions/<key>/versions/<int:version>/download")
@require_groups("designer")
def download_decision(key: str, version: int):
    return _download_definition(DecisionDefinition, key, version)


@bp.get("/deployments/<int:deployment_id>/files/<path:filename>")
@require_groups("designer")
def download_file(deployment_id: int, filename: str):
    with platform().Session() as db:
        row = db.scalar(select(DeploymentFile).where(DeploymentFile.deployment_id == deployment_id,
                                                     DeploymentFile.filename == filename))
        if row is None:
            abort(404)
        return _attachment(row.content.encode("utf-8"), row.filename, CONTENT_TYPE)


@bp.get("/deployments/<int:deployment_id>/download")
@require_groups("designer")
def download_deployment(deployment_id: int):
    """All files of one deployment as a zip, named after the deployment."""
    with platform().Session() as db:
        rows = db.scalars(select(DeploymentFile).where(DeploymentFile.deployment_id == deployment_id)
                          .order_by(DeploymentFile.filename)).all()
        if not rows:
            abort(404)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for row in rows:
                archive.writestr(row.filename, row.content.encode("utf-8"))
    return _attachment(buffer.getvalue(), f"deployment-{deployment_id}.zip", "application/zip")


def _download_definition(model, key: str, version: int) -> Response:
    with platform().Session() as db:
        row = db.scalar(select(model).options(load_only(model.id, model.file_id))
                        .where(model.key == key, model.version == version))
        if row is None:
            abort(404)
        stored = db.get(DeploymentFile, row.file_id)
        return _attachment(stored.content.encode("utf-8"), stored.filename, CONTENT_TYPE)


def _attachment(data: bytes, filename: str, content_type: str) -> Response:
    """The exact stored bytes, saved under the deployed file name (so a re-upload replaces it)."""
    response = Response(data, content_type=content_type)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- the modeler --------------------------------------------------------------------------

@bp.get("/processes/<key>/edit")
@require_groups("designer")
def modeler(key: str):
    """Open the latest version of a process (or ``?version=N``) in the modeler."""
    version = request.args.get("version", type=int)
    with platform().Session() as db:
        latest = db.scalar(select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == key))
        stmt = select(ProcessDefinition).options(load_only(ProcessDefinition.id, ProcessDefinition.key,
                                                           ProcessDefinition.version, ProcessDefinition.name,
                                                           ProcessDefinition.file_id))
        row = db.scalar(stmt.where(ProcessDefinition.key == key, ProcessDefinition.version == (version or latest)))
        if row is None:
            abort(404)
        stored = db.get(DeploymentFile, row.file_id)
        opened = {"key": row.key, "version": row.version, "name": row.name, "latest": latest,
                  "filename": stored.filename, "xml": stored.content}
    return render_template("designer/modeler.html", opened=opened)


@bp.get("/new")
@require_groups("designer")
def new_diagram():
    """A fresh diagram from a minimal valid process: a start event, a task and an end event."""
    process_id = f"process_{secrets.token_hex(3)}"
    xml = render_template("designer/new_process.bpmn", process_id=process_id, name=_("New process"),
                          task_name=_("Review"), start_name=_("Begin"), end_name=_("Finish"))
    opened = {"key": None, "version": None, "name": _("New process"), "latest": None,
              "filename": f"{process_id}.bpmn", "xml": xml}
    return render_template("designer/modeler.html", opened=opened)


@bp.post("/lint")
@require_groups("designer")
def lint_diagram():
    """Validate the modeler's XML without deploying it (JSON in, JSON out)."""
    posted, error = _posted_diagram()
    if error:
        return error
    try:
        result = deployments.lint(platform(), posted)
    except EngineError as exc:
        return error_response(exc.status, exc.code, say(exc), exc.details)
    problems = [p.as_dict() for p in result.problems + result.warnings]  # errors first, each with its severity
    return jsonify(ok=not result.problems, problems=localized_problems(problems),
                   processes=[p.key for p in result.processes])


@bp.post("/deploy")
@require_groups("designer")
def deploy_diagram():
    """Deploy the modeler's XML as a new version; 422 with the problems when it is invalid."""
    posted, error = _posted_diagram()
    if error:
        return error
    try:
        summary = deployments.deploy(platform(), principal(), posted)
    except ValidationFailed as exc:  # errors only: warnings never refuse a deployment
        return jsonify(ok=False, problems=localized_problems(exc.details["problems"])), 422
    except EngineError as exc:
        return error_response(exc.status, exc.code, say(exc), exc.details)
    summary["warnings"] = localized_problems(summary.get("warnings", []), "warning")
    for item in summary["processes"]:
        item["url"] = url_for("designer.modeler", key=item["key"], version=item["version"])
    return jsonify(ok=True, **summary), 201


@bp.get("/catalog.json")
@require_groups("designer")
def catalog():
    """What the modeler's pickers offer, in the page's language: forms with their fields,
    groups, users (names only), service operators, deployed processes and decisions."""
    with platform().Session() as db:
        found = catalog_queries.designer_catalog(db, principal())
    labels = {group: str(label) for group, label in KNOWN_GROUPS}
    groups = sorted(set(labels) | set(found["groups"]))
    return jsonify(
        forms=_forms(),
        groups=[{"id": g, "label": labels.get(g, ""), "known": g in labels} for g in groups],
        users=found["users"],
        operators=sorted(platform().services.names()),
        processes=found["processes"],
        decisions=found["decisions"],
    )


def _forms() -> list[dict[str, Any]]:
    """Each registered form with its fields (name, label, type, required), as forms.describe gives."""
    described = []
    for key, schema in sorted(platform().forms.items()):
        fields = [{"name": f["name"], "label": localized(f.get("label"), default=f["name"]), "type": f["type"],
                   "required": f["required"]} for f in describe(schema)]
        described.append({"key": key, "fields": fields})
    return described


def _posted_diagram() -> tuple[dict[str, bytes], Response | None]:
    """``{"filename": "x.bpmn", "xml": "..."}`` from the modeler, or a 400 answer."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str) or not body["xml"].strip():
        return {}, error_response(400, "bad_request", _("Send the diagram as JSON: {\"filename\", \"xml\"}."))
    name = str(body.get("filename") or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name.lower().endswith(".bpmn") or len(name) > 200:
        return {}, error_response(400, "bad_request", _("The file name must end with .bpmn."))
    return {name: body["xml"].encode("utf-8")}, None

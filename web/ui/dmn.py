"""The decision table editor: open a deployed DMN decision (or a new one) in dmn-js, validate it
and deploy it as a new version.

The engine does the work (``engine.definitions.deployments``): ``plan`` lints and says what a
deploy would version, ``deploy`` stores it. A decision's new version also versions the processes
that use it (their specs hold a copy of the table), and the answer names them.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from engine.definitions import deployments
from engine.errors import EngineError, NotFound, ValidationFailed

from ..error_text import say
from ..errors import error_response
from .helpers import platform, principal, require_groups
from .problem_text import localized_problems

bp = Blueprint("dmn", __name__, url_prefix="/designer/decision")

BUNDLE = Path(__file__).resolve().parent.parent / "static" / "build" / "dmn.js"
MAX_FILENAME = 200


def editor_available() -> bool:
    """The page's bundle (dmn-js) is built by ``make install``; without it only downloads work."""
    return BUNDLE.is_file()


@bp.get("/<key>")
@require_groups("designer")
def editor(key: str):
    """The latest version of a decision (or ``?version=N``) in the decision table editor."""
    try:
        opened = deployments.decision_file(platform(), key, request.args.get("version", type=int))
    except NotFound:
        abort(404)
    users = deployments.processes_using(platform(), key)
    return _page(opened, users)


@bp.get("/new")
@require_groups("designer")
def new_decision():
    """A new decision from a small valid table: one input, one output, one rule."""
    key = f"decision_{secrets.token_hex(3)}"
    xml = render_template("dmn/new_decision.dmn", key=key, name=_("New decision"), input_label=_("Input"),
                          output_label=_("Result"))
    opened = {"key": key, "version": None, "latest": None, "name": _("New decision"),
              "filename": f"{key}.dmn", "xml": xml}
    return _page(opened, [])


def _page(opened: dict, users: list[dict]) -> str:
    return render_template("dmn/editor.html", opened=opened, users=users, available=editor_available(),
                           bundle_version=int(BUNDLE.stat().st_mtime) if editor_available() else 0)


@bp.post("/lint")
@require_groups("designer")
def lint_decision():
    """Validate the editor's XML without deploying; says what a deploy would version."""
    posted, error = _posted_decision()
    if error:
        return error
    try:
        planned = deployments.plan(platform(), posted)
    except EngineError as exc:
        return error_response(exc.status, exc.code, say(exc), exc.details)
    return jsonify(ok=not planned["problems"], **{**planned, "problems": localized_problems(planned["problems"])})


@bp.post("/deploy")
@require_groups("designer")
def deploy_decision():
    """Deploy the editor's XML; 201 with the versions (and the processes it affects), 422 with
    the problems when it is invalid."""
    posted, error = _posted_decision()
    if error:
        return error
    try:
        summary = deployments.deploy(platform(), principal(), posted)
    except ValidationFailed as exc:
        return jsonify(ok=False, problems=localized_problems(exc.details["problems"])), 422
    except EngineError as exc:
        return error_response(exc.status, exc.code, say(exc), exc.details)
    for item in summary["decisions"]:
        item["url"] = url_for("dmn.editor", key=item["key"], version=item["version"])
    for item in summary["processes"]:
        item["url"] = url_for("definitions.version", key=item["key"], version=item["version"])
    return jsonify(ok=True, **summary), 201


def _posted_decision() -> tuple[dict[str, bytes], Response | None]:
    """``{"filename": "x.dmn", "xml": "..."}`` from the editor, or a 400 answer."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str) or not body["xml"].strip():
        return {}, error_response(400, "bad_request", _("Send the decision as JSON: {\"filename\", \"xml\"}."))
    name = str(body.get("filename") or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name.lower().endswith(".dmn") or len(name) > MAX_FILENAME:
        return {}, error_response(400, "bad_request", _("The file name must end with .dmn."))
    return {name: body["xml"].encode("utf-8")}, None

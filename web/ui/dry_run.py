"""The modeler's dry run: POST the diagram and sample data, get back the steps it would take.

The engine lints the diagram like a deployment and runs it in memory (``engine.runtime.dry_run``):
nothing is stored, no service is called, waiting timers fire at once.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from engine.errors import EngineError, ValidationFailed
from engine.runtime.dry_run import dry_run

from ..error_text import say
from ..errors import error_response
from .designer import _posted_diagram
from .helpers import platform, require_groups
from .problem_text import localized_problems

bp = Blueprint("dry_run", __name__, url_prefix="/designer")


@bp.post("/dry-run")
@require_groups("designer")
def run():
    """``{"filename", "xml", "process_key"?, "sample": {"start": {...}, "tasks": {"id": {...}}}}``:
    200 with the steps, 422 with the lint's problems, 400 when the request is malformed."""
    posted, error = _posted_diagram()
    if error:
        return error
    body = request.get_json(silent=True)
    sample = body.get("sample") or {}
    if not isinstance(sample, dict):
        return error_response(400, "bad_request", _("The sample data must be a JSON object."))
    key = body.get("process_key") or None
    try:
        result = dry_run(platform(), posted, key if isinstance(key, str) else None, sample)
    except ValidationFailed as exc:
        return jsonify(ok=False, problems=localized_problems(exc.details["problems"])), 422
    except EngineError as exc:
        return error_response(exc.status, exc.code, say(exc), exc.details)
    return jsonify(ok=True, **result.as_dict())

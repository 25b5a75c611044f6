"""Incidents grouped by error, for supervisors: one line per broken thing with its count and
first and last time seen, opened to its incidents, and "retry all" behind a confirmation
that states the count (engine/queries/incident_groups.py does the grouping and retrying)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from engine.errors import EngineError
from engine.queries import incident_groups

from ..error_text import say
from ..labels import process_label
from .helpers import platform, principal, require_groups
from .instances import when

bp = Blueprint("incidents", __name__, url_prefix="/incidents")

KIND_WORDS = {"service_failed": _l("A call to another system failed"), "timer_failed": _l("A timer failed"),
              "step_failed": _l("A processing step failed")}


@bp.context_processor
def _helpers() -> dict:
    return {"when": when, "kind_words": KIND_WORDS}


def _groups(process_key: str | None = None) -> list[incident_groups.IncidentGroup]:
    with platform().Session() as session:
        return incident_groups.incident_groups(platform(), session, principal(), process_key)


@bp.get("")
@require_groups("supervisor")
def index():
    process_key = (request.args.get("process") or "").strip() or None
    groups = _groups(process_key)
    keys = sorted({g.process_key for g in _groups()}, key=process_label) if process_key else \
        sorted({g.process_key for g in groups}, key=process_label)
    return render_template("incidents/index.html", groups=groups, keys=keys, process_key=process_key,
                           total=sum(g.count for g in groups))


@bp.get("/groups/<key>/retry")
@require_groups("supervisor")
def confirm_retry(key: str):
    with platform().Session() as session:
        group = incident_groups.find_group(platform(), session, principal(), key)
    return render_template("incidents/confirm.html", group=group)


@bp.post("/groups/<key>/retry")
@require_groups("supervisor")
def retry(key: str):
    """Retry each incident of the group on its own; show what was retried and what was not."""
    with platform().Session() as session:
        group = incident_groups.find_group(platform(), session, principal(), key)
    result = incident_groups.retry_group(platform(), principal(), key)
    failures = [(incident_id, instance_id, _say(result.errors.get(incident_id), reason))
                for incident_id, instance_id, reason in result.failed]
    return render_template("incidents/result.html", group=group, result=result, failures=failures)


def _say(error: Exception | None, fallback: str) -> str:
    return say(error) if isinstance(error, EngineError) else fallback

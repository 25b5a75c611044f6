"""Two versions of a process side by side: ``/designer/compare/<key>?a=1&b=2``.

The route only picks the versions and hands their deployed BPMN files (the stored bytes, as the
modeler and the downloads use them) to the page; the page's bundle (``web/frontend/compare``)
draws both with bpmn-js, diffs them with bpmn-js-differ plus TowerFlow's extension properties,
and marks and lists the changes. Designers and supervisors may open it, like the versions list.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import load_only

from engine.definitions.deployments import definition_file
from engine.models import ProcessDefinition

from .helpers import platform, require_groups

bp = Blueprint("compare", __name__, url_prefix="/designer/compare")

PAGE_GROUPS = ("designer", "supervisor")
BUNDLE = Path(__file__).resolve().parent.parent / "static" / "build" / "compare.js"


def bundle_version() -> int:
    """The built bundle's modification time (0 when ``make install`` has not built it)."""
    return int(BUNDLE.stat().st_mtime) if BUNDLE.is_file() else 0


@bp.get("/<key>")
@require_groups(*PAGE_GROUPS)
def versions(key: str):
    """Version ``a`` (the older, by default the one before ``b``) beside ``b`` (by default the
    latest); 404 for an unknown process or version."""
    with platform().Session() as db:
        rows = db.scalars(select(ProcessDefinition)
                          .options(load_only(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.version,
                                             ProcessDefinition.name, ProcessDefinition.file_id,
                                             ProcessDefinition.deployed_at))
                          .where(ProcessDefinition.key == key).order_by(ProcessDefinition.version)).all()
        if not rows:
            abort(404)
        by_version = {row.version: row for row in rows}
        b = _chosen(request.args.get("b"), rows[-1].version, by_version)
        earlier = [v for v in by_version if v < b]
        a = _chosen(request.args.get("a"), earlier[-1] if earlier else b, by_version)
        if a > b:
            a, b = b, a
        sides = [_side(db, by_version[v]) for v in (a, b)]
    return render_template("compare/versions.html", key=key, name=rows[-1].name or key,
                           versions=sorted(by_version, reverse=True), latest=rows[-1].version,
                           older=sides[0], newer=sides[1], bundle_version=bundle_version())


def _chosen(raw: str | None, default: int, known: dict) -> int:
    if raw is None or raw == "":
        return default
    try:
        version = int(raw)
    except ValueError:
        abort(404)
    if version not in known:
        abort(404)
    return version


def _side(db, row: ProcessDefinition) -> dict:
    stored = definition_file(db, row)
    return {"version": row.version, "name": row.name, "filename": stored.filename,
            "deployed_at": row.deployed_at, "xml": stored.content}

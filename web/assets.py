"""Front-end libraries from the npm registry, served from node_modules under /vendor/, and
the pages' bundles built from web/frontend/ into web/static/build/.

Both come from ``make install`` (npm ci, then the esbuild build), never committed. When they
are missing the pages still work and say so plainly instead of drawing diagrams and charts.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, abort, send_from_directory

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
BUILD = Path(__file__).resolve().parent / "static" / "build"

VENDOR_FILES = {
    "bpmn-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "bpmn-font/css/bpmn.css": "bpmn-js/dist/assets/bpmn-font/css/bpmn.css",
    "echarts.js": "echarts/dist/echarts.min.js",
}
FONT_DIR = "bpmn-js/dist/assets/bpmn-font/font"
BUNDLES = ("modeler.js", "modeler.css")  # web/static/build/, served as static files

bp = Blueprint("vendor", __name__)


def missing_assets() -> list[str]:
    """The npm files and built bundles the pages need that are not there."""
    missing = [path for path in VENDOR_FILES.values() if not (NODE_MODULES / path).is_file()]
    return missing + [f"web/static/build/{name}" for name in BUNDLES if not (BUILD / name).is_file()]


def built_version(name: str) -> int:
    """A built file's modification time, for its URL: a rebuilt bundle is never taken from a cache."""
    path = BUILD / name
    return int(path.stat().st_mtime) if path.is_file() else 0


@bp.get("/vendor/<path:name>")
def vendor(name: str):
    if name in VENDOR_FILES:
        relative = Path(VENDOR_FILES[name])
        return send_from_directory(NODE_MODULES / relative.parent, relative.name, max_age=86400)
    if name.startswith("bpmn-font/font/"):
        return send_from_directory(NODE_MODULES / FONT_DIR, name.rsplit("/", 1)[-1], max_age=86400)
    abort(404)


def register_assets(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def _assets():
        return {"missing_assets": missing_assets(), "built_version": built_version}

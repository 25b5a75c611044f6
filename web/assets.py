"""Front-end libraries from the npm registry, served from node_modules under /vendor/.

They are installed by ``make install`` (npm), never committed. When they are missing the
pages still work and say so plainly instead of drawing diagrams and charts.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, abort, send_from_directory

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"

VENDOR_FILES = {
    "bpmn-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "bpmn-modeler.js": "bpmn-js/dist/bpmn-modeler.production.min.js",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "bpmn-font/css/bpmn.css": "bpmn-js/dist/assets/bpmn-font/css/bpmn.css",
    "echarts.js": "echarts/dist/echarts.min.js",
}
FONT_DIR = "bpmn-js/dist/assets/bpmn-font/font"

bp = Blueprint("vendor", __name__)


def missing_assets() -> list[str]:
    """The npm files the pages need that are not installed."""
    return [path for path in VENDOR_FILES.values() if not (NODE_MODULES / path).is_file()]


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
        return {"missing_assets": missing_assets()}

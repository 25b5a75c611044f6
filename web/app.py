"""Application factory."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from engine.platform import Platform

DATABASE_INT_MAX = 2**31 - 1  # the largest id the id columns hold (INTEGER on PostgreSQL)


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a number no database can hold is a 404, not a 500 from the driver."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002  (werkzeug's own parameter name)
        kwargs.setdefault("max", DATABASE_INT_MAX)
        super().__init__(map, *args, **kwargs)


def create_app(config: dict[str, Any] | None = None, platform: Platform | None = None) -> Flask:
    """Build the app; ``platform`` lets tests and the CLI share one engine object."""
    app = Flask(__name__)
    app.url_map.converters["int"] = IdConverter
    app.config.update(
        DATABASE_URL=os.environ.get("TOWERFLOW_DATABASE_URL"),
        START_CLOCK=False,
        MAX_CONTENT_LENGTH=60 * 1024 * 1024,
        API_TITLE="TowerFlow API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    app.extensions["towerflow"] = platform or build_platform(app.config.get("DATABASE_URL"))

    from .api import register_api
    from .errors import register_error_handlers
    from .ui import register_ui

    register_ui(app, api_blueprints=register_api(app))
    register_error_handlers(app)

    if app.config["START_CLOCK"]:
        from .clock import start_clock

        start_clock(app.extensions["towerflow"])
    return app


def build_platform(url: str | None = None, **kwargs: Any) -> Platform:
    """The platform with the project's forms and handlers registered."""
    import handlers  # noqa: F401  (registers the service handlers)
    from engine.services import registry
    from forms import FORMS

    return Platform(url, forms=FORMS, services=registry, **kwargs)

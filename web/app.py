"""Application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from engine.platform import Platform
from engine.settings import Settings

DATABASE_INT_MAX = 2**31 - 1  # the largest id the id columns hold (INTEGER on PostgreSQL)


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a number no database can hold is a 404, not a 500 from the driver."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002  (werkzeug's own parameter name)
        kwargs.setdefault("max", DATABASE_INT_MAX)
        super().__init__(map, *args, **kwargs)


def create_app(config: dict[str, Any] | None = None, platform: Platform | None = None,
               settings: Settings | None = None) -> Flask:
    """Build the app; ``platform`` lets tests and the CLI share one engine object. Without one,
    the platform is built from ``settings`` (read from the environment when not given)."""
    app = Flask(__name__)
    app.url_map.converters["int"] = IdConverter
    app.config.update(
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
    platform = platform or build_platform(settings or Settings.from_env())
    app.extensions["towerflow"] = platform
    if platform.settings.secret_key and not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = platform.settings.secret_key

    from .health import register_health
    from .logs import register_request_ids
    from .metrics import register_metrics

    register_request_ids(app)  # first: every later hook and log line sees the request id
    register_metrics(app, platform)
    register_health(app)

    from .api import register_api
    from .errors import register_error_handlers
    from .security import register_security
    from .ui import register_ui

    register_ui(app, api_blueprints=register_api(app))
    register_error_handlers(app)
    register_security(app, platform.settings.cookie_secure)

    if app.config["START_CLOCK"]:
        from .clock import start_clock

        start_clock(platform, platform.settings.clock_tick)
    return app


def build_platform(settings: Settings | str | None = None, **kwargs: Any) -> Platform:
    """The composition root: the engine with this project's forms, service handlers, the tower
    plug-in (its tables and the demand mirror) and the migrations, all registered by name."""
    import handlers
    import migrations
    from forms import FORMS
    from tower.plugin import PLUGIN

    kwargs.setdefault("services", handlers.registry)
    plugins = [PLUGIN, *kwargs.pop("plugins", ())]
    return Platform(settings, forms=FORMS, plugins=plugins, migrations=migrations.LOCATION, **kwargs)

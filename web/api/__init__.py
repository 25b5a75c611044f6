"""The REST API under /api/v1, described by flask-smorest at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api

from engine.plugins import import_modules
from web.tower import API_MODULES as TOWER_API

from .context import principal
from .schemas import ErrorSchema


class TowerFlowApi(Api):
    """flask-smorest's Api documenting the platform's own error shape."""

    ERROR_SCHEMA = ErrorSchema


# Each module holds one blueprint ``blp`` mounted at /api/v1 + its ``PREFIX``.
API_MODULES = ("web.api.auth", "web.api.deployments", "web.api.instances", "web.api.tasks", "web.api.messages",
               "web.api.incidents", "web.api.outbox", *TOWER_API, "web.api.files", "web.api.repairs",
               "web.api.migrations")
PUBLIC = {"web.api.auth"}  # everything else needs a token before its body is even read


def register_api(app: Flask) -> list:
    """Register the API blueprints; returns them (the pages exempt them from CSRF)."""
    api = TowerFlowApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    modules = import_modules(API_MODULES, "the REST API")
    for module in modules:
        api.register_blueprint(module.blp, url_prefix=f"/api/v1{module.PREFIX}")
    protected = {module.blp.name for name, module in zip(API_MODULES, modules, strict=True) if name not in PUBLIC}

    @app.before_request
    def _authenticate():
        """A missing or bad token answers 401 before the request body is even looked at."""
        if request.blueprint in protected:
            principal()

    return [module.blp for module in modules]

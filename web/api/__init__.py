"""The REST API under /api/v1, described by flask-smorest at /api/v1/openapi.json."""

from __future__ import annotations

import importlib

from flask import Flask, request
from flask_smorest import Api

from .context import principal
from .schemas import ErrorSchema


class TowerFlowApi(Api):
    """flask-smorest's Api documenting the platform's own error shape."""

    ERROR_SCHEMA = ErrorSchema


# Each module holds one blueprint ``blp`` mounted at /api/v1 + its ``PREFIX``.
API_MODULES = ("auth", "deployments", "instances", "tasks", "messages", "incidents", "outbox", "demands",
               "demand_flow", "files", "difficult_sites")
PUBLIC = {"auth"}  # everything else needs a token before its body is even read


def register_api(app: Flask) -> list:
    """Register the API blueprints; returns them (the pages exempt them from CSRF)."""
    api = TowerFlowApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    modules = [importlib.import_module(f"{__name__}.{name}") for name in API_MODULES]
    for module in modules:
        api.register_blueprint(module.blp, url_prefix=f"/api/v1{module.PREFIX}")
    protected = {module.blp.name for name, module in zip(API_MODULES, modules, strict=True) if name not in PUBLIC}

    @app.before_request
    def _authenticate():
        """A missing or bad token answers 401 before the request body is even looked at."""
        if request.blueprint in protected:
            principal()

    return [module.blp for module in modules]

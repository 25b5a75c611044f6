"""The REST API under /api/v1, described by flask-smorest at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api

from .context import principal
from .schemas import ErrorSchema


class TowerFlowApi(Api):
    """flask-smorest's Api documenting the platform's own error shape."""

    ERROR_SCHEMA = ErrorSchema


def register_api(app: Flask) -> list:
    """Register the API blueprints; returns them (the pages exempt them from CSRF)."""
    from . import auth, deployments, incidents, instances, messages, tasks

    api = TowerFlowApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    for module in (auth, deployments, instances, tasks, messages, incidents):
        api.register_blueprint(module.blp, url_prefix=f"/api/v1{module.PREFIX}")
    protected = {module.blp.name for module in (deployments, instances, tasks, messages, incidents)}

    @app.before_request
    def _authenticate():
        """A missing or bad token answers 401 before the request body is even looked at."""
        if request.blueprint in protected:
            principal()

    return [module.blp for module in (auth, deployments, instances, tasks, messages, incidents)]

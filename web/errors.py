"""Every error leaves as JSON ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from engine.errors import EngineError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    return response


def wants_page() -> bool:
    """Pages get HTML errors; the API (and anything asking for JSON) gets JSON."""
    return not request.path.startswith("/api/") and request.accept_mimetypes.accept_html


def error_page(status: int, message: str):
    return render_template("error.html", code=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def _engine_error(exc: EngineError):
        response = error_page(exc.status, exc.message) if wants_page() else \
            error_response(exc.status, exc.code, exc.message, exc.details)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:  # 429: say when to come back
            response = make_response(response)
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        details = data.get("messages") or data.get("errors")
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
                422: "validation_failed"}.get(exc.code, exc.name.lower().replace(" ", "_"))
        message = data.get("message") or exc.description or exc.name
        if wants_page():
            return error_page(exc.code or 500, message)
        return error_response(exc.code or 500, code, message, details)

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def _unstorable_value(exc: Exception):
        """The database refused a value of the request (a NUL character on PostgreSQL, a number out
        of a column's range; SQLite's driver raises OverflowError itself): the request's fault, so
        422 rather than a server error."""
        log.info("a request value the database refuses: %s", getattr(exc, "orig", exc))
        message = "a value in the request cannot be stored or searched for (a NUL character, a number too large?)"
        if wants_page():
            return error_page(422, message)
        return error_response(422, "validation_failed", message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        if wants_page():
            return error_page(500, "the server failed to handle this request")
        return error_response(500, "internal_error", "the server failed to handle this request")

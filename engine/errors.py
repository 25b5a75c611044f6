"""Errors the engine raises; the web layer maps each to an HTTP status."""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base class: carries a stable code, a plain message and optional details."""

    code = "error"
    status = 400

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(EngineError):
    code = "bad_request"
    status = 400


class NotFound(EngineError):
    code = "not_found"
    status = 404


class Forbidden(EngineError):
    code = "forbidden"
    status = 403


class Conflict(EngineError):
    code = "conflict"
    status = 409


class ValidationFailed(EngineError):
    """Input was checked and refused; details lists every problem found."""

    code = "validation_failed"
    status = 422

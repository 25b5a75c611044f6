"""Errors the engine raises; the web layer maps each to an HTTP status.

A message is English. Where it names values, the raise site gives a template with named
``%(name)s`` placeholders and the values as keyword arguments: ``NotFound("process instance
%(id)s does not exist", id=18)``. ``message`` is the filled-in English text (logs, the CLI, the
API in English); ``template`` and ``params`` let the web layer say the same in the reader's
language (web/error_text.py) without the engine knowing about languages.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base class: carries a stable code, a plain message and optional details."""

    code = "error"
    status = 400

    def __init__(self, message: str, details: Any = None, **params: Any):
        text = message % params if params else message
        super().__init__(text)
        self.message = text
        self.template = message
        self.params = params
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

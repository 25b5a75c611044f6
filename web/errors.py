"""Every error leaves as JSON ``{"error": {"code", "message", "details"}}`` (the API) or as the
error page (pages), in the reader's language: the page's session language, the API's
``Accept-Language`` (web/i18n.py). A page never shows a traceback or the engine's internals."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from engine.db import unavailable_kind
from engine.errors import EngineError

from .error_text import english, say, say_text

log = logging.getLogger(__name__)

# What each status means to a reader, for the page's heading (and the API's message when the
# error came from werkzeug with its own English description).
STATUS_TITLES = {
    400: _l("The request cannot be handled"),
    401: _l("Please sign in"),
    403: _l("You may not open this page"),
    404: _l("Not found"),
    405: _l("This action is not possible here"),
    409: _l("This cannot be done now"),
    413: _l("The upload is too large"),
    422: _l("The input has problems"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong on the server"),
    503: _l("Temporarily unavailable"),
}
STATUS_TEXTS = {
    400: _l("The request was not understood. Go back and try again."),
    401: _l("Sign in to continue."),
    403: _l("Your account does not have the rights for this page or action."),
    404: _l("The page or record you asked for does not exist, or you may not see it."),
    405: _l("This page does not accept this kind of request."),
    409: _l("Someone else changed this in the meantime. Reload the page and try again."),
    413: _l("The file or form is larger than the server accepts."),
    422: _l("The input cannot be used. Go back, correct it and try again."),
    429: _l("Please wait a moment and try again."),
    500: _l("The server could not handle this request. Nothing was changed; please try again later."),
    503: _l("The server cannot reach its database at the moment. Please try again in a few seconds; if you "
            "were saving something, reload the page first to see whether it was saved."),
}

# A database that cannot be reached (down, restarting, cut off) or has no disk space left: 503 with
# Retry-After, the API's code and English message, the page's title and text (RELIABILITY.md, 6).
DATABASE_FAULTS = {
    "unavailable": (5, "database_unavailable",
                    "the database cannot be reached at the moment; try again in a few seconds (a request "
                    "answered 503 was not carried out, unless its commit was under way at that very moment)",
                    STATUS_TITLES[503], STATUS_TEXTS[503]),
    "full": (60, "storage_full",
             "the server's disk is full, so nothing can be saved; this request was not carried out, try "
             "again later",
             _l("The server's disk is full"),
             _l("Nothing can be saved at the moment because the server's disk is full. Your change was not "
                "saved; please try again later or tell the administrator.")),
}


def error_response(status: int, code: str, message: str, details=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    return response


def wants_page() -> bool:
    """Pages get HTML errors; the API (and anything asking for JSON) gets JSON."""
    return not request.path.startswith("/api/") and request.accept_mimetypes.accept_html


def error_page(status: int, message: str):
    title = STATUS_TITLES.get(status) or STATUS_TITLES[500 if status >= 500 else 400]
    return render_template("error.html", code=status, title=title, message=message), status


def said_details(details: Any) -> Any:
    """The details of a refusal in the reader's language: form rule messages and lint problems."""
    if english() or not isinstance(details, dict):
        return details
    from .ui.problem_text import localized_problems
    from .ui.rule_text import in_locale, translate_messages

    shown = dict(details)
    if isinstance(shown.get("fields"), dict):
        shown["fields"] = translate_messages(shown["fields"], in_locale)
    if isinstance(shown.get("problems"), list) and all(isinstance(p, dict) for p in shown["problems"]):
        shown["problems"] = localized_problems(shown["problems"])
    return shown


def _http_message(exc: HTTPException) -> str:
    """A message the view gave (already in the page's language) or the status's own words; werkzeug's
    English descriptions are never shown."""
    data = getattr(exc, "data", None) or {}
    given = data.get("message")
    if not given and exc.description and exc.description != type(exc).description:
        given = exc.description
    if given:
        return say_text(str(given))
    if english() and not wants_page():
        return exc.description or exc.name
    return str(STATUS_TEXTS.get(exc.code or 500, STATUS_TEXTS[500]))


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def _engine_error(exc: EngineError):
        message = say(exc)
        response = error_page(exc.status, message) if wants_page() else \
            error_response(exc.status, exc.code, message, said_details(exc.details))
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
        message = _http_message(exc)
        if wants_page():
            return error_page(exc.code or 500, message)
        if isinstance(details, dict) and not english():
            from .ui.rule_text import in_locale, translate_messages

            details = translate_messages(details, in_locale)
        return error_response(exc.code or 500, code, message, details)

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def _unstorable_value(exc: Exception):
        """The database refused a value of the request (a NUL character on PostgreSQL, a number out
        of a column's range; SQLite's driver raises OverflowError itself): the request's fault, so
        422 rather than a server error."""
        log.info("a request value the database refuses: %s", getattr(exc, "orig", exc))
        message = "a value in the request cannot be stored or searched for (a NUL character, a number too large?)"
        if wants_page() or not english():
            message = _("A value in the request cannot be stored or searched for (a NUL character, a number "
                        "too large?).")
        if wants_page():
            return error_page(422, message)
        return error_response(422, "validation_failed", message)

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def _database_fault(exc: Exception):
        """The database is down, restarting, cut off or full: the transaction was rolled back, so
        the request was not carried out; say so with 503 and when to come back."""
        kind = unavailable_kind(exc)
        if kind is None:
            return _unexpected(exc)
        log.warning("database %s: %s", kind, getattr(exc, "orig", exc))
        retry_after, code, message, title, text = DATABASE_FAULTS[kind]
        if wants_page():
            response = make_response(_unavailable_page(str(title), str(text)), 503)
        else:
            response = error_response(503, code, message if english() else str(text))
        response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        message = "the server failed to handle this request" if english() else str(STATUS_TEXTS[500])
        if wants_page():
            return error_page(500, str(STATUS_TEXTS[500]))
        return error_response(500, "internal_error", message)


def _unavailable_page(title: str, text: str) -> str:
    """The error page without the page frame: the frame reads the signed-in user from the
    database, which is what just failed (no context processor runs here)."""
    from .i18n import select_locale

    again = request.url if request.method == "GET" else (request.referrer or "/")
    return current_app.jinja_env.get_template("unavailable.html").render(
        lang="zh-CN" if select_locale() == "zh" else "en", title=title, text=text, again=again, code=503)

"""Security policy every response and request passes through (docs/security.md).

- Values no database stores are refused once, early, for every request: a NUL character or a
  lone UTF-16 surrogate in a string, NaN or infinity in JSON. PostgreSQL refuses them with a
  ``DataError`` deep inside a step, SQLite stored some of them; checking them here makes both
  databases answer the same 422 before anything is written.
- Session (and Flask-Login remember) cookies: HttpOnly, SameSite=Lax, Secure when
  ``TOWERFLOW_COOKIE_SECURE`` says the site is served over HTTPS.
- Response headers: a Content-Security-Policy that allows no inline script, no framing, no
  MIME sniffing and a same-origin referrer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request
from flask_babel import gettext as _

from .errors import english, error_page, error_response, wants_page

# Styles: the templates and the libraries (bpmn-js, ECharts, the modeler's panel) set style
# attributes, which CSP counts as inline style; no script is allowed inline. ``data:`` images and
# fonts: the favicon placeholder and bpmn-js's icons; ``blob:`` images: the inbox's photo preview.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
HSTS = "max-age=31536000"  # only sent when the cookies are Secure, i.e. the site is served over HTTPS

# NUL, and surrogates that pair with nothing (json.loads lets "\ud800" through; UTF-8 cannot hold it).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def unstorable(value: Any, where: str = "") -> str | None:
    """Where in ``value`` (a JSON document) the first value no database stores is, or None."""
    if isinstance(value, str):
        return where or "value" if _UNSTORABLE.search(value) else None
    if isinstance(value, float):
        return where or "value" if not math.isfinite(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return inner
            found = unstorable(item, inner)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable(item, f"{where}[{index}]")
            if found:
                return found
    return None


def _request_values() -> Iterator[tuple[str, str]]:
    """(where, text) of everything a request carries that may reach the database, once each."""
    yield "path", request.path
    for key, value in request.args.items(multi=True):
        yield f"query:{key}", _joined(key, value)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            yield f"form:{key}", _joined(key, value)
        for key, upload in request.files.items(multi=True):
            yield f"file:{key}", _joined(key, upload.filename)


def _joined(*parts: object) -> str:
    """A malformed multipart part may come without a name: None counts as empty."""
    return "".join(str(part) for part in parts if part is not None)


def refused_value() -> str | None:
    """Where the current request carries a value no database stores, or None."""
    for where, text in _request_values():
        if _UNSTORABLE.search(text):
            return where
    if request.is_json and request.content_length != 0:
        body = request.get_json(silent=True)  # malformed JSON is the view's to refuse, as before
        found = unstorable(body)
        if found:
            return f"body:{found}"
    return None


def refuse_unstorable() -> Any:
    """before_request: 422, in the shape of web/errors.py's answer to a DataError, changing nothing."""
    where = refused_value()
    if where is None:
        return None
    message = "a value in the request cannot be stored or searched for (a NUL character, a number too large?)"
    if wants_page() or not english():
        message = _("A value in the request cannot be stored or searched for (a NUL character, a number "
                    "too large?).")
    if wants_page():
        return error_page(422, message)
    return error_response(422, "validation_failed", message, {"where": where})


def cookie_policy(secure: bool) -> dict[str, Any]:
    """Flask and Flask-Login cookie settings: never readable by scripts, not sent on cross-site
    POSTs, and only over HTTPS when the site is served so."""
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
    }


def register_security(app: Flask, cookie_secure: bool) -> None:
    """Register after the API's authentication, so a request without a token still gets 401 first."""
    app.config.update(cookie_policy(cookie_secure))
    app.before_request(refuse_unstorable)

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if cookie_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

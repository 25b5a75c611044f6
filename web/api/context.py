"""Request helpers: the platform, the authenticated principal, pagination."""

from __future__ import annotations

from flask import current_app, g, request
from flask_smorest import abort

from engine import identity
from engine.platform import Platform
from engine.principal import Principal


def platform() -> Platform:
    return current_app.extensions["towerflow"]


def principal() -> Principal:
    """The caller, from ``Authorization: Bearer TOKEN``; 401 without a valid token."""
    if "principal" in g:
        return g.principal
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, message="an API token is required: Authorization: Bearer TOKEN")
    found = identity.principal_for_token(platform(), token.strip())
    if found is None:
        abort(401, message="the API token is unknown, revoked or its user is disabled")
    g.principal = found
    return g.principal


def page(args: dict) -> tuple[int, int]:
    """(offset, limit) from ``page`` (1-based) and ``page_size``."""
    size = args.get("page_size", 50)
    return (args.get("page", 1) - 1) * size, size


def listing(items: list, total: int, args: dict) -> dict:
    return {"items": items, "total": total, "page": args.get("page", 1), "page_size": args.get("page_size", 50)}

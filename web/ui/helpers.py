"""Small helpers every page uses: who is signed in, the platform, pagination, roles."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user, login_required

from engine.platform import Platform
from engine.principal import Principal


def platform() -> Platform:
    return current_app.extensions["towerflow"]


def principal() -> Principal:
    return current_user.principal


def require_groups(*groups: str):
    """Only signed-in members of one of ``groups`` (or admins) may open the page."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            actor = principal()
            if not (actor.is_admin or actor.groups & set(groups)):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


@dataclass
class Pager:
    page: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    def url_args(self, page: int) -> dict:
        args = request.args.to_dict()
        args["page"] = page
        return args


MAX_PAGE = 100_000  # deeper than any list goes; bigger numbers only overflow the database


def pager(total: int = 0, default_size: int = 20) -> Pager:
    """The page asked for in the query string (1-based), with a sane size."""
    page = min(MAX_PAGE, max(1, request.args.get("page", 1, type=int) or 1))
    size = min(200, max(1, request.args.get("size", default_size, type=int) or default_size))
    return Pager(page, size, total)

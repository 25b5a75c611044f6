"""User administration for admins: list, add, disable and enable users, set their groups and
tenant, reset passwords.

Every change goes through ``engine.identity``, which checks the input; its problems are shown
next to the field they concern, translated, with everything the admin typed kept. Forms are
plain HTML forms carrying the CSRF token (CSRFProtect checks every POST).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from engine import identity
from engine.errors import Conflict, EngineError, NotFound, ValidationFailed
from engine.models import Tenant, User

from ..labels import KNOWN_GROUP_IDS, KNOWN_GROUPS, group_label
from .helpers import pager, platform, principal, require_groups

bp = Blueprint("admin", __name__, url_prefix="/admin")

@dataclass
class UserInput:
    """What the admin typed, kept to fill the form again when something is refused."""

    username: str = ""
    display_name: str = ""
    tenant: str = ""
    groups: list[str] = field(default_factory=list)
    other_groups: str = ""

    @classmethod
    def from_form(cls) -> UserInput:
        form = request.form
        return cls(form.get("username", "").strip(), form.get("display_name", "").strip(),
                   form.get("tenant", "").strip(), [g for g in form.getlist("groups") if g in KNOWN_GROUP_IDS],
                   form.get("other_groups", "").strip())

    @classmethod
    def of(cls, user: User) -> UserInput:
        known = [g for g in user.group_ids if g in KNOWN_GROUP_IDS]
        other = ", ".join(g for g in user.group_ids if g not in KNOWN_GROUP_IDS)
        return cls(user.username, user.display_name or "", user.tenant or "", known, other)

    @property
    def all_groups(self) -> list[str]:
        typed = [g for g in re.split(r"[\s,;，；]+", self.other_groups) if g]
        return list(dict.fromkeys(self.groups + typed))

    @property
    def tenant_or_none(self) -> str | None:
        return self.tenant or None


# --------------------------------------------------------------------------------------------
# Pages


@bp.get("/users")
@require_groups("admin")
def users():
    query = request.args.get("q", "").strip()
    with platform().Session() as session:
        rows = [_user_row(user) for user in identity.list_users(session)]
    rows = [row for row in rows if _matches(row, query)]
    page = pager(len(rows), default_size=50)
    return render_template("admin/users.html", users=rows[page.offset:page.offset + page.size], pager=page,
                           query=query, group_label=group_label, me=principal().username)


@bp.route("/users/new", methods=["GET", "POST"])
@require_groups("admin")
def new_user():
    typed, errors = UserInput(), {}
    if request.method == "POST":
        typed = UserInput.from_form()
        errors = _add(typed, request.form.get("password", ""))
        if not errors:
            flash(_("User %(name)s was added.", name=typed.username), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/new_user.html", typed=typed, errors=errors, **_form_context()), 422 if errors else 200


@bp.get("/users/<username>")
@require_groups("admin")
def edit_user(username: str):
    return _edit_page(username)


@bp.post("/users/<username>/access")
@require_groups("admin")
def set_access(username: str):
    typed = UserInput.from_form()
    typed.username = username
    errors = _set_access(username, typed)
    if errors:
        return _edit_page(username, typed=typed, errors=errors)
    flash(_("Groups and tenant of %(name)s were saved.", name=username), "success")
    return redirect(url_for("admin.edit_user", username=username))


@bp.post("/users/<username>/password")
@require_groups("admin")
def reset_password(username: str):
    errors = _change(lambda session: identity.set_password(session, username, request.form.get("password", "")))
    if errors:
        return _edit_page(username, password_errors=errors)
    flash(_("The password of %(name)s was reset.", name=username), "success")
    return redirect(url_for("admin.edit_user", username=username))


@bp.post("/users/<username>/disabled")
@require_groups("admin")
def set_disabled(username: str):
    disable = request.form.get("disabled") == "1"
    if disable and username == principal().username:
        flash(_("You cannot disable your own account."), "error")
    else:
        _change(lambda session: identity.set_disabled(session, username, disable))
        message = _("%(name)s is disabled and signed out.", name=username) if disable \
            else _("%(name)s is enabled again.", name=username)
        flash(message, "success")
    return redirect(_back(username))


# --------------------------------------------------------------------------------------------
# Changes


def _add(typed: UserInput, password: str) -> dict[str, list[str]]:
    return _change(lambda session: identity.add_user(session, typed.username, password, typed.all_groups,
                                                     typed.tenant_or_none, display_name=typed.display_name))


def _set_access(username: str, typed: UserInput) -> dict[str, list[str]]:
    if username == principal().username and "admin" not in typed.all_groups:
        return {"groups": [_("You cannot remove the admin group from your own account.")]}

    def change(session):
        identity.set_groups(session, username, typed.all_groups)
        identity.set_tenant(session, username, typed.tenant_or_none)

    return _change(change)


def _change(work) -> dict[str, list[str]]:
    """Run ``work`` in one transaction; refused input comes back as errors per form field."""
    try:
        with platform().transaction() as session:
            work(session)
    except NotFound:
        abort(404)
    except (ValidationFailed, Conflict) as exc:
        return field_errors(exc)
    return {}


# identity's problems (English) -> the form field they concern and the message shown.
_PROBLEMS = (
    (re.compile(r"username must not be empty"), "username", lambda m: _("Enter a username.")),
    (re.compile(r"username must be at most (\d+) characters"), "username",
     lambda m: _("A username has at most %(n)s characters.", n=m[1])),
    (re.compile(r"username may contain only"), "username",
     lambda m: _("A username may contain only letters, digits, '.', '_' and '-'.")),
    (re.compile(r"username '(.*)' is already taken"), "username",
     lambda m: _("The username %(name)s is already taken.", name=m[1])),
    (re.compile(r"username '(.*)' is too close to the existing user '(.*)'"), "username",
     lambda m: _("The username %(name)s differs from the existing user %(other)s only in upper and lower case.",
                 name=m[1], other=m[2])),
    (re.compile(r"password must be at least (\d+) characters"), "password",
     lambda m: _("The password must have at least %(n)s characters.", n=m[1])),
    (re.compile(r"group id '(.*)' must start with a letter"), "groups",
     lambda m: _("The group id %(value)s must start with a letter and contain only letters, digits, '.', '_' "
                 "and '-' (at most 64 characters).", value=m[1])),
    (re.compile(r"tenant '(.*)' must start with a letter"), "tenant",
     lambda m: _("The tenant %(value)s must start with a letter and contain only letters, digits, '.', '_' "
                 "and '-' (at most 64 characters).", value=m[1])),
)


def field_errors(exc: EngineError) -> dict[str, list[str]]:
    """The engine's problems grouped by form field; unknown ones go under ``form``, as they are."""
    problems = exc.details if isinstance(exc.details, list) and exc.details else [exc.message]
    errors: dict[str, list[str]] = {}
    for problem in problems:
        name, message = _translate(str(problem))
        errors.setdefault(name, []).append(message)
    return errors


def _translate(problem: str) -> tuple[str, str]:
    for pattern, name, message in _PROBLEMS:
        match = pattern.search(problem)
        if match:
            return name, message(match)
    return "form", problem


# --------------------------------------------------------------------------------------------
# Page pieces


def _edit_page(username: str, typed: UserInput | None = None, errors: dict | None = None,
               password_errors: dict | None = None):
    with platform().Session() as session:
        try:
            user = identity.get_user(session, username)
        except NotFound:
            abort(404)
        row = _user_row(user)
        tokens = [{"name": t.name, "created_at": t.created_at, "revoked_at": t.revoked_at}
                  for t in identity.list_tokens(session, username)]
        typed = typed or UserInput.of(user)
    status = 422 if errors or password_errors else 200
    return render_template("admin/edit_user.html", user=row, typed=typed, errors=errors or {},
                           password_errors=password_errors or {}, tokens=tokens, me=principal().username,
                           **_form_context()), status


def _form_context() -> dict:
    with platform().Session() as session:
        tenants = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    return {"known_groups": KNOWN_GROUPS, "tenants": tenants, "min_password": identity.MIN_PASSWORD_LENGTH,
            "group_label": group_label}


def _user_row(user: User) -> dict:
    return {"username": user.username, "display_name": user.display_name or "", "groups": user.group_ids,
            "tenant": user.tenant, "disabled": bool(user.disabled), "created_at": user.created_at}


def _matches(row: dict, query: str) -> bool:
    if not query:
        return True
    needle = query.lower()
    haystack = [row["username"], row["display_name"], row["tenant"] or "", *row["groups"],
                *(group_label(g) for g in row["groups"])]
    return any(needle in value.lower() for value in haystack)


def _back(username: str) -> str:
    """Back to the page the button was on: the list (keeping its filters) or the user's page."""
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("admin.edit_user", username=username)

"""User administration for admins: list, add, disable and enable users, set their groups and
tenant, reset passwords, list and revoke a user's API tokens, and read the log of all of these
(``admin_events``, engine/admin_log.py: ``engine.identity`` records each change, naming the admin).

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

from engine import admin_log, identity
from engine.errors import Conflict, EngineError, NotFound, ValidationFailed
from engine.models import Tenant, User

from ..labels import KNOWN_GROUP_IDS, KNOWN_GROUPS, group_label, tenant_label
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
    errors = _change(lambda session: identity.set_password(session, username, request.form.get("password", ""),
                                                           actor=principal().username))
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
        _change(lambda session: identity.set_disabled(session, username, disable, actor=principal().username))
        message = _("%(name)s is disabled and signed out.", name=username) if disable \
            else _("%(name)s is enabled again.", name=username)
        flash(message, "success")
    return redirect(_back(username))


@bp.post("/users/<username>/tokens/<int:token_id>/revoke")
@require_groups("admin")
def revoke_token(username: str, token_id: int):
    """Revoke one of the user's tokens: it stops working at once, in every server process."""
    with platform().transaction() as session:
        try:
            api_token, owner = identity.token_with_owner(session, token_id)
        except NotFound:
            abort(404)
        if owner != username:
            abort(404)
        identity.revoke_token(session, token_id, actor=principal().username)
        name = api_token.name
    flash(_("The API token %(name)s of %(user)s was revoked; it no longer works.",
            name=token_name(name), user=username), "success")
    return redirect(url_for("admin.edit_user", username=username))


@bp.get("/events")
@require_groups("admin")
def events():
    """The log of admin actions, newest first; ``?user=`` keeps those about one user."""
    target = request.args.get("user", "").strip() or None
    with platform().Session() as session:
        page = pager(admin_log.count(session, target), default_size=50)
        rows = [event_row(event) for event in admin_log.recent(session, page.offset, page.size, target)]
    return render_template("admin/events.html", events=rows, pager=page, target=target)


# --------------------------------------------------------------------------------------------
# Changes


def _add(typed: UserInput, password: str) -> dict[str, list[str]]:
    return _change(lambda session: identity.add_user(session, typed.username, password, typed.all_groups,
                                                     typed.tenant_or_none, display_name=typed.display_name,
                                                     actor=principal().username))


def _set_access(username: str, typed: UserInput) -> dict[str, list[str]]:
    if username == principal().username and "admin" not in typed.all_groups:
        return {"groups": [_("You cannot remove the admin group from your own account.")]}

    def change(session):
        identity.set_groups(session, username, typed.all_groups, actor=principal().username)
        identity.set_tenant(session, username, typed.tenant_or_none, actor=principal().username)

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
        now = platform().clock.now()
        tokens = [{"id": t.id, "name": token_name(t.name), "created_at": t.created_at, "expires_at": t.expires_at,
                   "last_used_at": t.last_used_at, "revoked_at": t.revoked_at,
                   "state": identity.token_state(t, now)} for t in identity.list_tokens(session, username)]
        history = [event_row(event) for event in admin_log.recent(session, 0, 10, username)]
        typed = typed or UserInput.of(user)
    status = 422 if errors or password_errors else 200
    return render_template("admin/edit_user.html", user=row, typed=typed, errors=errors or {},
                           password_errors=password_errors or {}, tokens=tokens, history=history,
                           me=principal().username, token_states=TOKEN_STATES, **_form_context()), status


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


# --------------------------------------------------------------------------------------------
# The admin log and tokens in words

# Each action of engine/admin_log.py in the reader's language (a page never shows the code).
ACTION_LABELS = {
    "user.created": lambda: _("Added the user"),
    "user.groups_changed": lambda: _("Changed the groups"),
    "user.tenant_changed": lambda: _("Changed the tenant"),
    "user.password_changed": lambda: _("Reset the password"),
    "user.disabled": lambda: _("Disabled the user"),
    "user.enabled": lambda: _("Enabled the user"),
    "token.created": lambda: _("Created an API token"),
    "token.revoked": lambda: _("Revoked an API token"),
}
TOKEN_STATES = {
    "active": lambda: _("Valid"),
    "expired": lambda: _("Expired"),
    "revoked": lambda: _("Revoked token"),
}
# Names the platform itself gives tokens (web/api/auth.py, web/cli.py, tests)
TOKEN_NAMES = {"api": lambda: _("signed in through the API"), "cli": lambda: _("made on the command line"),
               "": lambda: _("no name")}


def token_name(name: str | None) -> str:
    known = TOKEN_NAMES.get(name or "")
    return known() if known else str(name)


def event_row(event) -> dict:
    """An admin event as the log shows it: who, what, whom and the facts, all in words."""
    label = ACTION_LABELS.get(event.action)
    return {"at": event.at, "actor": event.actor, "action": label() if label else _("Another change"),
            "target": event.target, "details": _event_details(event.action, event.data or {})}


def _groups(groups) -> str:
    return "、".join(group_label(g) for g in groups or []) or _("no group")


def _tenant(tenant) -> str:
    return tenant_label(tenant) if tenant else _("all tenants")


def _event_details(action: str, data: dict) -> str:
    if action == "user.created":
        return _("groups: %(groups)s; tenant: %(tenant)s", groups=_groups(data.get("groups")),
                 tenant=_tenant(data.get("tenant")))
    if action == "user.groups_changed":
        return _("from %(before)s to %(after)s", before=_groups(data.get("before")), after=_groups(data.get("after")))
    if action == "user.tenant_changed":
        return _("from %(before)s to %(after)s", before=_tenant(data.get("before")), after=_tenant(data.get("after")))
    if action == "token.created":
        expires = str(data.get("expires_at") or "")[:16].replace("T", " ")
        return _("token %(name)s, valid until %(expires)s UTC", name=token_name(data.get("name")), expires=expires)
    if action == "token.revoked":
        return _("token %(name)s", name=token_name(data.get("name")))
    return ""

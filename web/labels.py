"""Words for the codes people see: tenants, groups and lanes, processes, choice values, variables.

The engine and the API speak in codes (``china_mobile``, ``regional_manager``, ``suburban``);
a page shows each in the reader's language. Every template can use the filters registered
here (``tenant_label``, ``group_label``, ``process_label``, ``value_label``,
``variable_label``), and the API adds a ``label`` beside a code with the same functions.

Where a code has no known word, its code is shown unchanged, so nothing is ever hidden.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, current_app, g
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from engine.models import ProcessDefinition, Tenant

# The candidate groups (and lanes) of the business; any other id is shown as it is.
KNOWN_GROUPS = (
    ("operator", _l("Operator staff")),
    ("customer_manager", _l("Customer manager")),
    ("planning", _l("Planning support")),
    ("dispatcher", _l("City dispatcher")),
    ("regional_manager", _l("Regional manager")),
    ("negotiator", _l("Site negotiator")),
    ("city_director", _l("City construction and maintenance director")),
    ("monitoring_center", _l("Monitoring centre")),
    ("maintenance", _l("Maintenance team")),
    ("supervisor", _l("Supervisor")),
    ("designer", _l("Process designer")),
    ("admin", _l("Administrator")),
)
KNOWN_GROUP_IDS = tuple(group for group, _label in KNOWN_GROUPS)

def group_label(group: str) -> str:
    """The group's (or lane's) name in the page's language, or its id when it is unknown."""
    labels = dict(KNOWN_GROUPS)
    return str(labels[group]) if group in labels else group


def tenant_label(tenant: str | None) -> str:
    """The tenant's company name (stored with the tenant), or its id when it has none."""
    if not tenant:
        return ""
    name = _cached("tenant_names", _tenant_names).get(tenant)
    if name and name != tenant:
        return name
    return value_label(tenant)  # a tenant created with a user has its id as name: the forms' word for it


def process_label(key: str | None) -> str:
    """The process's name as its latest deployed version gives it, or its key."""
    if not key:
        return ""
    return _cached("process_names", _shared_process_names).get(key) or key


def value_label(value: Any, field: str | None = None) -> str:
    """A choice value's label from the forms: the field's own choices first, then any form's."""
    from web.ui.form_widgets import localized

    if isinstance(value, bool):
        from flask_babel import gettext as _

        return _("Yes") if value else _("No")
    if not isinstance(value, str):
        return "" if value is None else str(value)
    choices = _for_the_forms("choice_labels", _choice_labels)
    label = choices["by_field"].get((field, value)) if field else None
    label = label or choices["any"].get(value)
    return localized(label, default=value) if label else value


def variable_label(name: str) -> str:
    """The label of the form field that carries this variable, or its name."""
    from web.ui.form_widgets import localized

    label = _for_the_forms("field_labels", _field_labels).get(name)
    return localized(label, default=name) if label else name


def group_labels() -> dict[str, str]:
    """Every known group's (lane's) name by id, for scripts that relabel lanes in a diagram."""
    return {group: str(label) for group, label in KNOWN_GROUPS}


STATE_WORDS = {  # instances, tasks and incidents
    "running": _l("Running"), "waiting": _l("Waiting"), "suspended": _l("Suspended"),
    "completed": _l("Completed"), "cancelled": _l("Cancelled"), "terminated": _l("Terminated"),
    "error": _l("Error"), "open": _l("Open"), "claimed": _l("Claimed"), "resolved": _l("Resolved"),
}


def state_label(state: str | None) -> str:
    """An instance's, task's or incident's state in words, or the state as it is."""
    return str(STATE_WORDS[state]) if state in STATE_WORDS else (state or "")


def user_label(username: str | None) -> str:
    """A user name as it is, but the platform's own actions (``system``) in words."""
    from flask_babel import gettext as _

    if username == "system":
        return _("System")
    if username == "timer-start":  # engine.runtime.timer_starts' starter
        return _("Timer start")
    return username or ""


def register_labels(app: Flask) -> None:
    for name, function in (("tenant_label", tenant_label), ("group_label", group_label),
                           ("process_label", process_label), ("value_label", value_label),
                           ("variable_label", variable_label), ("user_label", user_label),
                           ("state_label", state_label)):
        app.add_template_filter(function, name)
        app.add_template_global(function, name)
    app.add_template_global(group_labels, "group_labels")


# --- where the words come from, read once per request ---------------------------------------

def _cached(name: str, load):
    store = g.setdefault("_labels", {})
    if name not in store:
        store[name] = load()
    return store[name]


def _for_the_forms(name: str, load):
    """Words read from the form schemas, kept for the app's life: the forms registered at start
    do not change (building them instantiates every schema, 2 ms a request on Flow 1)."""
    store = current_app.extensions.setdefault("towerflow_form_words", {})
    if name not in store:
        store[name] = load()
    return store[name]


def _platform():
    return current_app.extensions["towerflow"]


def _tenant_names() -> dict[str, str]:
    with _platform().Session() as session:
        return {tid: name for tid, name in session.execute(select(Tenant.id, Tenant.name)).all() if name}


PROCESS_NAMES_SECONDS = 5.0  # how soon a deployment by another process shows its new names here


def _shared_process_names() -> dict[str, str]:
    """``_process_names`` kept for the whole process: read again after a deployment in this
    process at once, after one in another process within ``PROCESS_NAMES_SECONDS``."""
    platform = _platform()
    stamp = platform.deployments_seen
    kept = current_app.extensions.get("towerflow_process_names")
    if kept is None or kept[0] != stamp or kept[1] < time.monotonic():
        kept = (stamp, time.monotonic() + PROCESS_NAMES_SECONDS, _process_names())
        current_app.extensions["towerflow_process_names"] = kept
    return kept[2]


def _process_names() -> dict[str, str]:
    with _platform().Session() as session:
        rows = session.execute(select(ProcessDefinition.key, ProcessDefinition.name)
                               .order_by(ProcessDefinition.version)).all()
    return {key: name for key, name in rows if name}  # the latest version's name wins


def _choice_labels() -> dict[str, dict]:
    by_field: dict[tuple[str, str], Any] = {}
    anywhere: dict[str, Any] = {}
    for schema in _platform().forms.values():
        for name, fld in schema().fields.items():
            for value, label in (fld.metadata.get("choice_labels") or {}).items():
                by_field.setdefault((fld.data_key or name, value), label)
                anywhere.setdefault(value, label)
    return {"by_field": by_field, "any": anywhere}


def _field_labels() -> dict[str, Any]:
    labels: dict[str, Any] = {}
    for schema in _platform().forms.values():
        for name, fld in schema().fields.items():
            if fld.metadata.get("label"):
                labels.setdefault(fld.data_key or name, fld.metadata["label"])
    return labels

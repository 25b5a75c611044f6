"""What the instance list's filter form offers: the business variables by their words (from
the forms the chosen process uses), the values of choice variables by their words, and the
chosen process's elements by their names; and the query string read back as a filter.

Nobody types a code: a text or number variable is picked by its label and compared with a
typed value; a choice is picked as "客户等级：集团级" from a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import request
from flask_babel import lazy_gettext as _l
from marshmallow import fields
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions.deployments import definition_file
from engine.errors import EngineError
from engine.models import ProcessDefinition
from engine.principal import Principal
from engine.queries import insight
from engine.runtime import instances

from ..labels import tenant_label, value_label, variable_label

OPS = {"eq": _l("is"), "contains": _l("contains"), "gt": _l("is more than"), "lt": _l("is less than")}
TENANT_VARIABLES = ("tenant", "operator")  # variables whose values are tenants
FORM_KEY = re.compile(r'name="formKey"\s+value="([^"]+)"')
# Element kinds a token can stand on (what "now at" can mean), by their BPMN tag.
STEP_TAGS = ("userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask", "task",
             "businessRuleTask", "callActivity", "subProcess", "intermediateCatchEvent")


@dataclass
class Offer:
    """The filter form's lists: (value, words) pairs."""

    variables: list[tuple[str, str]] = field(default_factory=list)  # typed-value variables
    choices: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (variable words, options)
    elements: list[tuple[str, str]] = field(default_factory=list)
    parents: list[tuple[str, str]] = field(default_factory=list)  # processes that call others


def _latest(session: Session, key: str) -> ProcessDefinition | None:
    return session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key)
                          .order_by(ProcessDefinition.version.desc()).limit(1))


def offer(session: Session, forms: dict, process_key: str | None, actor: Principal | None = None) -> Offer:
    """The variables (from the process's forms, or every form) and elements to pick from; a
    tenant's user is offered no other tenant as a choice value."""
    found = Offer()
    bound = actor is not None and actor.tenant is not None
    others = _other_tenants(session, forms, actor.tenant) if bound else set()
    form_keys: list[str] | None = None
    definition = _latest(session, process_key) if process_key else None
    if definition is not None:
        xml = definition_file(session, definition).content
        form_keys = list(dict.fromkeys(([definition.start_form_key] if definition.start_form_key else [])
                                       + FORM_KEY.findall(xml)))
        steps = {node for tag in STEP_TAGS for node in re.findall(rf'<bpmn:{tag}\b[^>]*\bid="([^"]+)"', xml)}
        names = insight.element_names(xml)
        found.elements = sorted(((e, names.get(e, e)) for e in steps), key=lambda pair: pair[1])
    seen: set[str] = set()
    for key in form_keys if form_keys is not None else sorted(forms):
        schema = forms.get(key)
        if schema is None:
            continue
        for name, fld in schema().fields.items():
            variable = fld.data_key or name
            if variable in seen or not fld.metadata.get("label") or (bound and variable in TENANT_VARIABLES):
                continue  # a tenant's user sees its own tenant only: choosing one means nothing
            seen.add(variable)
            labels = fld.metadata.get("choice_labels")
            if labels:
                words = tenant_label if variable in TENANT_VARIABLES else (lambda v, n=variable: value_label(v, n))
                options = [(f"{variable}:eq:{value}", words(value)) for value in labels if value not in others]
                if options:
                    found.choices.append((variable_label(variable), options))
            elif isinstance(fld, (fields.String, fields.Integer, fields.Float, fields.Decimal)) \
                    and fld.metadata.get("widget") not in ("file", "files", "textarea"):
                found.variables.append((variable, variable_label(variable)))
    found.variables.sort(key=lambda pair: pair[1])
    found.choices.sort(key=lambda pair: pair[0])
    callers = session.scalars(select(ProcessDefinition.key).distinct().where(
        ProcessDefinition.key.in_(_calling_keys(session)))).all()
    from ..labels import process_label

    found.parents = [(key, process_label(key)) for key in sorted(callers)]
    return found


def _other_tenants(session: Session, forms: dict, tenant: str) -> set[str]:
    """Every tenant id but ``tenant``: the stored tenants and the tenant choices of the forms."""
    from engine.models import Tenant

    ids = set(session.scalars(select(Tenant.id)))
    for schema in forms.values():
        for name, fld in schema().fields.items():
            if (fld.data_key or name) in TENANT_VARIABLES:
                ids |= set(fld.metadata.get("choice_labels") or ())
    return ids - {tenant}


def _calling_keys(session: Session):
    from sqlalchemy.orm import aliased

    from engine.models import ProcessInstance

    child = aliased(ProcessInstance)
    parent = aliased(ProcessInstance)
    # the processes whose instances called another one; the small set of distinct keys
    return select(parent.process_key).join(child, child.parent_id == parent.id).distinct()


def _text(name: str) -> str | None:
    value = (request.args.get(name) or "").strip()
    return value or None


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def conditions() -> list[tuple[str, str, str]]:
    """The variable conditions of the query string: ``var`` (name:op:value, as the API takes them),
    ``choice`` (a picked choice) and the typed one (``vn``, ``vo``, ``vv``). Malformed ones are
    dropped here; the page says why (see ``problems``)."""
    found = []
    for text in request.args.getlist("var") + request.args.getlist("choice"):
        try:
            found.append(instances.parse_condition(text))
        except EngineError:
            continue
    name, op, value = _text("vn"), request.args.get("vo") or "eq", _text("vv")
    if name and value:
        found.append((name, op, value))
    return found


def query_from_args(actor: Principal) -> instances.InstanceFilter:
    """The filter form's values; anything malformed is dropped rather than refused."""
    started_from, started_to = _day("started_from"), _day("started_to")
    state = _text("state")
    has_incident = {"yes": True, "no": False}.get(request.args.get("incident", ""))
    flt = instances.InstanceFilter(
        process_key=_text("process"),
        version=request.args.get("version", type=int),
        state=state if state in instances.STATES else None,
        business_key=_text("business_key"),
        tenant=_text("tenant") if actor.tenant is None else None,
        started_after=datetime.combine(started_from, datetime.min.time()) if started_from else None,
        started_before=datetime.combine(started_to, datetime.min.time()) + timedelta(days=1) if started_to else None,
        has_incident=has_incident,
        overdue=request.args.get("overdue") == "1",
        element=_text("element"),
        parent_key=_text("parent"),
        top_level=request.args.get("top_level") == "1",
    )
    for condition in conditions():
        try:
            instances.InstanceFilter(variables=[condition]).check()
        except EngineError:
            continue
        flt.variables.append(condition)
    return flt


# --- the search's filter in words (the bulk pages describe the list's filter with these) ----

SEARCH_WORDS = {"variables": _l("Variable"), "element": _l("Now at"), "parent_key": _l("Called by"),
                "top_level": _l("Only instances nobody called")}


def search_words(name: str, value, flt: instances.InstanceFilter) -> str | None:
    """A search field's value in words, or None for a field this module does not own."""
    from ..labels import process_label

    if name == "variables":
        return "；".join(f"{variable_label(n)} {OPS.get(op, op)} {value_label(v, n)}" for n, op, v in value)
    if name == "element":
        names: dict[str, str] = {}
        if flt.process_key:
            from flask import current_app

            with current_app.extensions["towerflow"].Session() as session:
                definition = _latest(session, flt.process_key)
                if definition is not None:
                    names = insight.element_names(definition_file(session, definition).content)
        return names.get(value, value)
    if name == "parent_key":
        return process_label(value)
    if name == "top_level":
        from flask_babel import gettext as _

        return _("Yes")
    return None

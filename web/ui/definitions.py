"""Process definitions: every process key with its versions and instance counts, and one
version's diagram with a heatmap of where its instances are now and what they passed.

Designers and supervisors (and admins) see it; counts cover only the instances of the
viewer's tenant scope.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Blueprint, abort, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from engine.definitions.deployments import definition_file
from engine.models import Deployment, ProcessDefinition
from engine.queries import insight
from engine.runtime.instances import STATES

from . import cockpit
from .helpers import platform, principal, require_groups
from .instances import STATE_LABELS, diagram_missing, when

bp = Blueprint("definitions", __name__, url_prefix="/definitions")
PAGE_GROUPS = ("designer", "supervisor")


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"when": when, "state_labels": STATE_LABELS, "states": STATES}


@bp.get("")
@require_groups(*PAGE_GROUPS)
def index():
    with platform().Session() as session:
        rows = session.execute(
            select(ProcessDefinition, Deployment.deployed_by)
            .join(Deployment, Deployment.id == ProcessDefinition.deployment_id)
            .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())).all()
        counts = insight.version_counts(session, principal())
        processes = [
            {"key": key, "name": versions[0][0].name or key, "versions": versions}
            for key, versions in ((k, list(g)) for k, g in groupby(rows, key=lambda r: r[0].key))
        ]
        return render_template("definitions/index.html", processes=processes, counts=counts)


@bp.get("/<key>/<int:version>")
@require_groups(*PAGE_GROUPS)
def version(key: str, version: int):
    pf, actor = platform(), principal()
    with pf.Session() as session:
        definition = session.scalar(select(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessDefinition.version == version))
        if definition is None:
            abort(404, _("No such process version."))
        xml = definition_file(session, definition).content
        heat = insight.heatmap(pf, session, actor, definition)
        versions = session.scalars(select(ProcessDefinition.version).where(ProcessDefinition.key == key)
                                   .order_by(ProcessDefinition.version.desc())).all()
        counts = insight.version_counts(session, actor, key).get(definition.id, {})
        names = insight.element_names(xml)
        return render_template(
            "definitions/version.html", definition=definition, xml=xml, heat=heat, versions=versions,
            counts=counts, names=names,
            drawing=cockpit.extend_version_drawing(heat_drawing(heat), session, actor, definition, xml),
            rows=heat_rows(heat, names, element_kinds(xml)),
            diagram_missing=diagram_missing(),
            instances_url=url_for("instances.index", process=key, version=version))


def heat_drawing(heat: insight.Heatmap) -> dict[str, Any]:
    """Badges with the counts, a heat layer scaled to the busiest element, passed flows marked."""
    busiest = max(heat.now.values(), default=0)
    badges = [{"element": e, "text": str(n), "className": "tf-badge-now", "position": "top-left",
               "title": _("%(n)s instance(s) here now", n=n)} for e, n in heat.now.items()]
    badges += [{"element": e, "text": str(n), "className": "tf-badge-passed", "position": "top-right",
                "title": _("passed %(n)s time(s)", n=n)} for e, n in heat.passed.items()]
    markers: dict[str, list[str]] = {flow: ["tf-taken"] for flow in heat.flows}
    for element in heat.passed:
        markers.setdefault(element, []).append("tf-passed")
    heat_layer = {e: n / busiest for e, n in heat.now.items()} if busiest else {}
    return {"markers": markers, "badges": badges, "heat": heat_layer}


def heat_rows(heat: insight.Heatmap, names: dict[str, str], kinds: dict[str, str] | None = None
              ) -> list[dict[str, Any]]:
    """The same counts as a table, busiest first (readable without the diagram). An element without
    a name is called by its kind in words (排他网关), its id shown beside it as code."""
    kinds = kinds or {}
    elements = set(heat.now) | set(heat.passed)
    rows = []
    for e in elements:
        unnamed = names.get(e, e) == e
        rows.append({"element": e, "name": kind_word(kinds.get(e)) if unnamed else names[e], "unnamed": unnamed,
                     "now": heat.now.get(e, 0), "passed": heat.passed.get(e, 0)})
    return sorted(rows, key=lambda r: (-r["now"], -r["passed"], r["name"]))


ELEMENT_KINDS = {
    "startEvent": _l("Start event"), "endEvent": _l("End event"), "exclusiveGateway": _l("Exclusive gateway"),
    "parallelGateway": _l("Parallel gateway"), "inclusiveGateway": _l("Inclusive gateway"),
    "eventBasedGateway": _l("Event-based gateway"), "intermediateCatchEvent": _l("Intermediate catch event"),
    "intermediateThrowEvent": _l("Intermediate throw event"), "boundaryEvent": _l("Boundary event"),
    "userTask": _l("User task"), "serviceTask": _l("Service task"), "scriptTask": _l("Script task"),
    "businessRuleTask": _l("Business rule task"), "callActivity": _l("Call activity"),
    "subProcess": _l("Subprocess"), "sendTask": _l("Send task"), "receiveTask": _l("Receive task"),
    "manualTask": _l("Manual task"), "task": _l("Task"),
}


def kind_word(kind: str | None) -> str:
    return str(ELEMENT_KINDS.get(kind or "", _l("Element")))


def element_kinds(xml: str) -> dict[str, str]:
    """Element id -> its BPMN kind (the tag's local name)."""
    from lxml import etree

    try:
        root = etree.fromstring(xml.encode("utf-8"))
    except etree.XMLSyntaxError:
        return {}
    return {node.get("id"): etree.QName(node).localname for node in root.iter()
            if isinstance(node.tag, str) and node.get("id")}

"""The cockpit diagram's server side: the viewer's words, what a click on an element lists
(the instances standing at it on a version page, its visits on an instance page), and the
extras a version page's drawing carries (count badges, drill-down links).

The lists are small JSON answers the viewer (web/frontend/viewer/) shows in a side panel,
already in the page's language; an operator user sees only their tenant's instances.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from flask import Blueprint, abort, jsonify, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import func, select

from engine.definitions import customer_view
from engine.definitions.deployments import definition_file
from engine.models import InstanceToken, ProcessDefinition
from engine.principal import Principal
from engine.queries import element_counts, insight, visibility
from engine.runtime import instances

from ..assets import BUILD
from ..labels import group_label, user_label
from .helpers import platform, principal, require_groups

bp = Blueprint("cockpit", __name__, url_prefix="/cockpit")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


@bp.app_context_processor
def _viewer_helpers() -> dict[str, Any]:
    return {"viewer_words": viewer_words, "viewer_built": viewer_built}


def viewer_built() -> bool:
    """The viewer bundle exists (``make install`` builds it); without it diagram.js draws plainly."""
    return (BUILD / "viewer.js").is_file() and (BUILD / "viewer.css").is_file()


def viewer_words() -> dict[str, str]:
    """The viewer's button titles and messages in the page's language."""
    return {
        "toolbar": _("Diagram tools"), "zoomIn": _("Zoom in"), "zoomOut": _("Zoom out"),
        "fit": _("Fit to the frame"), "current": _("Go to the current step"), "fullscreen": _("Full screen"),
        "minimap": _("Minimap"), "drill": _("Open the called process"), "incident": _("Incident"),
        "close": _("Close"), "failed": _("The list could not be loaded"),
        "error": _("The diagram could not be drawn:"), "openElement": _("Open {element}"),
    }


# --- a version page's drawing ---------------------------------------------------------------


def extend_version_drawing(drawing: dict[str, Any], session, actor: Principal, definition: ProcessDefinition,
                           xml: str) -> dict[str, Any]:
    """Add the incident and listener badges, the click list and the call activities' links."""
    counts = element_counts.element_counts(session, actor, definition.id)
    badges = drawing.setdefault("badges", [])
    badges += [{"element": e, "text": str(n), "className": "tf-badge-incident", "position": "bottom-left",
                "title": _("%(n)s instance(s) with an incident here", n=n)} for e, n in counts.incidents.items()]
    badges += [{"element": e, "text": str(n), "className": "tf-badge-listener", "position": "bottom-right",
                "title": _("%(n)s listener(s) waiting here", n=n)} for e, n in counts.listeners.items()]
    drawing["elementUrl"] = url_for("cockpit.standing", definition_id=definition.id, element_id="__ELEMENT__")
    drawing["calls"] = called_versions(session, xml)
    drawing["counts"] = counts.as_dict()
    return drawing


def called_versions(session, xml: str) -> dict[str, str]:
    """Call activity element id -> the newest version page of the process it calls."""
    try:
        root = ET.fromstring(xml.encode("utf-8"))
    except ET.ParseError:
        return {}
    wanted = {node.get("id"): node.get("calledElement") for node in root.iter(f"{{{BPMN_NS}}}callActivity")
              if node.get("id") and node.get("calledElement")}
    if not wanted:
        return {}
    newest = dict(session.execute(select(ProcessDefinition.key, func.max(ProcessDefinition.version))
                                  .where(ProcessDefinition.key.in_(set(wanted.values())))
                                  .group_by(ProcessDefinition.key)).all())
    return {element: url_for("definitions.version", key=key, version=newest[key])
            for element, key in wanted.items() if key in newest}


# --- what a click lists ---------------------------------------------------------------------


@bp.get("/definitions/<int:definition_id>/elements/<element_id>")
@require_groups("designer", "supervisor")
def standing(definition_id: int, element_id: str):
    """The instances of a version now at an element (tokens and waiting listeners)."""
    from .instances import STATE_LABELS, when

    actor = principal()
    with platform().Session() as session:
        definition = session.get(ProcessDefinition, definition_id)
        if definition is None:
            abort(404, _("No such process version."))
        names = insight.element_names(definition_file(session, definition).content)
        if element_id not in names:
            abort(404, _("The diagram has no such element."))
        found, total = element_counts.instances_at(session, actor, definition_id, element_id)
        items = [{
            "url": url_for("instances.show", instance_id=item.id),
            "label": item.business_key or _("Instance %(id)s", id=item.id),
            "state": item.state, "stateLabel": str(STATE_LABELS.get(item.state, item.state)),
            "detail": (_("Listening since %(when)s", when=when(item.since)) if item.kind == "listener"
                       else _("Here since %(when)s", when=when(item.since))),
        } for item in found]
        return jsonify({
            "title": _("Instances at %(name)s", name=names[element_id]), "total": total, "items": items,
            "empty": _("No instance is here now."),
            "more": _("Showing %(shown)s of %(total)s.", shown=len(items), total=total) if total > len(items) else "",
        })


@bp.get("/instances/<int:instance_id>/elements/<element_id>")
@login_required
def visits(instance_id: int, element_id: str):
    """An element's visits in one instance: when entered and completed, and by whom."""
    from .instances import EVENT_LABELS, TASK_STATES, when

    pf, actor = platform(), principal()
    with pf.Session() as session:
        row = instances.visible_instance(session, actor, instance_id)
        definition = session.get(ProcessDefinition, row.definition_id)
        seen = visibility.sight(session, actor, row, pf.forms)
        xml = customer_view.diagram_for(definition_file(session, definition).content, not seen.full, group_label)
        names = insight.element_names(xml)
        if element_id not in names or not seen.shows_element(element_id):
            abort(404, _("The diagram has no such element."))
        timeline = (insight.called_timeline(session, row, set(names)) if row.is_called
                    else insight.timeline(session, instance_id))
        items = []
        for entry in timeline:
            if entry.element_id != element_id:
                continue
            if not seen.full and entry.kind == "event" and entry.who != actor.username \
                    and entry.title not in visibility.LIFECYCLE_EVENTS:
                continue
            if entry.kind == "task":
                detail = _("Entered %(when)s", when=when(entry.at))
                if entry.ended_at:
                    detail += _("; done %(when)s", when=when(entry.ended_at))
                if entry.who:
                    detail += _("; by %(who)s", who=user_label(entry.who))
                items.append({"label": entry.title, "state": entry.state,
                              "stateLabel": str(TASK_STATES.get(entry.state or "", "")), "detail": detail})
            else:
                detail = when(entry.at) + (_("; by %(who)s", who=user_label(entry.who)) if entry.who else "")
                items.append({"label": str(EVENT_LABELS.get(entry.title, _("Engine step"))), "detail": detail})
        here = session.scalar(select(InstanceToken.since).where(
            InstanceToken.instance_id == row.id, InstanceToken.element_id == element_id).order_by(InstanceToken.since))
        if here is not None:
            items.insert(0, {"label": _("Here now"), "state": "running", "stateLabel": "",
                             "detail": _("Since %(when)s", when=when(here))})
        return jsonify({"title": _("Visits of %(name)s", name=names[element_id]), "total": len(items),
                        "items": items, "empty": _("This step has not been reached.")})

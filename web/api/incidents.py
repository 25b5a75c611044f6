"""Incidents: failed jobs waiting for a person."""

from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint

from engine.queries import visibility
from engine.runtime import jobs

from .context import listing, page, platform, principal
from .schemas import Incident, IncidentPage, IncidentQuery

PREFIX = "/incidents"
blp = Blueprint("api_incidents", __name__, description="Incidents")

# The engine's one-line reasons (visibility.REASONS), in the request's language.
REASON_TEXTS = {
    "service_failed": lambda: _("A call to another system failed. The tower company has been told and will "
                                "retry it."),
    "timer_failed": lambda: _("A scheduled step failed. The tower company has been told and will retry it."),
    "step_failed": lambda: _("A processing step failed. The tower company has been told and will retry it."),
}


def translated(view: dict, detail: str) -> dict:
    """A tenant's user reads the reason in its language instead of the engine's message."""
    if detail == "reason":
        view["message"] = REASON_TEXTS[view["reason"]]()
    return view


def incident_for(actor, incident) -> dict:
    detail = visibility.incident_detail(actor)
    return translated(visibility.incident_view(incident, detail), detail)


@blp.route("")
class IncidentsView(MethodView):
    @blp.arguments(IncidentQuery, location="query")
    @blp.response(200, IncidentPage)
    def get(self, args):
        """Incidents visible to the caller (open ones by default); a tenant's user reads a one-line
        reason, staff the message, supervisors and administrators also the traceback."""
        actor = principal()
        offset, limit = page(args)
        state = None if args["state"] == "all" else args["state"]
        with platform().Session() as session:
            rows, total = jobs.list_incidents(session, actor, state, args.get("process_instance_id"),
                                              offset, limit)
            return listing([incident_for(actor, r) for r in rows], total, args)


@blp.route("/<int:incident_id>/retry")
class RetryView(MethodView):
    @blp.response(200, Incident)
    def post(self, incident_id):
        """Retry the failed job behind an incident (supervisors)."""
        actor = principal()
        jobs.retry_incident(platform(), actor, incident_id)
        with platform().Session() as session:
            return incident_for(actor, jobs.visible_incident(session, actor, incident_id))

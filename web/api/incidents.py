"""Incidents: failed jobs waiting for a person."""

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.queries.views import incident_view
from engine.runtime import jobs

from .context import listing, page, platform, principal
from .schemas import Incident, IncidentPage, IncidentQuery

PREFIX = "/incidents"
blp = Blueprint("api_incidents", __name__, description="Incidents")


@blp.route("")
class IncidentsView(MethodView):
    @blp.arguments(IncidentQuery, location="query")
    @blp.response(200, IncidentPage)
    def get(self, args):
        """Incidents visible to the caller (open ones by default)."""
        actor = principal()
        offset, limit = page(args)
        state = None if args["state"] == "all" else args["state"]
        with platform().Session() as session:
            rows, total = jobs.list_incidents(session, actor, state, args.get("process_instance_id"),
                                              offset, limit)
            return listing([incident_view(r) for r in rows], total, args)


@blp.route("/<int:incident_id>/retry")
class RetryView(MethodView):
    @blp.response(200, Incident)
    def post(self, incident_id):
        """Retry the failed job behind an incident (supervisors)."""
        actor = principal()
        jobs.retry_incident(platform(), actor, incident_id)
        with platform().Session() as session:
            return incident_view(jobs.visible_incident(session, actor, incident_id))

"""The difficult-site library (疑难站址库): GET /api/v1/difficult-sites and /difficult-sites/{id}."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from tower import difficult_sites
from tower.models import DIFFICULT_SITE_STATUSES
from web.api.context import listing, page, platform, principal
from web.api.schemas import PageArgs, page_of

PREFIX = "/difficult-sites"
blp = Blueprint("api_difficult_sites", __name__, description="Difficult-site library")


class DifficultSite(Schema):
    id = fields.Integer()
    demand_no = fields.String()
    site_name = fields.String()
    reason = fields.String()
    description = fields.String()
    status = fields.String()
    tenant = fields.String(allow_none=True)
    process_instance_id = fields.Integer(allow_none=True)
    business_key = fields.String(allow_none=True)
    applied_by = fields.String(allow_none=True)
    approved_by = fields.String(allow_none=True)
    entered_at = fields.String()
    paused_at = fields.String()
    released_at = fields.String(allow_none=True)
    paused_days = fields.Integer(allow_none=True)
    release_reason = fields.String(allow_none=True)


DifficultSitePage = page_of(DifficultSite, "DifficultSitePage")


class DifficultSiteQuery(PageArgs):
    status = fields.String(validate=validate.OneOf(DIFFICULT_SITE_STATUSES))
    demand_no = fields.String()
    reason = fields.String(metadata={"description": "owner_refuses, planning_restriction, cost_far_above_standard, "
                                                    "other"})
    tenant = fields.String(metadata={"description": "operator tenant id (staff only; operators see their own)"})
    q = fields.String(metadata={"description": "text in the site name or demand number"})


@blp.route("")
class DifficultSitesView(MethodView):
    @blp.arguments(DifficultSiteQuery, location="query")
    @blp.response(200, DifficultSitePage)
    def get(self, args):
        """Sites in (or released from) the difficult-site library: operator staff (own tenant),
        regional managers, city directors, supervisors and admins."""
        actor = principal()
        offset, limit = page(args)
        with platform().Session() as session:
            rows, total = difficult_sites.list_sites(session, actor, args.get("status"), args.get("demand_no"),
                                                     offset, limit, reason=args.get("reason"),
                                                     tenant=args.get("tenant"), q=args.get("q"))
            return listing([difficult_sites.site_view(r) for r in rows], total, args)


@blp.route("/<int:site_id>")
class DifficultSiteView(MethodView):
    @blp.response(200, DifficultSite)
    def get(self, site_id):
        """One entry of the library; another tenant's answers 404."""
        with platform().Session() as session:
            return difficult_sites.site_view(difficult_sites.get_site(session, principal(), site_id))

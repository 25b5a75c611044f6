"""The difficult-site library (疑难站址库) for supervisors."""

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


@blp.route("")
class DifficultSitesView(MethodView):
    @blp.arguments(DifficultSiteQuery, location="query")
    @blp.response(200, DifficultSitePage)
    def get(self, args):
        """Sites in (or released from) the difficult-site library; supervisors and admins."""
        actor = principal()
        offset, limit = page(args)
        with platform().Session() as session:
            rows, total = difficult_sites.list_sites(session, actor, args.get("status"), args.get("demand_no"),
                                                     offset, limit)
            return listing([difficult_sites.site_view(r) for r in rows], total, args)

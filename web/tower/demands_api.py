"""Demands as spreadsheets (template, checked import, exports) and the site library search."""

from __future__ import annotations

import io
from urllib.parse import quote

from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.errors import BadRequest, Forbidden
from tower import demands, sites, spreadsheets
from web.api.context import listing, page, platform, principal
from web.api.schemas import PageArgs, page_of

PREFIX = ""
blp = Blueprint("api_demands", __name__, description="Demands: spreadsheet template, import, exports; site library")

XLSX = {"content": {spreadsheets.XLSX_MIME: {"schema": {"type": "string", "format": "binary"}}}}


class Demand(Schema):
    demand_no = fields.String()
    tenant = fields.String()
    operator = fields.String()
    province = fields.String()
    city = fields.String()
    county = fields.String()
    site_name = fields.String()
    longitude = fields.Float()
    latitude = fields.Float()
    tower_type = fields.String()
    antenna_height = fields.Float()
    demand_type = fields.String()
    expected_delivery = fields.String(allow_none=True)
    remarks = fields.String()
    status = fields.String()
    status_label = fields.String()
    instance_id = fields.Integer(allow_none=True)
    created_by = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    order_no = fields.String(allow_none=True)
    site_code = fields.String(allow_none=True)
    build_mode = fields.String(allow_none=True)


DemandPage = page_of(Demand, "DemandPage")


class DemandQuery(PageArgs):
    status = fields.String(metadata={"description": "one status or several, comma-separated"})
    tenant = fields.String(metadata={"description": "operator tenant id (staff only; operators see their own)"})
    demand_no = fields.String()
    q = fields.String(metadata={"description": "text in demand number, site name, city or county"})


class RowErrorSchema(Schema):
    row = fields.Integer(metadata={"description": "row number as Excel shows it (the header is row 1)"})
    column = fields.String(metadata={"description": "column header"})
    code = fields.String()
    message = fields.String()


class ImportResult(Schema):
    imported = fields.Integer()
    demand_nos = fields.List(fields.String())
    errors = fields.List(fields.Nested(RowErrorSchema), metadata={"description": "rows left out (only_good_rows)"})


class OrderExportQuery(Schema):
    demand_no = fields.List(fields.String(), required=True,
                            metadata={"description": "repeat it, or separate numbers with commas"})


class AcceptanceExportQuery(Schema):
    status = fields.String(load_default="delivered",
                           metadata={"description": "comma-separated statuses, or all (default delivered)"})


class NearbyQuery(Schema):
    longitude = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    latitude = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    area_type = fields.String(required=True, validate=validate.OneOf(sites.AREA_TYPES))
    radius_m = fields.Float(validate=validate.Range(min=0, min_inclusive=False),
                            metadata={"description": "override the configured radius for the area type"})


class NearbyResult(Schema):
    found = fields.Boolean()
    site = fields.Dict(allow_none=True)
    distance_m = fields.Float(allow_none=True)
    radius_m = fields.Float()


def xlsx_response(data: bytes, filename: str):
    response = send_file(io.BytesIO(data), mimetype=spreadsheets.XLSX_MIME, as_attachment=True, download_name=filename)
    # an ASCII fallback name plus the Chinese one (RFC 5987) for browsers that read it
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{filename.encode('ascii', 'ignore').decode() or 'export.xlsx'}\"; "
        f"filename*=UTF-8''{quote(filename)}")
    return response


@blp.route("/demands")
class DemandsView(MethodView):
    @blp.arguments(DemandQuery, location="query")
    @blp.response(200, DemandPage)
    def get(self, args):
        """Demands visible to the caller (an operator user sees only its own company's)."""
        actor = principal()
        offset, limit = page(args)
        tenant = args.get("tenant")
        with platform().Session() as session:
            rows, total = demands.list_demands(session, actor, status=args.get("status"), tenant=tenant,
                                               demand_no=args.get("demand_no"), q=args.get("q"),
                                               offset=offset, limit=limit)
            return listing([demands.demand_view(d) for d in rows], total, args)


@blp.route("/demands/template")
class TemplateView(MethodView):
    @blp.doc(responses={"200": {"description": "the import template (需求导入模板.xlsx)", **XLSX}})
    def get(self):
        """The demand import template: Chinese headers, drop-down lists, a sheet explaining each column."""
        principal()
        return xlsx_response(spreadsheets.template_bytes(), "demand-template 需求导入模板.xlsx")


@blp.route("/demands/import")
class ImportView(MethodView):
    @blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"},
                       "only_good_rows": {"type": "boolean", "default": False}}}}}})
    @blp.response(201, ImportResult)
    @blp.alt_response(422, description="row errors: error.details.errors lists {row, column, message}; "
                                       "nothing was imported")
    def post(self):
        """Import a filled template. Every row is checked; with any error nothing is imported
        unless ``only_good_rows=true``, which imports the good rows and still lists the errors."""
        actor = principal()
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest("send the spreadsheet as the multipart field 'file'")
        data = upload.read(spreadsheets.MAX_BYTES + 1)
        only_good = request.form.get("only_good_rows", request.args.get("only_good_rows", "false"))
        only_good_rows = only_good.strip().lower() in ("1", "true", "yes", "on")
        pf = platform()
        with pf.transaction() as session:
            result = spreadsheets.import_file(session, actor, data, pf.clock.now(), only_good_rows=only_good_rows)
        return result.as_dict(), 201


@blp.route("/demands/export/order-confirmation")
class OrderExportView(MethodView):
    @blp.arguments(OrderExportQuery, location="query")
    @blp.doc(responses={"200": {"description": "订单确认单.xlsx", **XLSX}})
    def get(self, args):
        """The order confirmation form (订单确认单) of one or more demands."""
        actor = principal()
        numbers = [n for value in args["demand_no"] for n in value.split(",")]
        pf = platform()
        with pf.Session() as session:
            data = spreadsheets.export_order_confirmation(session, actor, numbers, pf.clock.now())
        return xlsx_response(data, "order-confirmation 订单确认单.xlsx")


@blp.route("/demands/export/acceptance")
class AcceptanceExportView(MethodView):
    @blp.arguments(AcceptanceExportQuery, location="query")
    @blp.doc(responses={"200": {"description": "交付验收清单.xlsx", **XLSX}})
    def get(self, args):
        """The delivery acceptance list (交付验收清单) of the demands in the given statuses."""
        actor = principal()
        pf = platform()
        with pf.Session() as session:
            data = spreadsheets.export_acceptance(session, actor, pf.clock.now(), args["status"])
        return xlsx_response(data, "acceptance 交付验收清单.xlsx")


@blp.route("/sites/nearby")
class NearbyView(MethodView):
    @blp.arguments(NearbyQuery, location="query")
    @blp.response(200, NearbyResult)
    def get(self, args):
        """The nearest stored site within the allowed offset radius for the area type (staff only)."""
        actor = principal()
        if actor.tenant is not None:
            raise Forbidden("the site library is for tower company staff")
        with platform().Session() as session:
            result = sites.search(session, args["longitude"], args["latitude"], args["area_type"],
                                  radius_m=args.get("radius_m"))
            return sites.search_view(result)

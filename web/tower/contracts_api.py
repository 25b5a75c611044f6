"""Contracts (Flow 7): GET /api/v1/contracts and GET /api/v1/contracts/{id}, tenant-scoped."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from tower import contracts
from tower.models import CONTRACT_STATUSES
from web.api.context import listing, page, platform, principal
from web.api.schemas import PageArgs, page_of

PREFIX = "/contracts"
blp = Blueprint("api_contracts", __name__, description="Contracts and their expiry warnings (合同到期预警)")


class Contract(Schema):
    id = fields.Integer()
    contract_no = fields.String()
    customer_name = fields.String()
    tenant = fields.String(allow_none=True)
    customer_manager = fields.String()
    manager_phone = fields.String()
    expires_on = fields.String(metadata={"description": "YYYY-MM-DD"})
    warn_days_before = fields.Integer()
    warn_on = fields.String(metadata={"description": "the day the warning is due, YYYY-MM-DD"})
    days_left = fields.Integer(metadata={"description": "days until expiry (negative once expired)"})
    status = fields.String(metadata={"description": ", ".join(CONTRACT_STATUSES)})
    warning_state = fields.String(metadata={"description": ", ".join(contracts.WARNING_STATES)})
    warned_at = fields.String(allow_none=True)
    warned_by_instance = fields.Integer(allow_none=True)
    renewal_note = fields.String()


ContractPage = page_of(Contract, "ContractPage")


class ContractQuery(PageArgs):
    status = fields.String(validate=validate.OneOf(CONTRACT_STATUSES))
    warning_state = fields.String(validate=validate.OneOf(contracts.WARNING_STATES))
    tenant = fields.String(metadata={"description": "operator tenant id (staff only; operators see their own)"})
    q = fields.String(metadata={"description": "text in the contract number or customer name"})


@blp.route("")
class ContractsView(MethodView):
    @blp.arguments(ContractQuery, location="query")
    @blp.response(200, ContractPage)
    def get(self, args):
        """Contracts, soonest expiry first; customer managers, supervisors, operator staff (own tenant), admins."""
        actor = principal()
        offset, limit = page(args)
        pf = platform()
        today = pf.clock.now().date()
        with pf.Session() as session:
            rows = [contracts.read_view(row, today) for row in contracts.visible_contracts(
                session, actor, status=args.get("status"), tenant=args.get("tenant"), q=args.get("q"))]
        if args.get("warning_state"):
            rows = [r for r in rows if r["warning_state"] == args["warning_state"]]
        return listing(rows[offset:offset + limit], len(rows), args)


@blp.route("/<int:contract_id>")
class ContractView(MethodView):
    @blp.response(200, Contract)
    def get(self, contract_id):
        """One contract; another tenant's answers 404."""
        pf = platform()
        with pf.Session() as session:
            return contracts.read_view(contracts.visible_contract(session, principal(), contract_id),
                                       pf.clock.now().date())

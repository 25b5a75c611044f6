"""The outbox: what the platform sent, or would have sent, to the external systems."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.models import OUTBOX_STATUSES
from engine.runtime import outbox

from .context import listing, page, platform, principal
from .schemas import PageArgs, page_of

PREFIX = "/outbox"
blp = Blueprint("api_outbox", __name__, description="Outbox of calls to external systems")


class OutboxQuery(PageArgs):
    system = fields.String(metadata={"description": "sms, operator_platform, pms, eoms, boss or resource"})
    status = fields.String(validate=validate.OneOf(OUTBOX_STATUSES))
    business_key = fields.String()
    process_instance_id = fields.Integer(validate=validate.Range(min=-(2**31), max=2**31 - 1))


class OutboxMessage(Schema):
    id = fields.Integer()
    system = fields.String()
    operation = fields.String()
    url = fields.String(allow_none=True)
    payload = fields.Dict()
    idempotency_key = fields.String()
    process_instance_id = fields.Integer(allow_none=True)
    business_key = fields.String(allow_none=True)
    tenant = fields.String(allow_none=True)
    status = fields.String()
    response = fields.Raw(allow_none=True, metadata={"description": "the answer: parsed JSON, or its text"})
    error = fields.String(allow_none=True)
    attempts = fields.Integer()
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)


OutboxPage = page_of(OutboxMessage, "OutboxPage")


@blp.route("")
class OutboxView(MethodView):
    @blp.arguments(OutboxQuery, location="query")
    @blp.response(200, OutboxPage)
    def get(self, args):
        """Calls to external systems, newest first (supervisors and administrators; an operator
        sees its own tenant's)."""
        actor = principal()
        offset, limit = page(args)
        with platform().Session() as session:
            rows, total = outbox.list_messages(
                session, actor, system=args.get("system"), status=args.get("status"),
                business_key=args.get("business_key"), instance_id=args.get("process_instance_id"),
                offset=offset, limit=limit)
            return listing([outbox.message_view(r) for r in rows], total, args)

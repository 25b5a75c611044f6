"""Supervisors' repairs: edit a variable, act on many instances at once, incidents by error."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.queries import incident_groups, visibility
from engine.runtime import bulk, instances, repairs

from ..error_text import say
from .context import platform, principal
from .schemas import DB_INT

PREFIX = ""  # the routes below name their resources (process-instances, incidents) in full
blp = Blueprint("api_repairs", __name__, description="Supervisors' repairs")


class VariableEdit(Schema):
    value = fields.Raw(required=True, allow_none=False, metadata={
        "description": "the new value: JSON of the type, or a string the type parses (e.g. \"42\", \"2026-12-01\")"})
    type = fields.String(load_default=None, validate=validate.OneOf(repairs.TYPES), metadata={
        "description": "text, number, boolean, date, datetime or json; the current value's type when left out"})
    reason = fields.String(required=True, validate=validate.Length(max=2000))
    allow_type_change = fields.Boolean(load_default=False, metadata={
        "description": "set to change the type of an existing variable (e.g. a number to text)"})


class VariableEdited(Schema):
    process_instance_id = fields.Integer()
    name = fields.String()
    old_value = fields.Raw(allow_none=True)
    new_value = fields.Raw(allow_none=True)
    type = fields.String()
    old_type = fields.String(allow_none=True)
    created = fields.Boolean()


class BulkFilter(Schema):
    process_key = fields.String()
    state = fields.String(validate=validate.OneOf(list(instances.STATES)))
    business_key = fields.String()
    tenant = fields.String()
    version = fields.Integer(validate=DB_INT)
    has_incident = fields.Boolean()


class BulkRequest(Schema):
    action = fields.String(required=True, validate=validate.OneOf(bulk.ACTIONS))
    instance_ids = fields.List(fields.Integer(validate=DB_INT), validate=validate.Length(min=1,
                                                                                         max=bulk.MAX_INSTANCES))
    filter = fields.Nested(BulkFilter)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    batch_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class BulkFailure(Schema):
    id = fields.Integer()
    reason = fields.String()


class BulkResult(Schema):
    action = fields.String()
    total = fields.Integer()
    done = fields.Integer()
    batches = fields.Integer()
    retried_incidents = fields.Integer()
    failed = fields.List(fields.Nested(BulkFailure))


class GroupedIncident(Schema):
    id = fields.Integer()
    process_instance_id = fields.Integer()
    business_key = fields.String(allow_none=True)
    message = fields.String()
    created_at = fields.String()


class IncidentGroup(Schema):
    key = fields.String()
    process_key = fields.String()
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True)
    kind = fields.String()
    pattern = fields.String()
    sample = fields.String()
    count = fields.Integer()
    instances = fields.Integer()
    first_seen = fields.String()
    last_seen = fields.String()
    incidents = fields.List(fields.Nested(GroupedIncident))


class IncidentGroups(Schema):
    items = fields.List(fields.Nested(IncidentGroup))
    total = fields.Integer()


class GroupRetryFailure(Schema):
    incident_id = fields.Integer()
    process_instance_id = fields.Integer()
    reason = fields.String()


class GroupRetryResult(Schema):
    retried = fields.Integer()
    retried_ids = fields.List(fields.Integer())
    failed = fields.List(fields.Nested(GroupRetryFailure))


class GroupQuery(Schema):
    process_key = fields.String()


class GroupRetryRequest(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=64))


@blp.route("/process-instances/<int:instance_id>/variables/<name>")
class VariableView(MethodView):
    @blp.arguments(VariableEdit)
    @blp.response(200, VariableEdited)
    def put(self, body, instance_id, name):
        """Set one variable of a running instance (supervisors), typed, with a reason; audited."""
        edit = repairs.set_variable(platform(), principal(), instance_id, name, body["value"], body["reason"],
                                    body.get("type"), body.get("allow_type_change", False))
        return {"process_instance_id": edit.instance_id, "name": edit.name, "old_value": edit.old,
                "new_value": edit.new, "type": edit.type, "old_type": edit.old_type, "created": edit.created}


@blp.route("/process-instances/bulk")
class BulkView(MethodView):
    @blp.arguments(BulkRequest)
    @blp.response(200, BulkResult)
    def post(self, body):
        """Retry, suspend, resume or terminate many instances (supervisors): ``instance_ids`` or a
        ``filter`` as the list takes it, at most 10,000; each instance on its own, failures listed."""
        flt = instances.InstanceFilter(**body["filter"]) if "filter" in body else None
        result = bulk.bulk(platform(), principal(), body["action"], body.get("instance_ids"), flt,
                           body.get("reason"), body["batch_size"])
        data = result.as_dict()
        data["failed"] = [{"id": f.instance_id, "reason": say(f.error) if f.error else f.message}
                          for f in result.failed]
        return data


@blp.route("/incidents/groups")
class GroupsView(MethodView):
    @blp.arguments(GroupQuery, location="query")
    @blp.response(200, IncidentGroups)
    def get(self, args):
        """Open incidents grouped by process, element and error (numbers and ids taken out of the
        message), biggest first, with count and first and last seen; a tenant's user sees its own."""
        actor = principal()
        with platform().Session() as session:
            found = incident_groups.incident_groups(platform(), session, actor, args.get("process_key"))
        detail = visibility.incident_detail(actor)
        return {"items": [_group(g, detail) for g in found], "total": len(found)}


@blp.route("/incidents/groups/retry")
class GroupRetryView(MethodView):
    @blp.arguments(GroupRetryRequest)
    @blp.response(200, GroupRetryResult)
    def post(self, body):
        """Retry every incident of a group (supervisors): {retried, failed: [{incident_id, reason}]}."""
        result = incident_groups.retry_group(platform(), principal(), body["key"])
        data = result.as_dict()
        data["failed"] = [{"incident_id": i, "process_instance_id": p, "reason": say(result.errors[i])}
                          for i, p, _r in result.failed]
        return data


def _group(group: incident_groups.IncidentGroup, detail: str) -> dict:
    from .incidents import REASON_TEXTS

    data = group.as_dict()
    if detail == "reason":  # a tenant's user: the one-line reason, in its language
        text = REASON_TEXTS.get(f"{group.kind.removesuffix('_failed')}_failed", REASON_TEXTS["step_failed"])()
        data["sample"] = data["pattern"] = text
        for incident in data["incidents"]:
            incident["message"] = text
    return data

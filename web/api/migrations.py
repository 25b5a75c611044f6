"""Instance migration: the plan, then the move, of running instances to another version."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.runtime import instances, migration

from ..error_text import say
from .context import platform, principal
from .schemas import DB_INT

PREFIX = "/migrations"
blp = Blueprint("api_migrations", __name__, description="Instance migration between process versions")


class MigrationFilter(Schema):
    process_key = fields.String()
    state = fields.String(validate=validate.OneOf(list(instances.STATES)))
    business_key = fields.String()
    tenant = fields.String()
    has_incident = fields.Boolean()


class PlanRequest(Schema):
    source_definition_id = fields.Integer(required=True, validate=DB_INT)
    target_definition_id = fields.Integer(required=True, validate=DB_INT)
    instance_ids = fields.List(fields.Integer(validate=DB_INT),
                               validate=validate.Length(min=1, max=migration.MAX_INSTANCES))
    filter = fields.Nested(MigrationFilter, metadata={
        "description": "instances of the source version that the list shows for this filter (ended ones left out)"})

    @validates_schema
    def _one_way(self, data, **kwargs):
        if ("instance_ids" in data) == ("filter" in data):
            raise ValidationError("give either instance_ids or filter", "instance_ids")


class MigrateRequest(PlanRequest):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class VersionOut(Schema):
    id = fields.Integer()
    key = fields.String()
    version = fields.Integer()
    name = fields.String(allow_none=True)


class ElementMapOut(Schema):
    element_id = fields.String()
    name = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    target_name = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "same, changed or removed"})
    changes = fields.List(fields.String())


class AddedOut(Schema):
    element_id = fields.String()
    name = fields.String(allow_none=True)


class LiveElementOut(Schema):
    element_id = fields.String()
    name = fields.String(allow_none=True)
    kind = fields.String(metadata={"description": "active, scope or listener"})
    target_id = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "same, changed or refused"})


class RefusalOut(Schema):
    code = fields.String(metadata={"description": ", ".join(migration.REASONS)})
    reason = fields.String()


class InstanceOut(Schema):
    id = fields.Integer()
    business_key = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    process_key = fields.String(allow_none=True)
    parent_id = fields.Integer(allow_none=True)
    ok = fields.Boolean()
    migrated = fields.Boolean()
    elements = fields.List(fields.Nested(LiveElementOut))
    refusals = fields.List(fields.Nested(RefusalOut))


class PlanOut(Schema):
    source = fields.Nested(VersionOut)
    target = fields.Nested(VersionOut)
    mapping = fields.List(fields.Nested(ElementMapOut))
    added = fields.List(fields.Nested(AddedOut))
    total = fields.Integer()
    movable = fields.Integer()
    refused = fields.Integer()
    instances = fields.List(fields.Nested(InstanceOut))


class ResultOut(Schema):
    source = fields.Nested(VersionOut)
    target = fields.Nested(VersionOut)
    total = fields.Integer()
    migrated = fields.Integer()
    refused = fields.Integer()
    instances = fields.List(fields.Nested(InstanceOut))


def _said(items: list[migration.InstancePlan], data: list[dict]) -> list[dict]:
    """Refusal reasons in the caller's language (Accept-Language)."""
    for item, out in zip(items, data, strict=True):
        out["refusals"] = [{"code": r.code, "reason": say(r.error)} for r in item.refusals]
    return data


def _args(body: dict) -> dict:
    flt = instances.InstanceFilter(**body["filter"]) if "filter" in body else None
    return {"instance_ids": body.get("instance_ids"), "flt": flt}


@blp.route("/plan")
class PlanView(MethodView):
    @blp.arguments(PlanRequest)
    @blp.response(200, PlanOut)
    def post(self, body):
        """What a migration would do (supervisors), changing nothing: the element mapping, and per
        instance where it stands, where that goes, and why it would be refused."""
        found = migration.plan(platform(), principal(), body["source_definition_id"], body["target_definition_id"],
                               **_args(body))
        data = found.as_dict()
        data["instances"] = _said(found.instances, data["instances"])
        return data


@blp.route("")
class MigrateView(MethodView):
    @blp.arguments(MigrateRequest)
    @blp.response(200, ResultOut)
    def post(self, body):
        """Move the instances (supervisors), each on its own: a refused one is listed with its reason
        and the rest go on; each moved one gets an ``instance.migrated`` audit event."""
        result = migration.migrate(platform(), principal(), body["source_definition_id"],
                                   body["target_definition_id"], reason=body["reason"], **_args(body))
        data = result.as_dict()
        data["instances"] = _said(result.instances, data["instances"])
        return data

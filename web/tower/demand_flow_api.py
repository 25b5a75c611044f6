"""Demands in Flow 1: single entry, submission, progress, the operator's change and cancel,
and batch steps (批量验收). The spreadsheets are in demands.py."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.queries.views import iso
from engine.runtime import jobs
from tower import demand_flow, demands
from web.api.context import platform, principal
from web.api.schemas import MessageResult
from web.tower.demands_api import Demand

PREFIX = "/demands"
blp = Blueprint("api_demand_flow", __name__, description="Demands in the tower order flow (铁塔需求立项)")


class DemandEntry(Schema):
    demand_no = fields.Raw(required=True)
    operator = fields.Raw(metadata={"description": "中国移动 / 中国联通 / 中国电信, or the tenant id; "
                                                   "operator users may leave it out"})
    province = fields.Raw(required=True)
    city = fields.Raw(required=True)
    county = fields.Raw(required=True)
    site_name = fields.Raw(required=True)
    longitude = fields.Raw(required=True)
    latitude = fields.Raw(required=True)
    tower_type = fields.Raw(required=True)
    antenna_height = fields.Raw(required=True)
    demand_type = fields.Raw(required=True)
    expected_delivery = fields.Raw(required=True, metadata={"description": "YYYY-MM-DD"})
    remarks = fields.Raw()


class SubmitRequest(Schema):
    demand_nos = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=500))
    customer_manager_phone = fields.String(load_default="", validate=validate.Length(max=32))


class Started(Schema):
    demand_no = fields.String()
    instance_id = fields.Integer()


class SubmitResult(Schema):
    started = fields.List(fields.Nested(Started))


class Step(Schema):
    task_id = fields.Integer()
    element_id = fields.String()
    title = fields.String()
    candidate_groups = fields.List(fields.String())
    assignee = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    due_at = fields.String(allow_none=True)
    completed_at = fields.String(allow_none=True)
    completed_by = fields.String(allow_none=True)


class Outcome(Schema):
    kind = fields.String(metadata={"description": "cancelled, order_cancelled, unplannable, negotiation_failed, "
                                                  "returned, terminated, incident"})
    reason = fields.String(metadata={"description": "the words given (operator, planner, manager, supervisor)"})
    code = fields.String(allow_none=True, metadata={"description": "Flow 2's failure_reason for negotiation_failed"})
    by = fields.String(allow_none=True)
    at = fields.String(allow_none=True)


class Change(Schema):
    at = fields.String(allow_none=True)
    by = fields.String(allow_none=True)
    reason = fields.String()
    fields_ = fields.Dict(data_key="fields", metadata={"description": "the new values"})


class Progress(Schema):
    demand = fields.Nested(Demand)
    open_steps = fields.List(fields.Nested(Step))
    done_steps = fields.List(fields.Nested(Step))
    flow_state = fields.String(allow_none=True)
    outcome = fields.Nested(Outcome, allow_none=True, metadata={"description": "how it ended; null while it runs"})
    changes = fields.List(fields.Nested(Change), metadata={"description": "the operator's 需求变更, oldest first"})
    change_refusal = fields.String(allow_none=True, metadata={
        "description": "why a change or cancel would be refused now (not_submitted, order_confirmed, cancelled, "
                       "unplannable, suspended, flow_ended); null when allowed"})


class CancelRequest(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    message_id = fields.String(validate=validate.Length(min=1, max=200),
                               metadata={"description": "repeat it to make a retry harmless"})


class ChangeRequest(CancelRequest):
    changes = fields.Dict(required=True, metadata={"description": "new values of " + ", ".join(demand_flow.CHANGEABLE)})


class BatchRequest(Schema):
    demand_nos = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=500))
    data = fields.Dict(load_default=dict, metadata={"description": "the step's form data, the same for all"})


class BatchDone(Schema):
    demand_no = fields.String()
    task_id = fields.Integer()
    instance_id = fields.Integer()


class BatchResult(Schema):
    done = fields.List(fields.Nested(BatchDone))


@blp.route("")
class EntryView(MethodView):
    @blp.arguments(DemandEntry)
    @blp.response(201, Demand)
    @blp.alt_response(422, description="the demand has errors (error.details.fields); nothing stored")
    def post(self, body):
        """单个录入: enter one demand, checked like an import row (duplicates included)."""
        pf = platform()
        demand_no = demand_flow.enter_demand(pf, principal(), body)
        with pf.Session() as session:
            return demands.demand_view(demands.get_demands(session, principal(), [demand_no])[0]), 201


@blp.route("/submit")
class SubmitView(MethodView):
    @blp.arguments(SubmitRequest)
    @blp.response(201, SubmitResult)
    @blp.alt_response(409, description="some demands were already submitted; nothing started")
    def post(self, body):
        """Submit collected demands: one tower order flow each, waiting for the operator's confirmation."""
        pf = platform()
        started = demand_flow.submit(pf, principal(), body["demand_nos"], body["customer_manager_phone"])
        _drain(pf, [item["instance_id"] for item in started])
        return {"started": started}, 201


@blp.route("/<string:demand_no>")
class ProgressView(MethodView):
    @blp.response(200, Progress)
    def get(self, demand_no):
        """进度查询: the demand with its open and finished steps."""
        with platform().Session() as session:
            view = demand_flow.progress(session, principal(), demand_no)
        for step in view["open_steps"] + view["done_steps"]:
            for key in ("created_at", "due_at", "completed_at"):
                step[key] = iso(step[key])
        if view["outcome"] is not None:
            view["outcome"]["at"] = iso(view["outcome"]["at"])
        view["changes"] = [{**c, "at": iso(c["at"]), "fields_": c["fields"]} for c in view["changes"]]
        return view


@blp.route("/<string:demand_no>/cancel")
class CancelView(MethodView):
    @blp.arguments(CancelRequest)
    @blp.response(200, MessageResult)
    @blp.alt_response(409, description="the order is already confirmed, or the demand was never submitted")
    def post(self, body, demand_no):
        """需求取消: stop all open work of the demand (before its order is confirmed)."""
        pf = platform()
        result = demand_flow.cancel(pf, principal(), demand_no, body["reason"], body.get("message_id"))
        _drain(pf, result["delivered_to"])
        return result


@blp.route("/<string:demand_no>/change")
class ChangeView(MethodView):
    @blp.arguments(ChangeRequest)
    @blp.response(200, MessageResult)
    @blp.alt_response(409, description="the order is already confirmed, or the demand was never submitted")
    @blp.alt_response(422, description="the new values have errors; nothing changed")
    def post(self, body, demand_no):
        """需求变更: new values for the demand; the flow goes back to 需求承接."""
        pf = platform()
        result = demand_flow.change(pf, principal(), demand_no, body["changes"], body["reason"],
                                    body.get("message_id"))
        _drain(pf, result["delivered_to"])
        return result


@blp.route("/batch/<string:step>")
class BatchView(MethodView):
    @blp.arguments(BatchRequest)
    @blp.response(200, BatchResult)
    @blp.alt_response(409, description="a demand is not at that step; nothing done")
    def post(self, body, step):
        """批量验收: do ``delivery`` (交付验收单) or ``confirm_acceptance`` (验收确认) for many demands at once."""
        pf = platform()
        done = demand_flow.complete_step(pf, principal(), step, body["demand_nos"], body["data"])
        _drain(pf, [item["instance_id"] for item in done])
        return {"done": done}


def _drain(pf, instance_ids: list[int]) -> None:
    """Run the service tasks the change queued, so the answer shows where each flow went."""
    for instance_id in instance_ids:
        jobs.drain(pf, instance_id)

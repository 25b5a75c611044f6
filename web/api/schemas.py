"""Request and response schemas of the REST API (they make the OpenAPI document)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.runtime.instances import STATES

# Numbers a request may filter by must fit a database integer: a larger one is a 422, not a driver error.
DB_INT = validate.Range(min=-(2**31), max=2**31 - 1)  # INTEGER columns on PostgreSQL
MAX_PAGE = 10**9  # so that the row offset (page - 1) * page_size stays a database integer too


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The list answer: one page of items with the total count."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item)), "total": fields.Integer(),
        "page": fields.Integer(), "page_size": fields.Integer(),
    }, name=name)


class ErrorBody(Schema):
    code = fields.String()
    message = fields.String()
    details = fields.Raw(allow_none=True)


class ErrorSchema(Schema):
    """Every error answer: ``{"error": {"code", "message", "details"}}``."""

    error = fields.Nested(ErrorBody)


class TokenRequest(Schema):
    username = fields.String(required=True)
    password = fields.String(required=True)


class TokenResponse(Schema):
    token = fields.String()


def _label(of: str, say) -> fields.Function:
    """A code's words beside it, in the language of Accept-Language (web/labels.py)."""
    def dump(obj):
        value = obj.get(of) if isinstance(obj, dict) else getattr(obj, of, None)
        return say(value) if value is not None else None

    return fields.Function(dump, dump_only=True, metadata={"description": f"{of} in words (Accept-Language)"})


def _process_label(key):
    from web.labels import process_label

    return process_label(key)


def _state_label(state):
    from web.labels import state_label

    return state_label(state)


def _tenant_label(tenant):
    from web.labels import tenant_label

    return tenant_label(tenant)


class Task(Schema):
    id = fields.Integer()
    title = fields.String()
    process_key = fields.String()
    process_label = _label("process_key", _process_label)
    state_label = _label("state", _state_label)
    process_instance_id = fields.Integer()
    business_key = fields.String(allow_none=True)
    tenant = fields.String(allow_none=True)
    candidate_groups = fields.List(fields.String())
    candidate_users = fields.List(fields.String())
    assignee = fields.String(allow_none=True)
    due_at = fields.String(allow_none=True)
    priority = fields.Integer()
    form_key = fields.String(allow_none=True)
    created_at = fields.String()
    state = fields.String()
    element_id = fields.String()
    called_instance_id = fields.Integer(allow_none=True, metadata={
        "description": "a step of a called process: that process's instance (process_key is its key)"})
    parent_process_key = fields.String(allow_none=True, metadata={"description": "the process that called it"})
    parent_business_key = fields.String(allow_none=True)


class TaskDetail(Task):
    form = fields.List(fields.Dict(), allow_none=True)
    variables = fields.Dict()


TaskPage = page_of(Task, "TaskPage")


class TaskQuery(PageArgs):
    assignee = fields.String(validate=validate.OneOf(["me"]))
    candidate = fields.String(validate=validate.OneOf(["me"]))
    process_key = fields.String()
    business_key = fields.String()
    overdue = fields.Boolean()
    q = fields.String(metadata={"description": "text in title or business key"})


class CompleteRequest(Schema):
    data = fields.Dict(load_default=dict)


class AssignRequest(Schema):
    user = fields.String(required=True, allow_none=True)


class Incident(Schema):
    id = fields.Integer()
    process_instance_id = fields.Integer()
    element_id = fields.String(allow_none=True)
    kind = fields.String()
    reason = fields.String(metadata={"description": "service_failed, timer_failed or step_failed"})
    message = fields.String(metadata={"description": "an operator (tenant) user reads a one-line reason in its "
                                      "language; staff read the engine's message"})
    traceback = fields.String(allow_none=True, metadata={"description": "supervisors and administrators only"})
    state = fields.String()
    created_at = fields.String()
    resolved_at = fields.String(allow_none=True)
    resolved_by = fields.String(allow_none=True)


IncidentPage = page_of(Incident, "IncidentPage")


class IncidentQuery(PageArgs):
    state = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved", "all"]))
    process_instance_id = fields.Integer(validate=DB_INT)


class Instance(Schema):
    id = fields.Integer()
    process_key = fields.String()
    process_label = _label("process_key", _process_label)
    state_label = _label("state", _state_label)
    tenant_label = _label("tenant", _tenant_label)
    version = fields.Integer()
    business_key = fields.String(allow_none=True)
    tenant = fields.String(allow_none=True)
    state = fields.String(metadata={"enum": list(STATES), "description": "completed or cancelled: the diagram "
                                    "reached an end event (its endState); terminated: a supervisor stopped it"})
    variables = fields.Dict()
    active_tasks = fields.List(fields.Nested(Task))
    incidents = fields.List(fields.Nested(Incident))
    started_at = fields.String()
    ended_at = fields.String(allow_none=True)
    started_by = fields.String(allow_none=True)
    end_reason = fields.String(allow_none=True)
    parent_id = fields.Integer(allow_none=True, metadata={"description": "the instance that called this one"})
    root_id = fields.Integer(allow_none=True, metadata={"description": "the top-level instance of a called one"})
    parent_process_key = fields.String(allow_none=True)
    parent_business_key = fields.String(allow_none=True)
    called = fields.List(fields.Dict(), metadata={"description": "instances this one called: id, process_key, "
                                                  "version, state"})


InstancePage = page_of(Instance, "InstancePage")


class InstanceQuery(PageArgs):
    process_key = fields.String()
    state = fields.String(validate=validate.OneOf(list(STATES)))
    business_key = fields.String()
    tenant = fields.String()
    version = fields.Integer(validate=DB_INT)
    has_incident = fields.Boolean()
    overdue = fields.Boolean(metadata={"description": "has an open task past its due time"})
    var = fields.List(fields.String(validate=validate.Length(max=400)), load_default=list, metadata={
        "description": "a variable condition name:op:value, op eq, contains (any case), gt or lt (numbers); "
                       "repeat for more (all must hold)"})
    element = fields.String(metadata={"description": "now at this element (BPMN id)"})
    parent_key = fields.String(metadata={"description": "called by an instance of this process"})
    top_level = fields.Boolean(metadata={"description": "only instances that no other one called"})


class StartRequest(Schema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    variables = fields.Dict(load_default=dict)
    tenant = fields.String(load_default=None, allow_none=True)


class TerminateRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AuditEvent(Schema):
    id = fields.Integer()
    at = fields.String()
    actor = fields.String(allow_none=True)
    action = fields.String()
    task_id = fields.Integer(allow_none=True)
    element_id = fields.String(allow_none=True)
    data = fields.Dict()


class History(Schema):
    items = fields.List(fields.Nested(AuditEvent))
    total = fields.Integer()


class Definition(Schema):
    id = fields.Integer()
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    deployment_id = fields.Integer()
    deployed_at = fields.String()
    starter_groups = fields.List(fields.String())
    start_form_key = fields.String(allow_none=True)
    message_starts = fields.List(fields.String())


DefinitionPage = page_of(Definition, "DefinitionPage")


class DefinitionQuery(PageArgs):
    key = fields.String()
    latest = fields.Boolean(load_default=False)


class DeployedItem(Schema):
    key = fields.String()
    version = fields.Integer()
    new = fields.Boolean(metadata={"description": "a new version was stored (false: unchanged, the latest)"})


class VersionRef(Schema):
    key = fields.String()
    version = fields.Integer()


class DeployedProcess(DeployedItem):
    decisions = fields.List(fields.Nested(VersionRef), metadata={
        "description": "the decision versions this process version holds (its business rule tasks' and its "
                       "called processes'); only for a process that uses decisions"})
    rebuilt = fields.Boolean(metadata={
        "description": "true when the process was not among the files: it was rebuilt from its deployed BPMN "
                       "file because the deployment changes a decision it uses"})


class DeployedDecision(DeployedItem):
    affects = fields.List(fields.Nested(VersionRef), metadata={
        "description": "the new process versions of this deployment that hold this new decision version; "
                       "instances they start use it, running ones keep their own (empty when unchanged)"})


class DeployWarning(Schema):
    file = fields.String()
    line = fields.Integer(allow_none=True)
    element_id = fields.String(allow_none=True)
    message = fields.String()
    severity = fields.String(metadata={"description": "always \"warning\" here"})
    code = fields.String(metadata={"description": "a stable name for the message, when it has one"})
    params = fields.Dict(metadata={"description": "the values the message names, with code"})


class DeploymentResult(Schema):
    deployment_id = fields.Integer(allow_none=True, metadata={"description": "null when nothing changed"})
    processes = fields.List(fields.Nested(DeployedProcess))
    decisions = fields.List(fields.Nested(DeployedDecision))
    warnings = fields.List(fields.Nested(DeployWarning), metadata={
        "description": "likely mistakes that did not refuse the deployment (a user task without a form or "
                       "candidates); errors refuse it with 422 and are never listed here"})


class Deployment(Schema):
    id = fields.Integer()
    deployed_at = fields.String()
    deployed_by = fields.String(allow_none=True)
    files = fields.List(fields.String())


DeploymentPage = page_of(Deployment, "DeploymentPage")


class MessageRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.String(load_default=None, allow_none=True)
    correlation = fields.Dict(load_default=dict)
    payload = fields.Dict(load_default=dict)
    message_id = fields.String(required=True, validate=validate.Length(min=1, max=200))


class MessageResult(Schema):
    message_id = fields.String()
    delivered_to = fields.List(fields.Integer())
    started = fields.List(fields.Integer())

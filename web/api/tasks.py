"""Human tasks: the inbox, claim, unclaim, assign, delegate, complete, comments, saved filters.

A task of a suspended instance answers 409 with the code ``instance_suspended`` to claim,
delegate and complete.
"""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.clock import iso
from engine.queries import instance_list, visibility
from engine.queries.views import task_view
from engine.runtime import comments, jobs, saved_filters, tasks

from .context import listing, page, platform, principal
from .schemas import AssignRequest, CompleteRequest, Instance, Task, TaskDetail, TaskPage, TaskQuery

PREFIX = "/tasks"
blp = Blueprint("api_tasks", __name__, description="Human tasks")


class Comment(Schema):
    id = fields.Integer()
    task_id = fields.Integer()
    author = fields.String()
    body = fields.String()
    created_at = fields.String()


class CommentRequest(Schema):
    body = fields.String(load_default="")  # the engine refuses empty or long ones, after the tenant's 404


class DelegateRequest(Schema):
    user = fields.String(load_default="", validate=validate.Length(max=100))  # empty: 422 from the engine,
    reason = fields.String(load_default="", validate=validate.Length(max=1000))  # after the tenant's 404


class SavedFilterView(Schema):
    id = fields.Integer()
    name = fields.String()
    params = fields.Dict(keys=fields.String(), values=fields.String())


class SavedFilterRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=saved_filters.MAX_NAME))
    params = fields.Dict(keys=fields.String(validate=validate.OneOf(saved_filters.KEYS)),
                         values=fields.String(), required=True)


class TaskListPage(TaskPage):
    total_capped = fields.Boolean(metadata={"description": "true: more tasks match than `total` (not counted further)"})


def _comment_view(row) -> dict:
    return {"id": row.id, "task_id": row.task_id, "author": row.author, "body": row.body,
            "created_at": iso(row.created_at)}


def _task(task_id: int) -> dict:
    actor = principal()
    with platform().Session() as session:
        row = tasks.visible_task(session, actor, task_id)
        return dict(task_view(row), **instance_list.task_fields(row, instance_list.task_callers(session, [row]).get(
            row.id)))


@blp.route("")
class TasksView(MethodView):
    @blp.arguments(TaskQuery, location="query")
    @blp.response(200, TaskListPage)
    def get(self, args):
        """Open tasks, sorted by due time then priority; ``total`` is exact up to 1,000 (or the
        page's end) and past it that number with ``total_capped``: there are more."""
        actor = principal()
        offset, limit = page(args)
        flt = tasks.TaskFilter(assignee_me=args.get("assignee") == "me", candidate_me=args.get("candidate") == "me",
                               process_key=args.get("process_key"), business_key=args.get("business_key"),
                               overdue=args.get("overdue"), text=args.get("q"))
        with platform().Session() as session:
            found = tasks.find_tasks(session, actor, flt, platform().clock.now(), offset, limit)
            callers = instance_list.task_callers(session, found.rows)
            items = [dict(task_view(r), **instance_list.task_fields(r, callers.get(r.id))) for r in found.rows]
            return dict(listing(items, found.total, args), total_capped=found.capped)


@blp.route("/<int:task_id>")
class TaskView(MethodView):
    @blp.response(200, TaskDetail)
    def get(self, task_id):
        """A task with its form's field description and the data it sees."""
        from forms import describe

        actor = principal()
        with platform().Session() as session:
            row = tasks.visible_task(session, actor, task_id)
            view = visibility.task_view(actor, row)
            view.update(instance_list.task_fields(row, instance_list.task_callers(session, [row]).get(row.id)))
            shown = "form_key" in view  # a customer reads no form of a step it takes no part in
            schema = platform().forms.get(row.form_key) if row.form_key and shown else None
            view["form"] = describe(schema) if schema is not None else None
            data = tasks.task_data(platform(), session, row)
            view["variables"] = visibility.task_variables(session, actor, row, data, platform().forms)
        return view


@blp.route("/<int:task_id>/claim")
class ClaimView(MethodView):
    @blp.response(200, Task)
    @blp.alt_response(409, description="someone else holds the task, or its instance is suspended "
                                       "(code instance_suspended)")
    def post(self, task_id):
        """Claim a task you are a candidate for."""
        tasks.claim(platform(), principal(), task_id)
        return _task(task_id)


@blp.route("/<int:task_id>/unclaim")
class UnclaimView(MethodView):
    @blp.response(200, Task)
    def post(self, task_id):
        """Give a claimed task back to its candidates."""
        tasks.unclaim(platform(), principal(), task_id)
        return _task(task_id)


@blp.route("/<int:task_id>/assign")
class AssignView(MethodView):
    @blp.arguments(AssignRequest)
    @blp.response(200, Task)
    def post(self, body, task_id):
        """Assign the task to a user (administrators, or the current assignee)."""
        tasks.assign(platform(), principal(), task_id, body.get("user"))
        return _task(task_id)


@blp.route("/<int:task_id>/delegate")
class DelegateView(MethodView):
    @blp.arguments(DelegateRequest)
    @blp.response(200, Task)
    @blp.alt_response(422, description="the user is unknown, disabled, of another tenant or not a candidate "
                                        "(details.why says which)")
    @blp.alt_response(409, description="the task is closed or its instance suspended (instance_suspended)")
    def post(self, body, task_id):
        """Hand the task to another candidate (the assignee, a supervisor or an admin), with a reason.

        Recorded in the audit trail as ``task.delegated`` with from, to, by and reason."""
        tasks.delegate(platform(), principal(), task_id, body["user"], body.get("reason", ""))
        return _task(task_id)


@blp.route("/<int:task_id>/comments")
class CommentsView(MethodView):
    @blp.response(200, Comment(many=True))
    def get(self, task_id):
        """The task's comments, oldest first (operator users: only on tasks they take part in)."""
        with platform().Session() as session:
            return [_comment_view(c) for c in comments.of_task(session, principal(), task_id)]

    @blp.arguments(CommentRequest)
    @blp.response(201, Comment)
    def post(self, body, task_id):
        """Add a comment to the task; it shows in the task page's history."""
        from engine.models import TaskComment

        comment_id = comments.add(platform(), principal(), task_id, body["body"])
        with platform().Session() as session:
            return _comment_view(session.get(TaskComment, comment_id))


@blp.route("/filters")
class SavedFiltersView(MethodView):
    @blp.response(200, SavedFilterView(many=True))
    def get(self):
        """The caller's saved inbox filters, by name."""
        with platform().Session() as session:
            return [{"id": f.id, "name": f.name, "params": f.params}
                    for f in saved_filters.list_for(session, principal())]

    @blp.arguments(SavedFilterRequest)
    @blp.response(201, SavedFilterView)
    def post(self, body):
        """Save (or replace by name) a filter of tab, process, q, overdue, sort and order."""
        filter_id = saved_filters.save(platform(), principal(), body["name"], body["params"])
        with platform().Session() as session:
            row = next(f for f in saved_filters.list_for(session, principal()) if f.id == filter_id)
            return {"id": row.id, "name": row.name, "params": row.params}


@blp.route("/filters/<int:filter_id>")
class SavedFilterItemView(MethodView):
    @blp.response(204)
    def delete(self, filter_id):
        """Delete one of the caller's saved filters (404 for anyone else's)."""
        saved_filters.remove(platform(), principal(), filter_id)


@blp.route("/<int:task_id>/complete")
class CompleteView(MethodView):
    @blp.arguments(CompleteRequest)
    @blp.response(200, Instance)
    @blp.alt_response(422, description="the form has errors; nothing changed")
    def post(self, body, task_id):
        """Complete the task with its form data; answers with the instance after it moved on."""
        from .instances import _view, step_view

        step = tasks.complete_step(platform(), principal(), task_id, body.get("data"), then=step_view)
        if not step.queued:  # a step that queued nothing leaves nothing to drain: the answer is made
            return step.view
        jobs.drain(platform(), step.instance_id)
        return _view(step.instance_id)

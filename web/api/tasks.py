"""Human tasks: the inbox, claim, unclaim, assign, complete."""

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.queries.views import task_view
from engine.runtime import jobs, tasks

from .context import listing, page, platform, principal
from .schemas import AssignRequest, CompleteRequest, Instance, Task, TaskDetail, TaskPage, TaskQuery

PREFIX = "/tasks"
blp = Blueprint("api_tasks", __name__, description="Human tasks")


def _task(task_id: int) -> dict:
    actor = principal()
    with platform().Session() as session:
        return task_view(tasks.visible_task(session, actor, task_id))


@blp.route("")
class TasksView(MethodView):
    @blp.arguments(TaskQuery, location="query")
    @blp.response(200, TaskPage)
    def get(self, args):
        """Open tasks, sorted by due time then priority."""
        actor = principal()
        offset, limit = page(args)
        flt = tasks.TaskFilter(assignee_me=args.get("assignee") == "me", candidate_me=args.get("candidate") == "me",
                               process_key=args.get("process_key"), business_key=args.get("business_key"),
                               overdue=args.get("overdue"), text=args.get("q"))
        with platform().Session() as session:
            rows, total = tasks.list_tasks(session, actor, flt, platform().clock.now(), offset, limit)
            return listing([task_view(r) for r in rows], total, args)


@blp.route("/<int:task_id>")
class TaskView(MethodView):
    @blp.response(200, TaskDetail)
    def get(self, task_id):
        """A task with its form's field description and the data it sees."""
        from forms import describe

        actor = principal()
        with platform().Session() as session:
            row = tasks.visible_task(session, actor, task_id)
            view = task_view(row)
            schema = platform().forms.get(row.form_key) if row.form_key else None
            view["form"] = describe(schema) if schema is not None else None
            view["variables"] = tasks.task_data(platform(), session, row)
        return view


@blp.route("/<int:task_id>/claim")
class ClaimView(MethodView):
    @blp.response(200, Task)
    @blp.alt_response(409, description="someone else holds the task")
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


@blp.route("/<int:task_id>/complete")
class CompleteView(MethodView):
    @blp.arguments(CompleteRequest)
    @blp.response(200, Instance)
    @blp.alt_response(422, description="the form has errors; nothing changed")
    def post(self, body, task_id):
        """Complete the task with its form data; answers with the instance after it moved on."""
        from .instances import _view

        instance_id = tasks.complete(platform(), principal(), task_id, body.get("data"))
        jobs.drain(platform(), instance_id)
        return _view(instance_id)

"""Process instances: start, list, inspect, suspend, resume, terminate, history."""

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.queries import family, instance_list, visibility
from engine.queries.views import instance_view
from engine.runtime import audit, instances

from .context import listing, page, platform, principal
from .schemas import History, Instance, InstancePage, InstanceQuery, StartRequest, TerminateRequest

PREFIX = "/process-instances"
blp = Blueprint("api_instances", __name__, description="Process instances")


def _view(instance_id: int) -> dict:
    """The instance as the caller may read it: a tenant's user sees only the customer side."""
    with platform().Session() as session:  # one session: each row read once
        row = instances.visible_instance(session, principal(), instance_id)
        return _answer(session, row, family.open_tasks(session, row), family.family(session, row))


def step_view(run) -> dict:
    """``_view`` of the run a step just saved, inside its transaction: the instance row, its
    open tasks and (when it called none and is in no error) its family and incidents are known
    already, so the answer reads nothing again (``advance.apply_step``'s ``then``)."""
    row = run.row
    relatives = family.family(run.session, row) if run.had_called or row.parent_id else family.Family()
    return _answer(run.session, row, run.open_tasks(), relatives, incidents=None if row.state == "error" else [])


def _answer(session, row, open_tasks, relatives, incidents=None) -> dict:
    actor = principal()
    view = visibility.instance_view(session, actor, row, forms=platform().forms, open_tasks=open_tasks,
                                    incidents=incidents)
    view.update(instance_list.family_fields(row, relatives.parent, relatives.children))
    callers = instance_list.task_callers(session, open_tasks)  # the same keys as GET /tasks gives each task
    extra = {t.id: instance_list.task_fields(t, callers.get(t.id)) for t in open_tasks}
    view["active_tasks"] = [dict(task, **extra.get(task["id"], {})) for task in view.get("active_tasks", [])]
    from .incidents import translated

    view["incidents"] = [translated(i, visibility.incident_detail(actor)) for i in view["incidents"]]
    return view


def query_filter(args: dict) -> instances.InstanceFilter:
    """The list's query string as the engine's filter (shared by the list and its export)."""
    return instances.InstanceFilter(
        **{k: args.get(k) for k in ("process_key", "state", "business_key", "tenant", "version", "has_incident",
                                    "element", "parent_key")},
        overdue=bool(args.get("overdue")), top_level=bool(args.get("top_level")),
        variables=[instances.parse_condition(text) for text in args.get("var") or []])


@blp.route("")
class InstancesView(MethodView):
    @blp.arguments(InstanceQuery, location="query")
    @blp.response(200, InstancePage)
    def get(self, args):
        """List instances visible to the caller, newest first."""
        actor = principal()
        offset, limit = page(args)
        flt = query_filter(args)
        with platform().Session() as session:
            rows, total = instances.list_instances(session, actor, flt, offset, limit, platform().clock.now())
            by_parent = instance_list.parents(session, rows)
            called = instance_list.children(session, [r.id for r in rows])
            items = [dict(instance_view(session, r, detail=False), **instance_list.family_fields(
                r, by_parent.get(r.parent_id), called.get(r.id, []))) for r in rows]
            return listing(items, total, args)

    @blp.arguments(StartRequest)
    @blp.response(201, Instance)
    def post(self, body):
        """Start the latest version of a process."""
        actor = principal()
        step = instances.start_step(platform(), actor, body["process_key"], body.get("business_key"),
                                    body.get("variables"), body.get("tenant"), then=step_view)
        if not step.queued:  # first steps that queued nothing leave nothing to drain: the answer is made
            return step.view
        from engine.runtime import jobs

        jobs.drain(platform(), step.instance_id)
        return _view(step.instance_id)


@blp.route("/export.xlsx")
class ExportView(MethodView):
    @blp.arguments(InstanceQuery, location="query")
    @blp.response(200, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    def get(self, args):
        """The filtered list (the list's filters) as an Excel file with Chinese headers, newest first,
        at most 50,000 rows (a note on top says when there were more)."""
        from flask_babel import force_locale

        from web.ui import instance_export

        with platform().Session() as session, force_locale("zh"):
            found = instance_list.export(session, principal(), query_filter(args), platform().clock.now())
            data = instance_export.workbook(found)
        return instance_export.response(data, "流程实例.xlsx")


@blp.route("/<int:instance_id>")
class InstanceView(MethodView):
    @blp.response(200, Instance)
    def get(self, instance_id):
        """An instance with its variables, active tasks and open incidents."""
        return _view(instance_id)


@blp.route("/<int:instance_id>/suspend")
class SuspendView(MethodView):
    @blp.response(200, Instance)
    def post(self, instance_id):
        """Suspend: nothing runs and no task can be completed until resumed."""
        instances.suspend(platform(), principal(), instance_id)
        return _view(instance_id)


@blp.route("/<int:instance_id>/resume")
class ResumeView(MethodView):
    @blp.response(200, Instance)
    def post(self, instance_id):
        """Resume a suspended instance."""
        instances.resume(platform(), principal(), instance_id)
        return _view(instance_id)


@blp.route("/<int:instance_id>/terminate")
class TerminateView(MethodView):
    @blp.arguments(TerminateRequest)
    @blp.response(200, Instance)
    def post(self, body, instance_id):
        """Terminate with a reason: every open task and timer is cancelled."""
        instances.terminate(platform(), principal(), instance_id, body["reason"])
        return _view(instance_id)


@blp.route("/<int:instance_id>/history")
class HistoryView(MethodView):
    @blp.response(200, History)
    def get(self, instance_id):
        """The audit trail: who changed what, when, in which task (a tenant's user: its own actions,
        the steps it takes part in and the instance's start and end)."""
        actor = principal()
        with platform().Session() as session:
            row = instances.visible_instance(session, actor, instance_id)
            events = visibility.history(session, actor, row, audit.history(session, instance_id), platform().forms)
        return {"items": events, "total": len(events)}

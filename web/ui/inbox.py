"""The inbox: all my work (mine and my groups'), claiming, and working on one task's form.

It opens on "all my work" (my tasks and the unclaimed tasks of my groups, overdue first), so
overdue group work is never hidden behind an empty "my tasks" tab. A claim opens the task.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy.orm import defer

from engine.errors import Conflict, EngineError, Forbidden, NotFound, ValidationFailed
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from engine.queries import instance_list
from engine.runtime import audit, comments, drafts, files, jobs, saved_filters, tasks
from forms.fields import FileUpload

from ..error_text import say
from . import form_widgets as fw
from .helpers import pager, platform, principal

bp = Blueprint("inbox", __name__)
bp.add_app_template_filter(files.human_size, "file_size")

# "work": mine and my groups' unclaimed tasks (the default); "all": every task in the
# supervisor's or admin's tenant scope
TABS = ("work", "mine", "group", "all")
DEFAULT_TAB = "work"
SORTS = ("due", "priority", "created")
DEFAULT_DESC = {"due": False, "priority": True, "created": True}
DUE_SOON = timedelta(hours=1)


# --- the list ---------------------------------------------------------------------------

def tabs() -> tuple[str, ...]:
    actor = principal()
    return TABS if actor.is_admin or "supervisor" in actor.groups else TABS[:3]


def _filter(tab: str, args=None) -> tasks.TaskFilter:
    args = request.args if args is None else args
    overdue = True if args.get("overdue") == "1" else None
    return tasks.TaskFilter(assignee_me=tab == "mine", candidate_me=tab == "group", my_work=tab == "work",
                            process_key=args.get("process") or None, text=(args.get("q") or "").strip() or None,
                            overdue=overdue)


def _sort() -> tuple[str, bool]:
    sort = request.args.get("sort", "due")
    sort = sort if sort in SORTS else "due"
    order = request.args.get("order")
    return sort, (order == "desc") if order in ("asc", "desc") else DEFAULT_DESC[sort]


def counts() -> dict[str, int]:
    """How many tasks each tab holds, without the page's filters; "overdue": my overdue work.
    Counted up to ``tasks.TASK_COUNT_CAP`` + 1 only: more than the cap shows as "1,000+"."""
    actor, now, cap = principal(), platform().clock.now(), tasks.TASK_COUNT_CAP
    with platform().Session() as session:
        found = {tab: tasks.count_tasks(session, actor, _filter(tab, {}), now, cap=cap) for tab in tabs()}
        found["overdue"] = tasks.count_tasks(session, actor, _filter("work", {"overdue": "1"}), now, cap=cap)
        return found


def count_text(n: int, capped: bool | None = None) -> str:
    """A count as the page shows it: "1,000+" past the cap (the rest was not counted)."""
    if capped or (capped is None and n > tasks.TASK_COUNT_CAP):
        return _("%(n)s+", n=format_number(min(n, tasks.TASK_COUNT_CAP) if capped is None else n))
    return str(n)


def due_class(task: HumanTask, now: datetime) -> str:
    if task.due_at is None:
        return ""
    if task.due_at < now:
        return "overdue"
    return "due-soon" if task.due_at - now <= DUE_SOON else ""


@bp.get("/inbox")
@login_required
def index() -> ResponseReturnValue:
    tab = request.args.get("tab", DEFAULT_TAB)
    tab = tab if tab in tabs() else DEFAULT_TAB
    sort, desc = _sort()
    actor, now = principal(), platform().clock.now()
    page = pager()
    with platform().Session() as session:
        found = tasks.find_tasks(session, actor, _filter(tab), now, page.offset, page.size, sort=sort, desc=desc)
        rows = found.rows
        page.total = found.total + 1 if found.capped else found.total  # one more page: "Next" stays
        processes = tasks.process_keys(session, actor)
        names = _process_names(session, processes + [r.process_key for r in rows])
        suspended = tasks.suspended_instances(session, [r.instance_id for r in rows])
        callers = instance_list.task_callers(session, rows)
        saved = [(f.id, f.name, url_for("inbox.index", **f.params)) for f in saved_filters.list_for(session, actor)]
    filtered = any(request.args.get(k) for k in ("process", "q", "overdue"))
    return render_template("inbox/index.html", tab=tab, rows=rows, pager=page, counts=counts(), now=now,
                           due_class=due_class, processes=processes, names=names, sort=sort, desc=desc,
                           args=request.args, sort_link=_sort_link, suspended=suspended, saved=saved,
                           filtered=filtered, current_query=_current_query(tab), callers=callers,
                           capped=found.capped, total_text=count_text(found.total, found.capped),
                           count_text=count_text, cap=tasks.TASK_COUNT_CAP,
                           cap_text=format_number(tasks.TASK_COUNT_CAP))


def _current_query(tab: str) -> dict[str, str]:
    """The page's filter as a saved filter would keep it."""
    return saved_filters.clean({**request.args.to_dict(), "tab": tab})


@bp.post("/inbox/filters")
@login_required
def save_filter() -> ResponseReturnValue:
    params = {k: request.form.get(k, "") for k in saved_filters.KEYS}
    try:
        saved_filters.save(platform(), principal(), request.form.get("name", ""), params)
    except ValidationFailed as exc:
        fields_ = (exc.details or {}).get("fields", {})
        flash(_("Give the filter a name (at most 100 characters).") if "name" in fields_
              else _("Choose a process, a text or overdue before saving a filter."), "error")
    except Conflict:
        flash(_("You have too many saved filters; delete one first."), "error")
    else:
        flash(_("Filter “%(name)s” saved.", name=request.form.get("name", "").strip()), "success")
    return redirect(url_for("inbox.index", **saved_filters.clean(params)))


@bp.post("/inbox/filters/<int:filter_id>/delete")
@login_required
def delete_filter(filter_id: int) -> ResponseReturnValue:
    try:
        saved_filters.remove(platform(), principal(), filter_id)
        flash(_("The saved filter was deleted."), "success")
    except NotFound:
        flash(_("This saved filter does not exist."), "error")
    return redirect(_back())


def _sort_link(column: str) -> str:
    """The URL that sorts by ``column``, flipping the order when it already does."""
    sort, desc = _sort()
    args = request.args.to_dict()
    args.pop("page", None)
    args["sort"] = column
    args["order"] = ("asc" if desc else "desc") if column == sort else ("desc" if DEFAULT_DESC[column] else "asc")
    return url_for("inbox.index", **args)


def _process_names(session, keys) -> dict[str, str]:
    from sqlalchemy import select

    keys = sorted(set(keys))
    if not keys:
        return {}
    rows = session.execute(select(ProcessDefinition.key, ProcessDefinition.name)
                           .where(ProcessDefinition.key.in_(keys)).order_by(ProcessDefinition.version)).all()
    return {key: name or key for key, name in rows}


@bp.get("/inbox/counts")
@login_required
def counts_json() -> ResponseReturnValue:
    """The tab counts; one past ``tasks.TASK_COUNT_CAP`` means more (the page says "1,000+")."""
    return jsonify(counts())


@bp.post("/inbox/claim")
@login_required
def claim_selected() -> ResponseReturnValue:
    ids = [int(v) for v in request.form.getlist("task_id") if v.isdigit()]
    back = _back()
    if not ids:
        flash(_("Select the tasks to claim first."), "error")
        return redirect(back)
    claimed, refused = tasks.claim_many(platform(), principal(), ids)
    if len(ids) == 1 and claimed:  # claiming one task opens it
        flash(_("You claimed this task."), "success")
        return redirect(url_for("inbox.task", task_id=claimed[0]))
    if claimed:
        flash(_("You claimed %(n)s task(s).", n=len(claimed)), "success")
    if refused:
        flash(_("%(n)s task(s) could not be claimed (someone else holds them or you are not a candidate).",
                n=len(refused)), "error")
    return redirect(back)


def _back(default: str | None = None) -> str:
    target = request.form.get("next") or request.args.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return target
    return default or url_for("inbox.index")


# --- one task ---------------------------------------------------------------------------

@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> ResponseReturnValue:
    """Claim, then open the task (from the list too); a refusal goes back where it came from."""
    try:
        tasks.claim(platform(), principal(), task_id)
    except (Conflict, Forbidden) as exc:
        flash(_claim_problem(exc), "error")
        return redirect(_back(url_for("inbox.task", task_id=task_id)))
    except NotFound:
        abort(404)
    flash(_("You claimed this task."), "success")
    return redirect(url_for("inbox.task", task_id=task_id))


@bp.post("/tasks/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int) -> ResponseReturnValue:
    try:
        tasks.unclaim(platform(), principal(), task_id)
        flash(_("The task is back in its group's tasks."), "success")
    except (Conflict, Forbidden) as exc:
        flash(_claim_problem(exc), "error")
    return redirect(_back(url_for("inbox.task", task_id=task_id)))


def _claim_problem(exc: EngineError) -> str:
    if isinstance(exc, tasks.TaskSuspended) or "suspended" in exc.message:
        return _("The process is suspended; try again once it is resumed.")
    if isinstance(exc, Conflict) and isinstance(exc.details, dict) and exc.details.get("assignee"):
        return _("%(user)s has already claimed this task.", user=exc.details["assignee"])
    if isinstance(exc, Conflict):
        return _("This task is no longer open.")
    return _("You may not do this with this task.")


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int) -> ResponseReturnValue:
    actor = principal()
    with platform().Session() as session:
        row = tasks.visible_task(session, actor, task_id)
        draft = drafts.load(session, actor, task_id)
        ws = _widgets(row)
        raw = fw.raw_from_values(ws, tasks.task_data(platform(), session, row))
        if draft is not None:
            raw.update(draft.data or {})
    return _render_task(task_id, ws, raw, {}, draft_saved_at=draft.saved_at if draft else None)


@bp.post("/tasks/<int:task_id>")
@login_required
def submit(task_id: int) -> ResponseReturnValue:
    actor = principal()
    action = request.form.get("action", "complete")
    with platform().Session() as session:
        row = tasks.visible_task(session, actor, task_id)
        instance_id = row.instance_id
        ws = _widgets(row)
        may_work = permissions(row, actor)["may_work"]
        suspended = bool(tasks.suspended_instances(session, [instance_id]))
    if suspended and row.state == "open":  # keep what was typed; nothing is stored
        flash(_("The process is suspended; try again once it is resumed."), "error")
        return _render_task(task_id, ws, fw.raw_values(ws, request.form), {}, status=409)
    if not may_work:
        flash(_why_not(row), "error")
        return redirect(url_for("inbox.task", task_id=task_id))
    if action == "discard":
        drafts.discard(platform(), actor, task_id)
        flash(_("The draft was discarded."), "info")
        return redirect(url_for("inbox.task", task_id=task_id))
    raw = fw.raw_values(ws, request.form)
    upload_problems = fw.store_uploads(platform(), actor, ws, raw, request.files, instance_id=instance_id,
                                       task_id=task_id)
    if action == "draft":
        drafts.save(platform(), actor, task_id, raw)
        flash(_("The draft was saved. You can finish the form later."), "success")
        if upload_problems:
            return _render_task(task_id, ws, raw, fw.merge_errors(upload_problems), status=422)
        return redirect(url_for("inbox.task", task_id=task_id))
    return _complete(task_id, ws, raw, upload_problems, instance_id)


@bp.post("/tasks/<int:task_id>/uploads")
@login_required
def upload(task_id: int) -> ResponseReturnValue:
    """One file for a file field, sent by inbox.js as soon as it is chosen (with a progress bar):
    the answer's id joins the form as an attached file, or a refusal says why in the page's
    language; either way the files already attached stay."""
    actor = principal()
    with platform().Session() as session:
        row = tasks.visible_task(session, actor, task_id)
        may_work = permissions(row, actor)["may_work"]
        suspended = bool(tasks.suspended_instances(session, [row.instance_id]))
        ws = {w.name: w for w in _widgets(row) if w.kind == "file"}
    item = request.files.get("file")
    if suspended:
        return jsonify(error=_("The process is suspended; try again once it is resumed.")), 409
    if not may_work:
        return jsonify(error=_why_not(row)), 409
    widget = ws.get(request.form.get("field", ""))
    if widget is None or item is None or not item.filename:
        return jsonify(error=_("Choose a file for one of the form's file fields.")), 422
    try:
        file_id = files.store(platform(), actor, widget.name, files.Upload(item.filename, item.read()),
                              widget.limits(), instance_id=row.instance_id, task_id=task_id)
    except ValidationFailed as exc:
        return jsonify(error=_("“%(name)s” was not attached: %(why)s", name=item.filename,
                               why=fw.translate(exc.message))), 422
    with platform().Session() as session:
        stored = files.visible_file(session, actor, file_id)
        answer = {"id": stored.id, "filename": stored.filename, "size": stored.size,
                  "size_text": files.human_size(stored.size), "url": url_for("inbox.download", file_id=stored.id)}
    return jsonify(answer), 201


def _why_not(row: HumanTask) -> str:
    """Why this user may not submit the task's form."""
    if row.state != "open":
        return _claim_problem(Conflict(""))
    if row.assignee is None:
        return _("Claim this task before you work on it.")
    return _claim_problem(Conflict("", {"assignee": row.assignee}))


def _complete(task_id: int, ws, raw: dict[str, Any], upload_problems, instance_id: int):
    actor = principal()
    data = fw.form_data(ws, raw)
    problems = fw.merge_errors(upload_problems, fw.file_problems(platform(), principal(), ws, raw, instance_id))
    if problems:  # show the form's other mistakes too, in one go
        return _render_task(task_id, ws, raw, fw.merge_errors(problems, _form_problems(task_id, data)), status=422)
    try:
        drafts.complete(platform(), actor, task_id, data)
    except ValidationFailed as exc:
        return _render_task(task_id, ws, raw, fw.field_errors(exc.details) or {"": [say(exc)]}, status=422)
    except (Conflict, Forbidden) as exc:
        flash(_claim_problem(exc), "error")
        return _render_task(task_id, ws, raw, {}, status=409)
    jobs.drain(platform(), instance_id)
    with platform().Session() as session:
        title = session.get(HumanTask, task_id).title
    flash(_("Task “%(title)s” completed.", title=title), "success")
    return redirect(url_for("inbox.index"))


def _form_problems(task_id: int, data: dict[str, Any]) -> dict[str, list[str]]:
    """The form's own validation, without completing anything."""
    with platform().Session() as session:
        form_key = session.get(HumanTask, task_id).form_key
    return fw.check_form(platform().forms, form_key, data)


def _widgets(row: HumanTask) -> list[fw.Widget]:
    schema = platform().forms.get(row.form_key) if row.form_key else None
    return fw.widgets(schema) if schema is not None else []


def _render_task(task_id: int, ws, raw, errors, status: int = 200, draft_saved_at=None):
    actor = principal()
    with platform().Session() as session:
        row = tasks.visible_task(session, actor, task_id)
        context = task_context(session, row)
        kept = files.describe(session, actor, [i for w in ws if w.kind == "file" for i in fw.file_ids(raw, w)],
                              row.instance_id)
        allowed = permissions(row, actor)
        suspended = context["instance"].state == "suspended"
        if suspended:
            allowed.update(may_work=False, may_claim=False, may_delegate=False)
        targets = tasks.delegation_targets(session, row) if allowed["may_delegate"] else []
        notes = comments.of_instance(session, actor, row.instance_id)
        body = render_template(
            "inbox/task.html", task=row, widgets=ws, raw=raw, errors=errors, kept_files=kept, ctx=context,
            draft_saved_at=draft_saved_at, now=platform().clock.now(), due_class=due_class,
            has_files=any(w.kind == "file" for w in ws), action_label=action_label, suspended=suspended,
            timeline=timeline(context["events"], notes), targets=targets,
            may_comment=comments.may_read(row, actor), **allowed)
    return body, status


def timeline(events, notes) -> list[dict[str, Any]]:
    """The task page's history: the instance's events and the comments, oldest first."""
    items = [{"at": e.at, "actor": e.actor, "kind": "event", "event": e} for e in events]
    items += [{"at": c.created_at, "actor": c.author, "kind": "comment", "comment": c} for c in notes]
    return sorted(items, key=lambda item: item["at"])


@bp.post("/tasks/<int:task_id>/comments")
@login_required
def add_comment(task_id: int) -> ResponseReturnValue:
    try:
        comments.add(platform(), principal(), task_id, request.form.get("body", ""))
    except ValidationFailed as exc:
        too_long = "too_long" in str((exc.details or {}).get("fields", {}))
        flash(_("The comment is too long (at most %(n)s characters).", n=comments.MAX_LENGTH) if too_long
              else _("Write something before adding a comment."), "error")
    except NotFound:
        abort(404)
    else:
        flash(_("Your comment was added."), "success")
    return redirect(url_for("inbox.task", task_id=task_id) + "#timeline")


@bp.post("/tasks/<int:task_id>/delegate")
@login_required
def delegate(task_id: int) -> ResponseReturnValue:
    user = request.form.get("user", "")
    try:
        tasks.delegate(platform(), principal(), task_id, user, request.form.get("reason", ""))
    except ValidationFailed as exc:
        flash(_delegate_problem(exc, user), "error")
    except (Conflict, Forbidden) as exc:
        flash(_claim_problem(exc) if isinstance(exc, Conflict) else
              _("Only the assignee, a supervisor or an administrator may hand this task on."), "error")
    except NotFound:
        abort(404)
    else:
        flash(_("The task was handed to %(user)s.", user=user.strip()), "success")
    return redirect(url_for("inbox.task", task_id=task_id))


def _delegate_problem(exc: ValidationFailed, user: str) -> str:
    why = (exc.details or {}).get("why") if isinstance(exc.details, dict) else None
    return {
        "unknown": _("There is no user named %(user)s.", user=user),
        "disabled": _("%(user)s is disabled and cannot receive tasks.", user=user),
        "other_tenant": _("%(user)s belongs to another company and cannot see this task.", user=user),
        "not_candidate": _("%(user)s is not in a group this task is offered to, so cannot take it.", user=user),
        "already_assignee": _("%(user)s already holds this task.", user=user),
    }.get(why, _("Choose the user to hand the task to (a reason is at most 1000 characters)."))


def permissions(row: HumanTask, actor) -> dict[str, bool]:
    """What the page offers: work on the form (the assignee), claim, or give back."""
    is_open = row.state == "open"
    return {
        "may_work": is_open and row.assignee == actor.username,
        "may_claim": is_open and row.assignee is None and tasks.is_candidate(row, actor),
        "may_unclaim": is_open and row.assignee is not None and (row.assignee == actor.username or actor.is_admin),
        "may_delegate": tasks.may_delegate(row, actor),
    }


def task_context(session, row: HumanTask) -> dict[str, Any]:
    """What the instance already knows: business key, key variables, steps done, files."""
    instance = session.get(ProcessInstance, row.instance_id, options=[defer(ProcessInstance.workflow_json)])
    definition = session.get(ProcessDefinition, instance.definition_id,
                             options=[defer(ProcessDefinition.spec_json)])
    from sqlalchemy import select

    titles = dict(session.execute(select(HumanTask.id, HumanTask.title)
                                  .where(HumanTask.instance_id == instance.id)).all())
    from engine.queries import visibility

    # A tenant's user sees the customer side only: visible variables (with its own forms' fields),
    # its own steps and events, and the files of declared variables.
    seen = visibility.sight(session, principal(), instance, platform().forms)
    events = seen.events(audit.history(session, instance.id))
    called = session.get(ProcessInstance, row.called_instance_id) if row.called_instance_id else None
    if called is not None:  # a step of a called process: that process, and who called it
        definition = session.get(ProcessDefinition, called.definition_id, options=[defer(ProcessDefinition.spec_json)])
    return {
        "caller": instance_list.task_callers(session, [row]).get(row.id),
        "instance": instance, "definition": definition, "variables": key_variables(seen.variables(instance.variables)),
        "steps": [t for t in tasks.done_tasks(session, instance.id) if seen.full or t.id in seen.task_ids],
        "events": events[-30:], "titles": titles,
        "attachments": [f for f in files.of_instance(session, instance.id) if seen.shows_file(f)],
    }


def action_label(action: str) -> str:
    labels = {
        "instance.started": _("started the process"), "instance.completed": _("process completed"),
        "instance.suspended": _("suspended the process"), "instance.resumed": _("resumed the process"),
        "instance.terminated": _("terminated the process"), "instance.cancelled": _("process cancelled"),
        "task.claimed": _("claimed"),
        "task.unclaimed": _("gave back"), "task.assigned": _("assigned"), "task.completed": _("completed"),
        "task.delegated": _("handed on"),
        "timer.fired": _("timer fired"), "message.received": _("message received"),
        "service.completed": _("system call done"), "incident.raised": _("incident raised"),
        "incident.retried": _("incident retried"), "variables.changed": _("variables changed"),
    }
    return labels.get(action, action)


CODE_VALUE = re.compile(r"[a-z][a-z0-9]*([_.][a-z0-9]+)+")


def key_variables(variables: dict[str, Any], limit: int = 30) -> list[tuple[str, str, str]]:
    """(name, label, value) of the variables that have a word: a form field's label or the word for
    a script's variable, with values in words (the instance page's rules).

    Files are left out (the attachments list shows them), and so are the engine's and the
    flows' own bookkeeping (no word for them) and nested data: they are for the instance page.
    """
    from .instances import name_label, shown_value

    known = _known_fields()
    shown = []
    for name, value in variables.items():
        label = name_label(name)
        if name.startswith("_") or label == name or value in (None, "", []) or isinstance(value, dict) \
                or isinstance(known.get(name), FileUpload) \
                or (isinstance(value, list) and any(isinstance(v, dict | list) for v in value)):
            continue
        text = shown_value(value, name)
        if CODE_VALUE.fullmatch(text):
            continue  # a code without a word (negotiation_failed) tells the person at the task nothing
        if len(text) > 200:
            text = text[:200] + "…"
        shown.append((name, label, text))
        if len(shown) >= limit:
            break
    return shown


def _known_fields() -> dict[str, Any]:
    """Every form field of the platform by name (the first form that uses a name wins)."""
    known: dict[str, Any] = {}
    for schema in platform().forms.values():
        for name, fld in schema().fields.items():
            known.setdefault(fld.data_key or name, fld)
    return known


# --- files ------------------------------------------------------------------------------

@bp.get("/files/<int:file_id>")
@login_required
def download(file_id: int) -> ResponseReturnValue:
    import io

    with platform().Session() as session:
        try:
            row = files.visible_file(session, principal(), file_id)
        except NotFound:
            abort(404)
        data, name, kind = row.data, row.filename, row.content_type
    inline = kind.startswith("image/") or kind == "application/pdf"
    response = send_file(io.BytesIO(data), mimetype=kind, as_attachment=not inline, download_name=name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

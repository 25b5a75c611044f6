"""Demand collection (需求收集) for customer managers: download the template, upload a filled
one, see every error with its row and column, import everything or only the good rows, list
the demands and export the order confirmation form and the delivery acceptance list. Collected
demands are submitted into Flow 1 from the list (需求提交); each demand's progress page shows
the steps of its flow, open and done (进度查询).

A file with errors is kept for a while (table ``demand_uploads``) so that "import only the good
rows" does not ask for the file again. The checks themselves live in ``engine.demands``.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from engine.errors import BadRequest, Conflict, EngineError, NotFound, ValidationFailed
from tower import demand_flow, demands, difficult_sites, spreadsheets
from tower.models import DemandUpload
from web.error_text import say
from web.labels import group_label
from web.tower import words
from web.tower.demands_api import xlsx_response
from web.ui.helpers import pager, platform, principal, require_groups
from web.ui.instances import when

bp = Blueprint("demands", __name__, url_prefix="/demands")

PAGE_GROUPS = ("customer_manager", "operator", "supervisor")  # and admins; operators see their own
UPLOAD_KEPT = timedelta(hours=6)
PHONE = re.compile(r"^(\+?\d{5,20})?$")  # as the start form of tower_order checks it

STATUS_LABELS = words.DEMAND_STATUSES


def may_import() -> bool:
    actor = principal()
    return actor.is_admin or bool(actor.groups & demands.IMPORT_GROUPS)


def may_submit() -> bool:
    actor = principal()
    return actor.is_admin or bool(actor.groups & demand_flow.SUBMIT_GROUPS)


def error_text(error: demands.RowError) -> str:
    """The error in the page's language (the engine's English templates are the msgids)."""
    return _(demands.MESSAGES[error.code], **error.params)


@bp.get("")
@require_groups(*PAGE_GROUPS)
def index():
    return _render()


def _render(checked: demands.CheckedImport | None = None, upload_token: str | None = None,
            filename: str = "", imported: list[str] | None = None, status: int = 200):
    pf = platform()
    actor = principal()
    args = request.args
    with pf.Session() as session:
        page = pager()
        rows, page.total = demands.list_demands(session, actor, status=args.get("status") or None,
                                                q=args.get("q") or None, offset=page.offset, limit=page.size)
        waiting = len(demand_flow.waiting_for(session, actor, "confirm_acceptance")) \
            if actor.is_admin or "operator" in actor.groups else 0
    return render_template(
        "demands/index.html", rows=rows, pager=page, args=args, status_labels=STATUS_LABELS,
        operator_names=demands.OPERATOR_NAMES, checked=checked, upload_token=upload_token, filename=filename,
        imported=imported or [], error_text=error_text, may_import=may_import(), max_rows=demands.MAX_ROWS,
        may_submit=may_submit(), staff=actor.tenant is None, acceptance_waiting=waiting,
    ), status


@bp.post("/submit")
@require_groups(*PAGE_GROUPS)
def submit():
    """需求提交: start Flow 1 for the ticked collected demands; one not collected stops them all."""
    if not may_submit():
        abort(403)
    numbers = request.form.getlist("demand_no")
    phone = request.form.get("customer_manager_phone", "").strip()
    if not numbers:
        flash(_("Tick the collected demands to submit."), "error")
    elif not PHONE.match(phone):
        flash(_("The mobile number is not valid; nothing was submitted."), "error")
    else:
        try:
            started = demand_flow.submit(platform(), principal(), numbers, phone)
        except Conflict as exc:
            flash(_("Nothing was submitted: %(numbers)s already submitted.",
                    numbers=", ".join((exc.details or {}).get("demand_nos", []))), "error")
        except NotFound as exc:
            flash(_("Nothing was submitted: no such demand %(numbers)s.",
                    numbers=", ".join((exc.details or {}).get("missing", []))), "error")
        else:
            flash(_("%(n)s demand(s) submitted; each waits for its operator's confirmation.", n=len(started)),
                  "success")
    return redirect(url_for("demands.index"))


@bp.get("/<demand_no>")
@require_groups(*PAGE_GROUPS)
def progress(demand_no: str):
    """进度查询: where the demand's flow stands, who has the open steps and until when, how it
    ended and why (in words), the operator's changes, and its difficult-site entries."""
    pf = platform()
    actor = principal()
    with pf.Session() as session:
        view = demand_flow.progress(session, actor, demand_no)
        library = []
        if difficult_sites.may_list(actor):
            library, _total = difficult_sites.list_sites(session, actor, demand_no=demand_no, limit=20)
    now = pf.clock.now()
    for step in view["open_steps"] + view["done_steps"]:
        step["overdue"] = step["completed_at"] is None and step["due_at"] is not None and step["due_at"] < now
    for change in view["changes"]:
        change["fields"] = {name: int(value) if isinstance(value, float) and value.is_integer() else value
                            for name, value in change["fields"].items()}
    return render_template("demands/progress.html", status_labels=STATUS_LABELS, group_label=group_label,
                           when=when, words=words, word=words.word, library=library,
                           may_change=demand_flow.may_change(actor), staff=actor.tenant is None, **view)


@bp.route("/new", methods=["GET", "POST"])
@require_groups(*PAGE_GROUPS)
def new():
    """单个录入: one demand, checked exactly like an import row (duplicates included); errors next
    to their fields in the page's language, everything typed kept."""
    if not may_import():
        abort(403)
    pf = platform()
    actor = principal()
    keys = [c.key for c in demands.COLUMNS]
    values = {key: request.form.get(key, "").strip() for key in keys}
    if actor.tenant is not None:  # an operator user enters its own company's demands only
        values["operator"] = demands.OPERATOR_NAMES.get(actor.tenant, "")
    errors: dict[str, str] = {}
    if request.method == "POST":
        with pf.Session() as session:
            checked = demands.check_rows(session, [(1, values)], actor)
        by_header = {c.header: c.key for c in demands.COLUMNS}
        for error in checked.errors:
            errors.setdefault(by_header.get(error.column, error.column), error_text(error))
        if not errors:
            try:
                demand_no = demand_flow.enter_demand(pf, actor, values)
            except ValidationFailed:  # stored by someone else a moment ago
                errors["form"] = _("The demand has errors; nothing was stored.")
            else:
                flash(_("Demand %(no)s is stored; it is collected and waits for submission.", no=demand_no),
                      "success")
                return redirect(url_for("demands.progress", demand_no=demand_no))
    return render_template("demands/new.html", values=values, errors=errors, columns=demands.COLUMNS,
                           operators=list(demands.OPERATORS), tower_types=demands.TOWER_TYPES,
                           demand_types=demands.DEMAND_TYPES, staff=actor.tenant is None), \
        (422 if errors else 200)


@bp.get("/template")
@require_groups(*PAGE_GROUPS)
def template():
    return xlsx_response(spreadsheets.template_bytes(), "demand-template 需求导入模板.xlsx")


@bp.post("/import")
@require_groups(*PAGE_GROUPS)
def upload():
    if not may_import():
        abort(403)
    file = request.files.get("file")
    if file is None or not file.filename:
        flash(_("Choose a filled template (.xlsx) to upload."), "error")
        return redirect(url_for("demands.index"))
    data = file.read(spreadsheets.MAX_BYTES + 1)
    only_good_rows = request.form.get("only_good_rows") == "1"
    pf = platform()
    actor = principal()
    try:
        with pf.Session() as session:
            checked = spreadsheets.check_file(session, actor, data)
    except BadRequest as exc:
        flash(_("The file cannot be imported: %(reason)s", reason=_file_problem(exc.message)), "error")
        return redirect(url_for("demands.index"))
    if not checked.errors:
        return _import(data, only_good_rows=False)
    if only_good_rows and checked.rows:
        return _import(data, only_good_rows=True)
    token = None
    if checked.rows and checked.total_rows:
        token = secrets.token_urlsafe(24)
        now = pf.clock.now()
        with pf.transaction() as session:
            session.execute(delete(DemandUpload).where(DemandUpload.created_at < now - UPLOAD_KEPT))
            session.add(DemandUpload(token=token, username=actor.username, filename=file.filename[:300],
                                     data=data, created_at=now))
    return _render(checked, upload_token=token, filename=file.filename, status=422)


@bp.post("/import/<token>")
@require_groups(*PAGE_GROUPS)
def import_good_rows(token: str):
    """Import the good rows of a file uploaded (and refused) a moment ago."""
    if not may_import():
        abort(403)
    pf = platform()
    with pf.transaction() as session:
        stored = session.scalar(select(DemandUpload).where(DemandUpload.token == token,
                                                           DemandUpload.username == principal().username))
        if stored is None:
            flash(_("That upload is no longer kept; upload the file again."), "error")
            return redirect(url_for("demands.index"))
        data = stored.data
        session.delete(stored)
    return _import(data, only_good_rows=True)


def _import(data: bytes, only_good_rows: bool):
    pf = platform()
    try:
        with pf.transaction() as session:
            result = spreadsheets.import_file(session, principal(), data, pf.clock.now(), only_good_rows=only_good_rows)
    except ValidationFailed:
        flash(_("Nothing was imported: the file has errors."), "error")
        return redirect(url_for("demands.index"))
    except EngineError as exc:
        flash(say(exc), "error")
        return redirect(url_for("demands.index"))
    flash(_("%(n)s demand(s) imported.", n=result.imported), "success")
    if result.errors:
        flash(_("%(n)s row(s) with errors were left out.", n=len({e.row for e in result.errors})), "warn")
    return redirect(url_for("demands.index"))


def _file_problem(message: str) -> str:
    known = {
        "the file is empty": _l("the file is empty"),
        "the file is not an Excel .xlsx workbook (save it as .xlsx, not .xls or .csv)":
            _l("it is not an Excel .xlsx workbook (save it as .xlsx, not .xls or .csv)"),
        "the file is not an Excel .xlsx workbook that can be read": _l("it is not an Excel .xlsx workbook"),
        "the workbook has no header row; use the template": _l("it has no header row; use the template"),
        "the file has no demand rows below the header": _l("it has no demand rows below the header"),
    }
    if message in known:
        return str(known[message])
    if message.startswith("the file has more than"):
        return _("it has more than %(n)s rows; split it into smaller files", n=demands.MAX_ROWS)
    if message.startswith("the file is larger than") or message.startswith("the workbook is too large"):
        return _("it is larger than 5 MB; split it into smaller files")
    return message


@bp.get("/export/order-confirmation")
@require_groups(*PAGE_GROUPS)
def export_order():
    numbers = [n for value in request.args.getlist("demand_no") for n in value.split(",") if n.strip()]
    if not numbers:
        flash(_("Select the demands to put on the order confirmation form."), "error")
        return redirect(url_for("demands.index"))
    pf = platform()
    with pf.Session() as session:
        data = spreadsheets.export_order_confirmation(session, principal(), numbers, pf.clock.now())
    return xlsx_response(data, "order-confirmation 订单确认单.xlsx")


@bp.get("/export/acceptance")
@require_groups(*PAGE_GROUPS)
def export_acceptance():
    pf = platform()
    with pf.Session() as session:
        data = spreadsheets.export_acceptance(session, principal(), pf.clock.now(), request.args.get("status") or None)
    return xlsx_response(data, "acceptance 交付验收清单.xlsx")

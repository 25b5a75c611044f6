"""The operator's own actions on its demands, in the pages: 需求取消 and 需求变更 with a reason
(before the order is confirmed), and 批量验收 / 验收确认 of several delivered demands at once.

Each action calls the same ``tower.demand_flow`` function as the REST API. A refused action
says why in words and changes nothing; the form keeps what was typed.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import Conflict, ValidationFailed
from engine.runtime import jobs
from tower import demand_flow, demands
from web.tower import words
from web.tower.demands_page import PAGE_GROUPS, error_text
from web.ui.helpers import platform, principal, require_groups

bp = Blueprint("demand_changes", __name__, url_prefix="/demands")

REASON_LIMIT = 2000
ACCEPTANCE_STEP = "confirm_acceptance"


def _demand_and_refusal(demand_no: str):
    """The demand (as the progress query gives it) and why a change would be refused now."""
    with platform().Session() as session:
        view = demand_flow.progress(session, principal(), demand_no)
    return view["demand"], view["change_refusal"]


def _allowed_or_403() -> None:
    if not demand_flow.may_change(principal()):
        abort(403)


@bp.route("/<demand_no>/cancel", methods=["GET", "POST"])
@require_groups(*PAGE_GROUPS)
def cancel(demand_no: str):
    """需求取消: the reason is required; the flow stops all open work of the demand."""
    _allowed_or_403()
    demand, refusal = _demand_and_refusal(demand_no)
    reason = request.form.get("reason", "").strip()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST" and refusal:
        status = 409
    elif request.method == "POST":
        errors = _reason_errors(reason)
        if not errors:
            try:
                result = demand_flow.cancel(platform(), principal(), demand_no, reason)
            except Conflict as exc:
                refusal = _refusal_of(exc)
                status = 409
            else:
                _drain(result["delivered_to"])
                flash(_("Demand %(no)s is cancelled.", no=demand_no), "success")
                return redirect(url_for("demands.progress", demand_no=demand_no))
        else:
            status = 422
    return render_template("demands/cancel.html", demand=demand, refusal=refusal, reason=reason, errors=errors,
                           refusal_text=words.word(words.REFUSALS, refusal), status_labels=words.DEMAND_STATUSES,
                           posted=request.method == "POST"), status


@bp.route("/<demand_no>/change", methods=["GET", "POST"])
@require_groups(*PAGE_GROUPS)
def change(demand_no: str):
    """需求变更: the new values (checked like an import row) and a reason; the flow goes back to
    需求承接 with them."""
    _allowed_or_403()
    demand, refusal = _demand_and_refusal(demand_no)
    values = {key: _shown(demand.get(key)) for key in demand_flow.CHANGEABLE}
    reason = request.form.get("reason", "").strip()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST" and refusal:
        status = 409
    elif request.method == "POST":
        typed = {key: request.form.get(key, "").strip() for key in demand_flow.CHANGEABLE}
        changes = {key: value for key, value in typed.items() if value != values[key]}
        values.update(typed)
        errors = _reason_errors(reason)
        errors.update(_value_errors(demand, changes))
        if not changes and not errors:
            errors["form"] = _("Nothing was changed: type the new values first.")
        if not errors:
            try:
                result = demand_flow.change(platform(), principal(), demand_no, changes, reason)
            except Conflict as exc:
                refusal = _refusal_of(exc)
                status = 409
            except ValidationFailed:  # checked above; a race with another change
                errors["form"] = _("The new values have errors; nothing was changed.")
                status = 422
            else:
                _drain(result["delivered_to"])
                flash(_("Demand %(no)s is changed; it goes back to acceptance (需求承接).", no=demand_no),
                      "success")
                return redirect(url_for("demands.progress", demand_no=demand_no))
        else:
            status = 422
    return render_template("demands/change.html", demand=demand, refusal=refusal, reason=reason, errors=errors,
                           values=values, refusal_text=words.word(words.REFUSALS, refusal),
                           tower_types=demands.TOWER_TYPES, status_labels=words.DEMAND_STATUSES,
                           posted=request.method == "POST"), status


@bp.route("/batch/acceptance", methods=["GET", "POST"])
@require_groups(*PAGE_GROUPS)
def acceptance():
    """批量验收 / 验收确认: tick delivered demands waiting for the operator and confirm them at once;
    each demand's result is listed, and one that fails does not stop the others."""
    actor = principal()
    if not (actor.is_admin or "operator" in actor.groups):
        abort(403)
    results: list[dict] = []
    errors: dict[str, str] = {}
    comment = request.form.get("confirm_comment", "").strip()
    chosen = request.form.getlist("demand_no")
    status = 200
    if request.method == "POST":
        if not chosen:
            errors["demand_no"] = _("Tick the demands whose acceptance you confirm.")
        elif len(comment) > REASON_LIMIT:
            errors["confirm_comment"] = _("At most %(n)s characters.", n=REASON_LIMIT)
        if errors:
            status = 422
        else:
            try:
                results = demand_flow.complete_each(platform(), actor, ACCEPTANCE_STEP, chosen,
                                                    {"confirmed": True, "confirm_comment": comment})
            except ValidationFailed:
                errors["confirm_comment"] = _("The comment cannot be used; nothing was confirmed.")
                status = 422
            _drain([r["instance_id"] for r in results if r["ok"]])
            for r in results:
                r["failure_text"] = words.word(words.BATCH_FAILURES, r.get("failure")) if not r["ok"] else ""
            done = sum(1 for r in results if r["ok"])
            if results:
                flash(_("%(done)s of %(total)s acceptance(s) confirmed.", done=done, total=len(results)),
                      "success" if done == len(results) else "warn")
    with platform().Session() as session:
        waiting = [demands.demand_view(d) for d in demand_flow.waiting_for(session, actor, ACCEPTANCE_STEP)]
    return render_template("demands/acceptance.html", waiting=waiting, results=results, errors=errors,
                           comment=comment, chosen=set(chosen) if errors else set(),
                           status_labels=words.DEMAND_STATUSES), status


def _reason_errors(reason: str) -> dict[str, str]:
    if not reason:
        return {"reason": _("Say why.")}
    if len(reason) > REASON_LIMIT:
        return {"reason": _("At most %(n)s characters.", n=REASON_LIMIT)}
    return {}


def _value_errors(demand: dict, changes: dict[str, str]) -> dict[str, str]:
    """The new values checked like an import row, each error in the page's language by field."""
    if not changes:
        return {}
    record = {c.key: demand.get(c.key) for c in demands.COLUMNS if c.key != "operator"}
    record.update(changes)
    record["operator"] = demand.get("operator")
    _clean, row_errors = demands.check_record(1, record, principal())
    by_header = {c.header: c.key for c in demands.COLUMNS}
    found: dict[str, str] = {}
    for error in row_errors:
        key = by_header.get(error.column, error.column)
        if key in changes:
            found.setdefault(key, error_text(error))
    return found


def _refusal_of(exc: Conflict) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    return details.get("reason") or "flow_ended"


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _drain(instance_ids: list[int]) -> None:
    """Run the service tasks the action queued, so the progress page shows where the flow went."""
    for instance_id in instance_ids:
        jobs.drain(platform(), instance_id)


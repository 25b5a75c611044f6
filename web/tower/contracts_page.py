"""Contracts (Flow 7, 合同到期预警) for customer managers and supervisors: each contract with its
expiry, the day its warning is due and where it stands (in force, warning due, warned,
renewing, renewed, expired)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from tower import contracts
from web.tower import words
from web.ui.helpers import platform, principal, require_groups

bp = Blueprint("contracts", __name__, url_prefix="/contracts")

PAGE_GROUPS = ("customer_manager", "supervisor")  # and admins


@bp.get("")
@require_groups(*PAGE_GROUPS)
def index():
    pf = platform()
    today = pf.clock.now().date()
    state = request.args.get("state") if request.args.get("state") in contracts.WARNING_STATES else None
    with pf.Session() as session:
        rows = [contracts.read_view(row, today) for row in
                contracts.visible_contracts(session, principal(), q=request.args.get("q") or None)]
    counts = {s: sum(1 for r in rows if r["warning_state"] == s) for s in contracts.WARNING_STATES}
    if state:
        rows = [r for r in rows if r["warning_state"] == state]
    return render_template("tower/contracts.html", rows=rows, counts=counts, state=state, args=request.args,
                           states=contracts.WARNING_STATES, words=words, word=words.word, today=today)

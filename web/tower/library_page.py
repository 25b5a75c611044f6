"""The difficult-site library (疑难站址库) page: staff who work on difficult sites see every
entry with filters; an operator user sees the entries of its own company's demands only, and
another company's entry answers 404."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from tower import difficult_sites
from tower.models import DIFFICULT_SITE_STATUSES
from web.tower import words
from web.ui.helpers import pager, platform, principal, require_groups

bp = Blueprint("difficult_sites", __name__, url_prefix="/difficult-sites")

PAGE_GROUPS = tuple(sorted(difficult_sites.VIEWER_GROUPS - {"admin"}))
REASONS = ("owner_refuses", "planning_restriction", "cost_far_above_standard", "other")


@bp.get("")
@require_groups(*PAGE_GROUPS)
def index():
    actor = principal()
    args = request.args
    status = args.get("status") if args.get("status") in DIFFICULT_SITE_STATUSES else None
    reason = args.get("reason") or None
    tenant = (args.get("tenant") or None) if actor.tenant is None else None
    with platform().Session() as session:
        page = pager()
        rows, page.total = difficult_sites.list_sites(session, actor, status, None, page.offset, page.size,
                                                      reason=reason, tenant=tenant, q=args.get("q") or None)
    return render_template("tower/difficult_sites.html", rows=rows, pager=page, args=args, words=words,
                           word=words.word, statuses=DIFFICULT_SITE_STATUSES, reasons=REASONS,
                           tenants=("china_mobile", "china_unicom", "china_telecom"), staff=actor.tenant is None)


@bp.get("/<int:site_id>")
@require_groups(*PAGE_GROUPS)
def show(site_id: int):
    with platform().Session() as session:
        row = difficult_sites.get_site(session, principal(), site_id)
    return render_template("tower/difficult_site.html", row=row, words=words, word=words.word,
                           staff=principal().tenant is None)

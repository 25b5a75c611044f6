"""我的服务申请: an enterprise customer (an operator user of its company) follows its service
requests (Flow 5): each with its kind, state and steps in words, and a link to the inbox when
the request waits for the customer's confirmation. Staff who handle requests see them all."""

from __future__ import annotations

from flask import Blueprint, render_template

from tower import service_requests
from web.tower import words
from web.ui.helpers import pager, platform, principal, require_groups
from web.ui.instances import when

bp = Blueprint("service_requests", __name__, url_prefix="/service-requests")

PAGE_GROUPS = tuple(sorted(service_requests.READER_GROUPS))


@bp.get("")
@require_groups(*PAGE_GROUPS)
def index():
    with platform().Session() as session:
        page = pager()
        rows, page.total = service_requests.list_requests(session, principal(), offset=page.offset,
                                                          limit=page.size)
    return render_template("tower/service_requests.html", rows=rows, pager=page, word=words.word,
                           words=words, when=when, staff=principal().tenant is None)


@bp.get("/<int:request_id>")
@require_groups(*PAGE_GROUPS)
def show(request_id: int):
    with platform().Session() as session:
        view = service_requests.get_request(session, principal(), request_id)
    return render_template("tower/service_request.html", r=view, word=words.word, words=words, when=when,
                           staff=principal().tenant is None)

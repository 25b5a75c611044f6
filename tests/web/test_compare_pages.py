"""The version comparison page: who may open it, which versions it hands to the page."""

from __future__ import annotations

import json
import re

import pytest
from helpers import read
from test_designer_pages import PASSWORD, Browser

from engine import identity
from engine.definitions import deployments
from engine.principal import SYSTEM

FILES = re.compile(r'<script type="application/json" id="tf-compare-xml">(.*?)</script>', re.S)


@pytest.fixture
def two_versions(platform):
    for name in ("ui_cmp_order_v1.bpmn", "ui_cmp_order_v2.bpmn"):
        deployments.deploy(platform, SYSTEM, {"ui_cmp_order.bpmn": read(name)})


@pytest.fixture
def signed_in(app, platform):
    def make(username: str, groups: list[str]) -> Browser:
        with platform.transaction() as session:
            identity.add_user(session, username, PASSWORD, groups, None)
        return Browser(app.test_client()).sign_in(username)

    return make


def sides(response) -> dict:
    match = FILES.search(response.text)
    return json.loads(match.group(1)) if match else {}


@pytest.mark.parametrize("groups", [["designer"], ["supervisor"]])
def test_designers_and_supervisors_see_both_versions(two_versions, signed_in, groups):
    r = signed_in("cmp_user", groups).client.get("/designer/compare/ui_cmp_order?a=1&b=2")
    assert r.status_code == 200
    assert 'data-a="1"' in r.text and 'data-b="2"' in r.text
    files = sides(r)
    if files:  # only when the bundle is built; otherwise the page offers the downloads
        assert 'name="Check stock"' in files["a"] and 'name="Notify customer"' in files["b"]
    else:
        assert "/designer/processes/ui_cmp_order/versions/2/download" in r.text


def test_without_versions_given_the_latest_is_compared_with_the_one_before(two_versions, signed_in):
    r = signed_in("cmp_des", ["designer"]).client.get("/designer/compare/ui_cmp_order")
    assert r.status_code == 200 and 'data-a="1"' in r.text and 'data-b="2"' in r.text
    r = signed_in("cmp_des2", ["designer"]).client.get("/designer/compare/ui_cmp_order?a=2&b=1")
    assert 'data-a="1"' in r.text and 'data-b="2"' in r.text  # the older is always on the left


def test_operators_get_403_and_anonymous_users_sign_in(two_versions, signed_in, app):
    assert signed_in("cmp_op", ["operator"]).client.get("/designer/compare/ui_cmp_order").status_code == 403
    r = app.test_client().get("/designer/compare/ui_cmp_order?a=1&b=2")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


@pytest.mark.parametrize("url", ["/designer/compare/no_such_process", "/designer/compare/ui_cmp_order?a=1&b=7",
                                 "/designer/compare/ui_cmp_order?a=x&b=2"])
def test_unknown_process_or_version_is_404(two_versions, signed_in, url):
    assert signed_in("cmp_des3", ["designer"]).client.get(url).status_code == 404


def test_the_designer_and_the_modeler_link_to_the_comparison(two_versions, signed_in):
    client = signed_in("cmp_des4", ["designer"]).client
    assert "/designer/compare/ui_cmp_order?a=1&amp;b=2" in client.get("/designer/").text
    assert "/designer/compare/ui_cmp_order?a=1&amp;b=2" in client.get("/designer/processes/ui_cmp_order/edit").text

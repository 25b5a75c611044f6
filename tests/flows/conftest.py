"""Every flow test ends with the rows a save keeps agreeing with the workflows (tests/rows_check.py)."""

from __future__ import annotations

import pytest
from rows_check import mismatches

from handlers import outbound


@pytest.fixture(autouse=True)
def rows_mirror_workflows(request):
    """After the test: each instance's open tasks, tokens, jobs and subscriptions are what its
    workflow says (the saves wrote only differences, so a wrong one would stay wrong)."""
    platform = request.getfixturevalue("platform") if "platform" in request.fixturenames else None
    yield
    if platform is not None and request.node.rep_call_passed:
        assert mismatches(platform) == []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item.rep_call_passed = outcome.get_result().passed


@pytest.fixture
def configured(platform, monkeypatch):
    """The outbound handlers write their outbox rows through this test's platform."""
    monkeypatch.setattr(outbound, "_platform", None)
    outbound.configure(platform)
    return platform

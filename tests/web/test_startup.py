"""Starting the platform: `towerflow config` shows the settings in force, a bad setting or a
module that cannot be imported stops the start with its name, nothing is discovered by file name."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import handlers
import web.api
import web.ui
from engine.platform import Platform
from engine.plugins import Plugin, StartupError
from web.app import build_platform, create_app
from web.cli import main


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_config_prints_the_settings_in_force_with_secrets_masked(tmp_path):
    result = run("config", env={"TOWERFLOW_DATABASE_URL": "postgresql://app:hunter2@db.local/towerflow",
                                "TOWERFLOW_SECRET_KEY": "s3cr3t", "TOWERFLOW_PMS_URL": "http://pms.local/api",
                                "TOWERFLOW_HTTP_TIMEOUT": "4"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "TOWERFLOW_DATABASE_URL=postgresql+psycopg://app:********@db.local/towerflow" in lines
    assert "TOWERFLOW_SECRET_KEY=********" in lines and "TOWERFLOW_HTTP_TIMEOUT=4.0" in lines
    assert "TOWERFLOW_PMS_URL=http://pms.local/api" in lines
    assert "hunter2" not in result.output and "s3cr3t" not in result.output
    database = f"sqlite:///{tmp_path}/other.db"
    assert f"TOWERFLOW_DATABASE_URL={database}" in run("--database", database, "config").output.splitlines()


@pytest.mark.parametrize(("variable", "value"), [
    ("TOWERFLOW_LEASE_SECONDS", "-5"), ("TOWERFLOW_DATABASE_URL", "oracle://scott@db/orcl"),
    ("TOWERFLOW_SITE_RADIUS_URBAN", "wide"),  # the tower plug-in's own setting, checked at start
])
def test_a_bad_setting_stops_the_start_and_names_the_variable(tmp_path, variable, value):
    env = {"TOWERFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/towerflow.db", variable: value}
    result = run("init-db", env=env)
    assert result.exit_code != 0
    assert f"Error: {variable}: " in result.output
    assert not (tmp_path / "towerflow.db").exists()  # nothing was started or created


def test_a_page_or_api_module_that_cannot_be_imported_stops_the_app(platform, monkeypatch):
    monkeypatch.setattr(web.ui, "PAGE_MODULES", (*web.ui.PAGE_MODULES, "web.ui.reports"))
    with pytest.raises(StartupError, match="the pages: module web.ui.reports could not be imported"):
        create_app({"TESTING": True}, platform=platform)
    monkeypatch.undo()
    monkeypatch.setattr(web.api, "API_MODULES", ("web.api.auth", "web.api.billing"))
    with pytest.raises(StartupError, match="the REST API: module web.api.billing could not be imported"):
        create_app({"TESTING": True}, platform=platform)


def test_a_plug_in_whose_tables_cannot_be_imported_stops_the_platform(database_url):
    broken = Plugin("billing", tables=("billing.models",))
    with pytest.raises(StartupError, match="the billing plug-in's tables: module billing.models"):
        Platform(database_url, plugins=[broken])
    with pytest.raises(StartupError, match="the billing plug-in's tables"):
        build_platform(database_url, plugins=[broken])


def test_every_named_handler_module_is_registered():
    assert len(handlers.MODULES) == len(set(handlers.MODULES))
    for operator in ("pms.create_project", "sms.send", "site_library.find_nearby", "difficult_sites.enter",
                     "boss.activate", "eoms.create_work_order", "operator_platform.notify", "core.echo"):
        assert operator in handlers.registry, operator

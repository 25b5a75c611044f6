"""One settings object (engine/settings.py), read once from TOWERFLOW_* variables: defaults,
the variables and options that set it, the checks that stop a start, and masked secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_when_nothing_is_set():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///towerflow.db" and settings.is_sqlite
    assert (settings.http_timeout, settings.retry_backoff_seconds, settings.lease_seconds, settings.clock_tick) \
        == (10.0, 5.0, 300.0, 0.25)
    assert settings.secret_key is None and settings.systems == {} and settings.options == {}


def test_variables_set_it_and_the_command_line_wins():
    settings = Settings.from_env({
        "TOWERFLOW_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/towerflow",
        "TOWERFLOW_HTTP_TIMEOUT": " 2.5 ", "TOWERFLOW_LEASE_SECONDS": "60",
        "TOWERFLOW_PMS_URL": "http://pms.local/api", "TOWERFLOW_SMS_URL": "  ",
        "TOWERFLOW_TEST_DATABASE_URL": "postgresql://x/y", "TOWERFLOW_SITE_RADIUS_URBAN": "150",
        "PATH": "/usr/bin",
    }, lease_seconds=None, clock_tick=1)
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1:5432/towerflow"
    assert (settings.http_timeout, settings.lease_seconds, settings.clock_tick) == (2.5, 60.0, 1.0)
    assert settings.systems == {"pms": "http://pms.local/api"}  # a blank URL means "record only"
    assert settings.system_url("pms") == "http://pms.local/api" and settings.system_url("sms") is None
    assert settings.options == {"TOWERFLOW_TEST_DATABASE_URL": "postgresql://x/y",
                                "TOWERFLOW_SITE_RADIUS_URBAN": "150"}
    overridden = Settings.from_env({"TOWERFLOW_DATABASE_URL": "sqlite:///a.db"}, database_url="sqlite:///b.db")
    assert overridden.database_url == "sqlite:///b.db"


@pytest.mark.parametrize(("variable", "value", "words"), [
    ("TOWERFLOW_DATABASE_URL", "mysql://root@db/towerflow", "unknown database scheme 'mysql'"),
    ("TOWERFLOW_DATABASE_URL", "towerflow.db", "unknown database scheme"),
    ("TOWERFLOW_HTTP_TIMEOUT", "-1", "must be a positive number"),
    ("TOWERFLOW_HTTP_TIMEOUT", "soon", "is not a number"),
    ("TOWERFLOW_LEASE_SECONDS", "0", "must be a positive number"),
    ("TOWERFLOW_RETRY_BACKOFF_SECONDS", "nan", "must be a positive number"),
    ("TOWERFLOW_CLOCK_TICK", "inf", "must be a positive number"),
    ("TOWERFLOW_PMS_URL", "ftp://pms.local", "is not an http:// or https:// URL"),
])
def test_a_bad_value_is_refused_naming_its_variable(variable, value, words):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value).startswith(f"{variable}: ") and words in str(refused.value)


def test_describe_masks_secrets_and_passwords():
    settings = Settings.from_env({
        "TOWERFLOW_DATABASE_URL": "postgresql://app:hunter2@db.local/towerflow",
        "TOWERFLOW_SECRET_KEY": "s3cr3t-value", "TOWERFLOW_BOSS_URL": "https://svc:pa55@boss.local/api",
        "TOWERFLOW_SMS_TOKEN": "tok-123", "TOWERFLOW_SITE_RADIUS_RURAL": "400",
    })
    shown = dict(settings.describe())
    text = "\n".join(f"{k}={v}" for k, v in shown.items())
    for secret in ("hunter2", "s3cr3t-value", "pa55", "tok-123"):
        assert secret not in text
    assert shown["TOWERFLOW_DATABASE_URL"] == "postgresql+psycopg://app:********@db.local/towerflow"
    assert shown["TOWERFLOW_SECRET_KEY"] == "********"
    assert shown["TOWERFLOW_BOSS_URL"] == "https://svc:********@boss.local/api"
    assert shown["TOWERFLOW_SITE_RADIUS_RURAL"] == "400"
    assert dict(Settings().describe())["TOWERFLOW_SECRET_KEY"] == "(not set)"


def test_as_environ_reads_back_to_the_same_settings():
    settings = Settings.from_env({"TOWERFLOW_HTTP_TIMEOUT": "3", "TOWERFLOW_EOMS_URL": "http://eoms.local",
                                  "TOWERFLOW_SECRET_KEY": "k", "TOWERFLOW_SITE_RADIUS_URBAN": "90"})
    assert Settings.from_env(settings.as_environ()) == settings


def test_no_module_but_the_settings_reads_the_environment():
    readers = []
    for package in ("engine", "tower", "handlers", "forms", "web", "migrations"):
        for path in (ROOT / package).rglob("*.py"):
            if re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text()):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == ["engine/settings.py"]


@pytest.mark.parametrize("mode, pragma", [("normal", 1), ("full", 2)])
def test_sqlite_syncs_at_every_commit_only_when_asked(tmp_path, mode, pragma):
    from sqlalchemy import text

    from engine.platform import Platform

    platform = Platform(Settings.from_env({"TOWERFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
                                           "TOWERFLOW_SQLITE_SYNCHRONOUS": mode}))
    try:
        for engine in (platform.engine, platform.read_engine):
            with engine.connect() as conn:
                assert conn.execute(text("PRAGMA synchronous")).scalar() == pragma
    finally:
        platform.close()
    with pytest.raises(SettingsError, match="TOWERFLOW_SQLITE_SYNCHRONOUS"):
        Settings(sqlite_synchronous="off")

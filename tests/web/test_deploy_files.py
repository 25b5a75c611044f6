"""The deployment files in deploy/ and docs/deploy.md agree with the code: every setting is in the
example environment file and the guide, the example file is accepted as it stands, and the
systemd units run what the guide says (servers without the clock, restarted, with that file)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from engine.settings import Settings, variable

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def every_variable() -> set[str]:
    return {variable(f.name) for f in fields(Settings) if f.name not in ("systems", "options")}


def env_file() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "towerflow.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_every_setting_is_in_the_example_environment_file_and_the_guide():
    example = (DEPLOY / "towerflow.env").read_text()
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert {name for name in every_variable() if name not in example} == set()
    assert {name for name in every_variable() if f"`{name}`" not in guide} == set()


def test_the_example_environment_file_is_accepted_as_it_stands():
    settings = Settings.from_env(env_file())
    assert settings.read_replica_url and not settings.is_sqlite
    assert settings.cookie_secure is True and settings.log_format == "json"


def test_the_units_run_servers_without_the_clock_and_workers_restarted_with_the_environment_file():
    units = {path.name: path.read_text() for path in DEPLOY.glob("*.service")}
    assert set(units) == {"towerflow-serve@.service", "towerflow-worker@.service", "towerflow-migrate.service"}
    for name, text in units.items():
        assert "EnvironmentFile=/etc/towerflow/towerflow.env" in text, name
    assert "towerflow serve --no-clock" in units["towerflow-serve@.service"]
    assert "towerflow worker" in units["towerflow-worker@.service"]
    for name in ("towerflow-serve@.service", "towerflow-worker@.service"):
        assert "Restart=always" in units[name], name
    assert "Type=oneshot" in units["towerflow-migrate.service"]
    assert "towerflow init-db" in units["towerflow-migrate.service"]

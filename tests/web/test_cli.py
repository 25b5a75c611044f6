"""The towerflow command line, run as a user runs it."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner
from helpers import DATA

from engine import identity
from engine.principal import SYSTEM
from web.app import build_platform
from web.cli import main


@pytest.fixture
def cli(database_url):
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--database", database_url, *args], catch_exceptions=False)

    return run


def test_every_command_has_help(cli):
    for command in (["init-db"], ["deploy"], ["lint"], ["serve"], ["worker"], ["demo"], ["user", "add"],
                    ["token", "create"]):
        result = cli(*command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, command


def test_user_add_and_token_create(cli, platform):
    assert cli("init-db").exit_code == 0
    added = cli("user", "add", "wang", "--password", "s3cret-pass", "--group", "negotiator",
                "--group", "regional_manager", "--tenant", "china_unicom")
    assert added.exit_code == 0, added.output
    with platform.Session() as session:
        user = identity.get_user(session, "wang")
        assert user.group_ids == ["negotiator", "regional_manager"] and user.tenant == "china_unicom"
        assert "s3cret-pass" not in user.password_hash
    duplicate = cli("user", "add", "wang", "--password", "s3cret-pass")
    assert duplicate.exit_code != 0 and "wang" in duplicate.output
    token = cli("token", "create", "wang")
    assert token.exit_code == 0
    with platform.Session() as session:
        assert identity.user_for_token(session, token.output.strip()).username == "wang"
    assert cli("token", "create", "nobody").exit_code != 0


def test_lint_prints_problems_and_exits_non_zero(cli, tmp_path):
    broken = (DATA / "approval.bpmn").read_bytes().replace(b'id="core.echo"', b'id="pms.no_such_call"')
    (tmp_path / "broken.bpmn").write_bytes(broken)
    result = cli("lint", str(tmp_path / "broken.bpmn"))
    assert result.exit_code != 0
    assert "broken.bpmn:" in result.output and "notify" in result.output and "pms.no_such_call" in result.output
    good = cli("lint", str(DATA / "approval.bpmn"))
    assert good.exit_code == 0 and "1 process" in good.output


def test_deploy_folder_then_unchanged(cli, tmp_path):
    for name in ("approval.bpmn", "loop.bpmn"):
        (tmp_path / name).write_bytes((DATA / name).read_bytes())
    first = cli("deploy", str(tmp_path))
    assert first.exit_code == 0 and "approval v1 deployed" in first.output and "loop v1 deployed" in first.output
    second = cli("deploy", str(tmp_path))
    assert "approval v1 unchanged" in second.output


def test_deploy_refuses_broken_files(cli, tmp_path):
    (tmp_path / "bad.bpmn").write_text("<definitions")
    result = cli("deploy", str(tmp_path / "bad.bpmn"))
    assert result.exit_code != 0 and "bad.bpmn" in result.output and "nothing was deployed" in result.output


def test_demo_seeds_users_for_every_role(cli, platform):
    result = cli("demo")
    assert result.exit_code == 0 and "cmcc" in result.output and "password" in result.output
    with platform.Session() as session:
        groups = {g for u in identity.list_users(session) for g in u.group_ids}
        assert {"operator", "customer_manager", "regional_manager", "city_director", "supervisor",
                "designer", "admin", "monitoring_center", "maintenance"} <= groups
        assert identity.get_user(session, "unicom").tenant == "china_unicom"
    assert cli("demo").exit_code == 0  # seeding twice is harmless


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_real_http(database_url, tmp_path):
    port = _free_port()
    env = {**os.environ, "TOWERFLOW_DATABASE_URL": database_url}
    server = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        body = None
        give_up = time.monotonic() + 120  # only a bound on the start-up wait (a few seconds here)
        while body is None and time.monotonic() < give_up and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=30) as r:
                    body = json.loads(r.read())
            except OSError:
                time.sleep(0.1)
        assert body is not None, "the server never answered"
        assert body["info"]["title"] == "TowerFlow API"
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/tasks")
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(request, timeout=30)
        assert denied.value.code == 401
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_answers(port: int) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server never answered")


def _towerflow(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "web.cli", "--database", database_url, *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(bool(os.environ.get("TOWERFLOW_TEST_DATABASE_URL")),
                    reason="backup copies the embedded SQLite database; PostgreSQL is backed up with pg_dump")
def test_backup_while_a_server_starts_instances_gives_a_whole_database(database_url, platform, tmp_path):
    """Instances are started through a real server the whole time; each backup holds every
    instance that existed before it began, each with its open task (no torn transaction), and
    opens as a database at the newest schema."""
    import threading

    from sqlalchemy import func, select

    from engine.models import HumanTask, ProcessInstance
    from engine.runtime import instances

    deploy_result = _towerflow(database_url, "deploy", str(DATA / "approval.bpmn"))
    assert deploy_result.returncode == 0, deploy_result.stderr
    with platform.transaction() as session:
        identity.add_user(session, "li", "password123", ["city_director"], None)
        token = identity.create_token(session, "li")
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "web.cli", "--database", database_url, "serve", "--port",
                               str(port), "--workers", "4", "--no-clock"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    stop, answers = threading.Event(), []

    def start_instances():
        n = 0
        while not stop.is_set():
            n += 1
            body = json.dumps({"process_key": "approval", "business_key": f"B-{n}",
                               "variables": {"amount": n}}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/process-instances", data=body,
                                             headers={"Content-Type": "application/json",
                                                      "Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=60) as r:
                answers.append(r.status)

    def counted() -> int:
        with platform.Session() as session:
            return session.scalar(select(func.count()).select_from(ProcessInstance))

    writer = threading.Thread(target=start_instances)
    try:
        _wait_answers(port)
        writer.start()
        for round_ in range(3):
            while counted() < 5 * (round_ + 1):  # a few more instances before each backup
                assert writer.is_alive(), "the writer stopped"
                time.sleep(0.05)
            before = counted()
            target = tmp_path / f"backup-{round_}.db"
            result = _towerflow(database_url, "backup", str(target))
            assert result.returncode == 0, result.stderr
            assert "integrity ok" in result.stdout
            copy = build_platform(f"sqlite:///{target}")
            try:
                with copy.Session() as session:
                    copied = session.scalar(select(func.count()).select_from(ProcessInstance))
                    tasks = session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.state == "open"))
                    assert before <= copied <= counted()
                    assert tasks == copied  # every started approval waits at its review task
                    assert len(instances.list_instances(session, SYSTEM, instances.InstanceFilter(), 0, 10)[0]) > 0
            finally:
                copy.close()
            assert _towerflow(f"sqlite:///{target}", "db", "current").stdout.endswith("(head)\n")
    finally:
        stop.set()
        if writer.is_alive():
            writer.join(timeout=120)
        server.terminate()
        server.wait(timeout=30)
    assert answers and set(answers) == {201}


def test_backup_refuses_what_it_cannot_do_and_writes_nothing(tmp_path):
    source = tmp_path / "towerflow.db"
    assert _towerflow(f"sqlite:///{source}", "init-db").returncode == 0
    existing = tmp_path / "old.db"
    existing.write_bytes(b"keep me")
    refusals = {
        "exists already": (f"sqlite:///{source}", existing),
        "no such folder": (f"sqlite:///{source}", tmp_path / "missing" / "copy.db"),
        "no such database file": (f"sqlite:///{tmp_path}/absent.db", tmp_path / "copy.db"),
        "pg_dump": ("postgresql://postgres@127.0.0.1:1/towerflow", tmp_path / "copy.db"),
        "the database itself": (f"sqlite:///{source}", None),
    }
    for message, (url, target) in refusals.items():
        result = _towerflow(url, "backup", str(target or source))
        assert result.returncode == 1 and message in result.stderr, (message, result.stderr)
    assert existing.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("towerflow.db")) == ["old.db"]

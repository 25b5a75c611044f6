"""Schema migrations (migrations/, engine/schema.py): every revision in turn builds what the models
describe; databases written before the migrations, by the code of commit d7811a0 and shaped as
before the inbox benchmarks, are upgraded by init-db and their waiting instances run to their end;
a revision from a newer version is refused; servers starting together upgrade once.

Each test makes its own databases (SQLite files, or PostgreSQL schemas dropped at its end)."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import threading
from datetime import datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from helpers import DATA, PG_URL, UserClient, instance
from sqlalchemy import inspect, text

import migrations
from engine import identity, schema
from engine.db import Base, make_engine
from engine.definitions.serialization import SERIALIZER_VERSION
from engine.platform import Platform
from engine.runtime import jobs
from web.app import build_platform, create_app
from web.cli import main

LEGACY = DATA / "legacy"
HEAD = "0010"
LEGACY_WRITTEN_AT = datetime(2026, 12, 6, 8, 32, 50)  # naive UTC, as the legacy rows' times
LEGACY_USERS = ("manager", "cmcc", "planner", "regional", "director", "monitor", "repair", "supervisor")
UNTRUE_COPIES = text("SELECT count(*) FROM task_candidates c JOIN human_tasks t ON t.id = c.task_id "
                     "WHERE c.priority IS NULL OR c.priority <> t.priority OR c.tenant IS DISTINCT FROM t.tenant "
                     "OR c.due_at IS DISTINCT FROM t.due_at OR c.assignee IS DISTINCT FROM t.assignee")
STALE_CANDIDATES = text("SELECT count(*) FROM task_candidates c JOIN human_tasks t ON t.id = c.task_id "
                        "WHERE t.state <> 'open'")


# --- databases of the test's own ------------------------------------------------------------------

@pytest.fixture
def new_database(tmp_path):
    """``new_database(name)`` gives the URL of an empty database: a SQLite file, or a PostgreSQL
    schema of its own (dropped when the test ends)."""
    schemas: list[str] = []

    def make(name: str = "db") -> str:
        if not PG_URL:
            return f"sqlite:///{tmp_path}/{name}.db"
        name = f"towerflow_migrations_{os.getpid()}_{len(schemas)}"
        _admin(f"DROP SCHEMA IF EXISTS {name} CASCADE", f"CREATE SCHEMA {name}")
        schemas.append(name)
        return f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{name}"

    yield make
    if schemas:
        _admin(*(f"DROP SCHEMA IF EXISTS {name} CASCADE" for name in schemas))


def _admin(*statements: str) -> None:
    engine = make_engine(PG_URL)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def legacy_database(new_database, tmp_path) -> str:
    """A copy of the database written by the code of commit d7811a0 (tests/data/legacy/README.md)."""
    url = new_database("legacy")
    if not PG_URL:
        with gzip.open(LEGACY / "towerflow-d7811a0.db.gz") as source, open(tmp_path / "legacy.db", "wb") as copy:
            shutil.copyfileobj(source, copy)
        return url
    schema_name = url.rsplit("%3D", 1)[1]
    dump = gzip.decompress((LEGACY / "towerflow-d7811a0.pg.sql.gz").read_bytes()).decode()
    kept = [line for line in dump.splitlines()
            if not line.startswith(("\\restrict", "\\unrestrict")) and "set_config('search_path'" not in line]
    engine = make_engine(PG_URL)
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("\n".join(kept).replace("public.", f"{schema_name}."))
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return url


@pytest.fixture
def open_platform(services, clock):
    """``open_platform(url)``: the application's platform on that database, closed at the end."""
    built = []

    def make(url: str):
        platform = build_platform(url, services=services, clock=clock)
        built.append(platform)
        return platform

    yield make
    for platform in built:
        platform.close()


def cli(url: str, *args: str):
    return CliRunner().invoke(main, ["--database", url, *args], catch_exceptions=False)


# --- what a database holds ------------------------------------------------------------------------

def differences(platform) -> list:
    """What Alembic's autogenerate would write for this database (``alembic check``)."""
    with platform.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def indexes(platform) -> dict[str, str]:
    """Every index with its definition (columns, uniqueness, the partial index's WHERE)."""
    with platform.engine.connect() as conn:
        if platform.is_postgres:
            rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"))
            return {name: re.sub(r" ON \w+\.", " ON ", definition) for name, definition in rows}
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
        return {name: definition or "(automatic)" for name, definition in rows}


def statistics(platform) -> list[str]:
    if not platform.is_postgres:
        return []
    with platform.engine.connect() as conn:
        return list(conn.scalars(text("SELECT stxname FROM pg_statistic_ext "
                                      "WHERE stxnamespace = current_schema()::regnamespace ORDER BY 1")))


def scalar(platform, statement):
    with platform.engine.connect() as conn:
        return conn.execute(text(statement) if isinstance(statement, str) else statement).scalar()


# --- the revisions and the models agree ------------------------------------------------------------

def test_every_revision_in_turn_builds_what_the_models_describe(new_database, open_platform):
    migrated = open_platform(new_database("migrated"))
    schema.upgrade(migrated, run_migrations=True)
    assert schema.current_revision(migrated) == schema.head_revision(migrated) == HEAD
    assert differences(migrated) == []

    created = open_platform(new_database("created"))
    created.init_db()  # a new database: create_all, then the head is stamped
    assert schema.current_revision(created) == HEAD
    assert differences(created) == []
    assert indexes(created) == indexes(migrated)
    assert "WHERE" in indexes(created)["ix_tasks_inbox"] and "ix_task_candidates_name" not in indexes(created)
    assert statistics(created) == statistics(migrated) == (
        ["st_human_tasks_state_assignee"] if created.is_postgres else [])

    created.init_db()  # nothing left to upgrade
    assert schema.current_revision(created) == HEAD and differences(created) == []


def test_the_revisions_go_down_to_nothing_and_up_again(new_database, open_platform):
    platform = open_platform(new_database())
    schema.upgrade(platform, run_migrations=True)
    config = Config()
    config.set_main_option("script_location", str(migrations.LOCATION))
    with schema.migration_connection(platform.engine) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(platform.engine).get_table_names()) == {"alembic_version"}
    assert statistics(platform) == []

    platform.init_db()
    assert schema.current_revision(platform) == HEAD and differences(platform) == []


def test_a_database_made_by_the_engine_alone_is_adopted(new_database, open_platform):
    """The engine used on its own (no migrations given) makes today's tables with create_all and
    no version; the application's init-db then adopts it like a database made before migrations."""
    url = new_database()
    alone = Platform(url)
    try:
        alone.init_db()
    finally:
        alone.close()
    platform = open_platform(url)
    assert schema.current_revision(platform) is None
    platform.init_db()
    assert schema.current_revision(platform) == HEAD and differences(platform) == []


# --- databases written before the migrations -----------------------------------------------------

def _users(platform) -> dict[str, UserClient]:
    client = create_app({"TESTING": True}, platform=platform).test_client()
    with platform.transaction() as session:
        tokens = {name: identity.create_token(session, name) for name in LEGACY_USERS}
    return {name: UserClient(client, token) for name, token in tokens.items()}


def _complete(users, instance_id: int, user: str, task: str, **data) -> dict:
    """Complete the open task of that element id or title as that user (asserting 200)."""
    tasks = instance(users["supervisor"], instance_id)["active_tasks"]
    found = [t for t in tasks if task in (t["element_id"], t["title"])]
    assert len(found) == 1, (task, tasks)
    r = users[user].post(f"/api/v1/tasks/{found[0]['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return r.json


def _run_due(platform) -> int:
    ran = 0
    while (n := jobs.run_due_jobs(platform)) > 0:
        ran += n
    return ran


@pytest.mark.parametrize("how", ["init_db", "cli"])
def test_a_database_of_d7811a0_upgrades_and_its_instances_run_to_their_end(how, legacy_database, open_platform,
                                                                           clock):
    clock.advance(LEGACY_WRITTEN_AT + timedelta(hours=1) - clock.now())  # an hour after it was written
    platform = open_platform(legacy_database)
    assert schema.current_revision(platform) is None
    if how == "cli":
        result = cli(legacy_database, "init-db")
        assert result.exit_code == 0 and "database ready" in result.output
        assert cli(legacy_database, "db", "current").output.strip() == f"{HEAD} (head)"
    else:
        platform.init_db()

    assert schema.current_revision(platform) == HEAD
    assert differences(platform) == []
    assert scalar(platform, STALE_CANDIDATES) == 0
    assert "ix_tasks_inbox" in indexes(platform) and "ix_task_candidates_name_task" in indexes(platform)
    with platform.engine.connect() as conn:
        rows = conn.execute(text("SELECT business_key, process_key, state, serializer_version "
                                 "FROM process_instances ORDER BY id")).all()
    assert [(key, process, state) for key, process, state, _ in rows] == [
        (None, "contract_expiry", "waiting"), ("XQ-L01", "tower_order", "waiting"),
        ("XQ-L02", "tower_order", "waiting"), ("DS-L01", "difficult_site", "waiting"),
        ("DS-L02", "difficult_site", "waiting"), ("DS-L03", "difficult_site", "completed"),
        ("FAULT-L01", "fault_dispatch", "waiting")]
    assert {version for *_, version in rows} == {"1.5"} == {SERIALIZER_VERSION}  # SpiffWorkflow 3.2.0 wrote them
    with platform.engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT coalesce(business_key, process_key), id FROM process_instances")).all())

    users = _users(platform)
    # Flow 1: XQ-L01 from the operator's confirmation to "cannot be planned"; the demand row follows
    # (the tower plug-in's lifecycle listener on upgraded rows)
    _complete(users, ids["XQ-L01"], "cmcc", "confirm_demand", confirmed=True, confirm_comment="")
    _complete(users, ids["XQ-L01"], "manager", "accept_demand", comment="基础数据无误")
    done = _complete(users, ids["XQ-L01"], "planner", "integrate", integration_result="unplannable",
                     unplannable_reason="规划区内禁止建塔")
    assert done["state"] == "completed", done
    assert users["manager"].get("/api/v1/demands/XQ-L01").json["demand"]["status"] == "unplannable"
    _complete(users, ids["XQ-L02"], "planner", "integrate", integration_result="unplannable",
              unplannable_reason="业主不同意")
    assert users["manager"].get("/api/v1/demands/XQ-L02").json["demand"]["status"] == "unplannable"

    # Flow 5: FAULT-L01 waiting at the first-level repair, with its escalation timer still pending
    _complete(users, ids["FAULT-L01"], "repair", "一级处理", first_level_result="repaired",
              first_level_note="更换光模块")
    _complete(users, ids["FAULT-L01"], "monitor", "恢复确认", restoration_note="告警已消除")
    _complete(users, ids["FAULT-L01"], "manager", "客户确认", customer_answer="restored",
              customer_feedback="客户已回复")

    # Flow 3: DS-L01 rejected; DS-L02 in the library until its 30-day review (due 2027-01-05)
    _complete(users, ids["DS-L01"], "director", "approve", difficult_approved=False, comment="继续谈判")
    _run_due(platform)
    assert instance(users["supervisor"], ids["DS-L02"])["active_tasks"] == []
    clock.advance(datetime(2027, 1, 5, 8, 34) - clock.now())
    assert _run_due(platform) >= 1
    done = _complete(users, ids["DS-L02"], "regional", "review", review_decision="release",
                     review_comment="规划已调整")
    assert done["state"] == "completed" and done["variables"]["library_status"] == "released", done

    states = {key: instance(users["supervisor"], iid)["state"] for key, iid in ids.items()}
    assert states == {"contract_expiry": "waiting", "XQ-L01": "completed", "XQ-L02": "completed",
                      "DS-L01": "completed", "DS-L02": "completed", "DS-L03": "completed",
                      "FAULT-L01": "completed"}
    assert scalar(platform, STALE_CANDIDATES) == 0
    assert scalar(platform, "SELECT count(*) FROM process_instances WHERE serializer_version <> '1.5'") == 0


def test_a_database_from_before_the_inbox_benchmarks_is_repaired(legacy_database, open_platform):
    platform = open_platform(legacy_database)
    with platform.engine.begin() as conn:  # as the code before commit 76423a6 left it
        conn.execute(text("DROP INDEX ix_tasks_inbox"))
        conn.execute(text("DROP INDEX ix_task_candidates_name_task"))
        conn.execute(text("CREATE INDEX ix_task_candidates_name ON task_candidates (kind, name)"))
        if platform.is_postgres:
            conn.execute(text("DROP STATISTICS IF EXISTS st_human_tasks_state_assignee"))
        closed = list(conn.scalars(text("SELECT id FROM human_tasks WHERE state <> 'open'")))
        conn.execute(text("INSERT INTO task_candidates (task_id, kind, name) VALUES (:task, 'group', 'supervisor')"),
                     [{"task": task} for task in closed])
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    open_candidates = scalar(platform, "SELECT count(*) FROM task_candidates") - len(closed)
    assert len(closed) >= 5 and scalar(platform, STALE_CANDIDATES) == len(closed)
    assert statistics(platform) == []

    platform.init_db()
    assert schema.current_revision(platform) == HEAD
    assert scalar(platform, STALE_CANDIDATES) == 0
    assert scalar(platform, "SELECT count(*) FROM task_candidates") == open_candidates == 4
    assert scalar(platform, UNTRUE_COPIES) == 0  # 0009 filled them from the task rows
    found = indexes(platform)
    assert "ix_tasks_inbox" in found and "WHERE" in found["ix_tasks_inbox"]
    assert "ix_task_candidates_name_task" in found and "ix_task_candidates_name" not in found
    assert statistics(platform) == (["st_human_tasks_state_assignee"] if platform.is_postgres else [])
    assert differences(platform) == []


# --- refusals, the command line, starting together ------------------------------------------------

def test_a_database_of_a_newer_version_is_refused_with_a_clear_error(new_database, open_platform):
    url = new_database()
    platform = open_platform(url)
    platform.init_db()
    with platform.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))

    with pytest.raises(schema.SchemaError, match=rf"revision '0099', which this version of TowerFlow does not "
                                                 rf"know \(its newest is {HEAD}\): it was upgraded by a newer version"):
        open_platform(url).init_db()
    assert schema.current_revision(platform) == "0099"  # nothing was changed
    result = cli(url, "db", "current")
    assert result.exit_code == 1 and f"0099: unknown to this version, whose head is {HEAD}" in result.output


def test_db_current_tells_whether_the_database_is_at_the_head(new_database):
    url = new_database()
    before = cli(url, "db", "current")
    assert before.exit_code == 1 and before.output.startswith("none: a new database")
    assert cli(url, "init-db").exit_code == 0
    after = cli(url, "db", "current")
    assert after.exit_code == 0 and after.output.strip() == f"{HEAD} (head)"


@pytest.mark.parametrize("database", ["new", "legacy"])
def test_servers_starting_together_upgrade_the_database_once(database, request, open_platform):
    url = request.getfixturevalue("legacy_database" if database == "legacy" else "new_database")
    url = url if isinstance(url, str) else url()
    platforms = [open_platform(url) for _ in range(4)]
    ready = threading.Barrier(len(platforms))
    errors: list[BaseException] = []

    def start(platform) -> None:
        ready.wait()
        try:
            platform.init_db()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(platform,)) for platform in platforms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert scalar(platforms[0], "SELECT count(*) FROM alembic_version") == 1
    assert schema.current_revision(platforms[0]) == HEAD and differences(platforms[0]) == []

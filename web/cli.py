"""The ``towerflow`` command line."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from engine import identity
from engine.definitions import deployments
from engine.errors import EngineError
from engine.plugins import StartupError
from engine.principal import SYSTEM
from engine.schema import SchemaError
from engine.settings import Settings, SettingsError
from tower.demo import DEMO_PASSWORD, DEMO_USERS

from .app import build_platform, create_app


def _platform(ctx: click.Context):
    """The platform of the settings read at start, its database brought to the newest schema."""
    settings = ctx.find_root().obj["settings"]
    try:
        platform = build_platform(settings)
        platform.init_db()
    except (SettingsError, StartupError, SchemaError) as exc:
        raise click.ClickException(str(exc)) from None
    return platform


def _collect(paths: tuple[str, ...]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for raw in paths:
        path = Path(raw)
        found = sorted(p for p in path.rglob("*") if p.suffix in (".bpmn", ".dmn")) if path.is_dir() else [path]
        for file in found:
            if not file.is_file():
                raise click.ClickException(f"{file}: no such file")
            files[file.name] = file.read_bytes()
    return files


@click.group()
@click.option("--database", default=None,
              help="Database URL (default: TOWERFLOW_DATABASE_URL, else sqlite:///towerflow.db).")
@click.pass_context
def main(ctx: click.Context, database: str | None) -> None:
    """TowerFlow: BPMN processes for tower orders and enterprise fault dispatch."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every tick otherwise
    logging.getLogger("spiff").setLevel(logging.WARNING)  # and SpiffWorkflow every task state change
    try:  # the one place the environment is read
        settings = Settings.from_env(database_url=database)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    ctx.obj = {"settings": settings}


@main.command("config")
@click.pass_context
def config(ctx: click.Context) -> None:
    """Print the settings in force (from TOWERFLOW_* variables and options), secrets masked."""
    for name, value in ctx.obj["settings"].describe():
        click.echo(f"{name}={value}")


@main.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Bring the database to the newest schema (Alembic's head), new or made by an older version."""
    _platform(ctx)
    click.echo("database ready")


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.pass_context
def lint(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Check BPMN/DMN files (or folders of them) without deploying."""
    platform = _platform(ctx)
    result = deployments.lint(platform, _collect(paths))
    for problem in result.problems + result.warnings:
        click.echo(str(problem), err=True)
    if result.problems:
        raise SystemExit(1)
    warned = f", {len(result.warnings)} warning(s)" if result.warnings else ""
    click.echo(f"ok: {len(result.processes)} process(es), {len(result.decisions)} decision(s){warned}")


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.pass_context
def deploy(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Validate and deploy BPMN/DMN files (or folders); nothing is deployed on any error."""
    platform = _platform(ctx)
    files = _collect(paths)
    if not files:
        click.echo("no .bpmn or .dmn files found")
        return
    try:
        summary = deployments.deploy(platform, SYSTEM, files)
    except EngineError as exc:
        for problem in (exc.details or {}).get("problems", []):
            click.echo(f"{problem['file']}:{problem['line']}: [{problem['element_id']}] {problem['message']}",
                       err=True)
        raise click.ClickException(exc.message) from None
    for item in summary["processes"] + summary["decisions"]:
        notes = []
        if item.get("decisions"):
            notes.append("uses " + ", ".join(f"{d['key']} v{d['version']}" for d in item["decisions"]))
        if item.get("affects"):
            notes.append("affects " + ", ".join(f"{a['key']} v{a['version']}" for a in item["affects"]))
        if item.get("rebuilt"):
            notes.append("rebuilt from its deployed file for the new decision")
        suffix = f" ({'; '.join(notes)})" if notes else ""
        click.echo(f"{item['key']} v{item['version']} {'deployed' if item['new'] else 'unchanged'}{suffix}")
    for warning in summary.get("warnings", []):
        click.echo(f"{warning['file']}:{warning['line']}: warning: [{warning['element_id']}] {warning['message']}",
                   err=True)


def _few_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each request thread a memory pool of its own and keeps it; with 8 threads a
    server grew past 100 MiB after a few thousand requests. Two pools hold it near 95 MiB
    (benchmarks/findings.md, "Memory and growth"). Elsewhere than glibc this does nothing."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(name).mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def _serve_probes(platform, host: str, port: int) -> None:
    """The worker's /healthz, /readyz and /metrics, served by waitress in a thread of their own."""
    import threading

    from waitress.server import create_server

    from .health import probe_app

    try:
        server = create_server(probe_app(platform), host=host, port=port, threads=2)
    except OSError as exc:
        raise click.ClickException(f"--http-port {port}: {exc}") from None
    threading.Thread(target=server.run, name="towerflow-probes", daemon=True).start()
    click.echo(f"worker probes on http://{host}:{port}/healthz, /readyz, /metrics")


def _observe(ctx: click.Context, role: str) -> None:
    """Logs as TOWERFLOW_LOG_FORMAT says, with request ids; metrics in TOWERFLOW_METRICS_DIR (set
    before prometheus_client is imported, so several processes add up). docs/operations.md"""
    from .logs import configure_logging
    from .metrics import init

    settings = ctx.find_root().obj["settings"]
    configure_logging(settings)
    init(settings, role=role)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=8, show_default=True, type=int, help="Request threads of the server.")
@click.option("--no-clock", is_flag=True, help="Do not run timers and jobs in this process.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, no_clock: bool) -> None:
    """Serve the web app and API with waitress (a production WSGI server)."""
    from waitress import serve as waitress_serve

    _few_malloc_arenas()
    _observe(ctx, "serve")
    platform = _platform(ctx)
    app = create_app({"START_CLOCK": not no_clock}, platform=platform)
    click.echo(f"TowerFlow on http://{host}:{port}/ (API: http://{host}:{port}/api/v1/openapi.json)")
    waitress_serve(app, host=host, port=port, threads=workers)


@main.command()
@click.option("--tick", default=None, type=float,
              help="Seconds between polls of the job table (default: TOWERFLOW_CLOCK_TICK, else 0.25).")
@click.option("--http-port", default=None, type=int,
              help="Serve /healthz, /readyz and /metrics on this port (default: no HTTP at all).")
@click.option("--http-host", default="127.0.0.1", show_default=True, help="Address for --http-port.")
@click.pass_context
def worker(ctx: click.Context, tick: float | None, http_port: int | None, http_host: str) -> None:
    """Run timers, service tasks and retries without serving the app (optionally its probes)."""
    from .clock import start_clock

    _observe(ctx, "worker")
    platform = _platform(ctx)
    if tick is not None and tick <= 0:
        raise click.BadParameter("must be a positive number of seconds", param_hint="--tick")
    start_clock(platform, tick or platform.settings.clock_tick)
    if http_port is not None:
        _serve_probes(platform, http_host, http_port)
    click.echo(f"worker {platform.worker_id} running; Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Seed the demo users (one per role, three operator tenants) and print their logins."""
    platform = _platform(ctx)
    with platform.transaction() as session:
        for username, groups, tenant, display in DEMO_USERS:
            try:
                identity.get_user(session, username)
            except EngineError:
                identity.add_user(session, username, DEMO_PASSWORD, groups, tenant, display_name=display)
    from tower.demo import seed_world

    try:
        added = seed_world(platform)
    except EngineError as exc:  # e.g. the processes are not deployed yet
        raise click.ClickException(f"demo data: {exc.message}") from None
    if any(added.values()):
        click.echo("Demo data: " + ", ".join(f"{n} {what}" for what, n in added.items()))
    else:
        click.echo("Demo data already seeded")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for username, groups, tenant, display in DEMO_USERS:
        click.echo(f"  {username:<11} {','.join(groups):<18} {tenant or '':<14} {display}")


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@click.option("--password", required=True)
@click.option("--group", "groups", multiple=True, help="Group id; repeat for several.")
@click.option("--tenant", default=None, help="Operator company the user belongs to.")
@click.option("--display-name", default="")
@click.pass_context
def user_add(ctx: click.Context, name: str, password: str, groups: tuple[str, ...], tenant: str | None,
             display_name: str) -> None:
    """Add a user with groups and an optional tenant."""
    platform = _platform(ctx)
    try:
        with platform.transaction() as session:
            identity.add_user(session, name, password, list(groups), tenant, display_name=display_name)
    except EngineError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"user {name} added")


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("name")
@click.pass_context
def token_create(ctx: click.Context, name: str) -> None:
    """Create an API token for user NAME and print it (shown only once)."""
    platform = _platform(ctx)
    try:
        with platform.transaction() as session:
            value = identity.create_token(session, name, name="cli", max_days=platform.settings.api_token_days)
    except EngineError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(value)


@main.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Write the called-process, token and value rows of instances saved before schema 0007
    (lists, counts and filters read them); safe to run while the platform serves."""
    from engine.runtime.reindex import reindex as run_reindex

    platform = _platform(ctx)
    click.echo(f"{run_reindex(platform)} instances indexed")


@main.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, target: Path) -> None:
    """Copy the embedded SQLite database to TARGET, safely while servers and workers run: one
    consistent snapshot (sqlite3's online backup API; in WAL mode writers go on meanwhile), checked,
    then moved into place, so TARGET is whole or absent. For PostgreSQL use pg_dump (docs/deploy.md)."""
    from engine.backup import BackupError, backup_sqlite

    url = ctx.find_root().obj["settings"].database_url
    try:
        copied = backup_sqlite(url, target)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backed up {copied.source} to {target}: {copied.pages} pages, {copied.size / 2**20:.1f} MiB, "
               "integrity ok")


@main.group()
def db() -> None:
    """The database schema's version: Alembic revisions in migrations/ (see docs/migrations.md)."""


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the database's schema revision and whether it is the newest; changes nothing.
    Exits 1 when the database is not at the newest revision (init-db upgrades it)."""
    from engine import schema

    try:
        platform = build_platform(ctx.find_root().obj["settings"])
    except (SettingsError, StartupError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        current, head = schema.current_revision(platform), schema.head_revision(platform)
        known = current is None or schema.is_known(platform, current)
    finally:
        platform.close()
    if current == head:
        click.echo(f"{current} (head)")
        return
    if current is None:
        click.echo(f"none: a new database, or one made before migrations (head: {head}; "
                   "towerflow init-db upgrades it)")
    elif not known:
        click.echo(f"{current}: unknown to this version, whose head is {head} (upgraded by a newer TowerFlow?)")
    else:
        click.echo(f"{current} (not the head: {head}; towerflow init-db upgrades it)")
    ctx.exit(1)


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes (also its file name).")
@click.option("--autogenerate/--empty", default=True, show_default=True,
              help="Write the operations the models differ in from the migrations' schema, or an empty revision.")
def db_revision(message: str, autogenerate: bool) -> None:
    """Write the next revision (migrations/versions/NNNN_<message>.py) for a change to the models.

    Autogenerate compares the models with a scratch SQLite database built by every existing
    revision: read the file, add what it cannot see (data, PostgreSQL-only objects), test it."""
    import migrations
    from engine import schema

    path = schema.new_revision(migrations.LOCATION, message, autogenerate=autogenerate)
    click.echo(f"wrote {path}")


@main.command()
@click.option("--from", "source", required=True, metavar="KEY:VERSION", help="The version the instances run now.")
@click.option("--to", "target", required=True, metavar="KEY:VERSION", help="The version to move them to.")
@click.option("--instance", "instance_ids", type=int, multiple=True,
              help="An instance id (repeat); default: every running instance of the source version.")
@click.option("--state", default=None, help="Only instances in this state (e.g. waiting), when no --instance.")
@click.option("--reason", default=None, help="Why (written to each instance's audit event; required to migrate).")
@click.option("--dry-run", is_flag=True, help="Print the plan only.")
@click.pass_context
def migrate(ctx: click.Context, source: str, target: str, instance_ids: tuple[int, ...], state: str | None,
            reason: str | None, dry_run: bool) -> None:
    """Move running instances to another version of their process: prints the plan, then the
    results (docs/migration-of-instances.md). Undo by migrating back."""
    from engine.runtime import instances, migration

    platform = _platform(ctx)
    try:
        with platform.Session() as session:
            ids = [migration.definition_by_version(session, *_key_version(text)) for text in (source, target)]
        scope = {"instance_ids": list(instance_ids)} if instance_ids else {"flt": instances.InstanceFilter(state=state)}
        plan = migration.plan(platform, SYSTEM, ids[0], ids[1], **scope)
        for line in migration.plan_lines(plan):
            click.echo(line)
        if dry_run:
            return
        if not (reason or "").strip():
            raise click.ClickException("--reason is required to migrate (or use --dry-run)")
        result = migration.migrate(platform, SYSTEM, ids[0], ids[1], reason=reason, **scope)
    except EngineError as exc:
        raise click.ClickException(exc.message) from None
    for item in result.instances:
        click.echo(f"instance {item.instance_id}: " + ("migrated" if item.migrated else
                                                       "refused: " + "; ".join(r.message for r in item.refusals)))
    click.echo(f"{result.migrated} of {len(result.instances)} migrated")
    if result.migrated < len(result.instances):
        ctx.exit(1)


def _key_version(text: str) -> tuple[str, int]:
    key, _, version = text.rpartition(":")
    if not key or not version.isdigit():
        raise click.BadParameter(f"{text!r}: give KEY:VERSION, e.g. site_negotiation:2")
    return key, int(version)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``python -m benchmarks [--quick] [--only step,growth,throughput,inbox,timers,search,hot]``: run the
benchmarks, print the tables and rewrite BENCHMARKS.md (``make bench``, ``make bench BENCH_ARGS=--quick``)."""

from __future__ import annotations

import argparse
import os
import platform as pyplatform
import sqlite3
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from .common import (
    ROOT,
    Section,
    Workspace,
    cheap_passwords,
    drop_pg_schema,
    log,
    markdown_table,
    pg_available,
    pg_url,
    render_table,
)

SECTIONS = ("step", "growth", "throughput", "inbox", "timers", "search", "hot", "remote")


@dataclass(frozen=True)
class Config:
    step_rounds: int
    growth_checkpoints: tuple[int, ...]
    growth_on_pg: bool
    throughput_processes: tuple[int, ...]
    throughput_seconds: float
    throughput_clients: int
    inbox_open: int
    inbox_completed: int
    inbox_runs: int
    timer_count: int
    timer_window: float
    timer_runs: tuple[tuple[str, int], ...]  # (database, worker processes)
    search_instances: int = 100_000
    search_runs: int = 50
    hot_rounds: int = 100  # five_tasks instances per database (issue 16)


FULL = Config(step_rounds=15, growth_checkpoints=(10, 100, 300), growth_on_pg=False,
              throughput_processes=(1, 2, 4), throughput_seconds=25, throughput_clients=4,
              inbox_open=100_000, inbox_completed=1_000_000, inbox_runs=100,
              timer_count=10_000, timer_window=60, timer_runs=(("sqlite", 1), ("pg", 2)))
QUICK = Config(step_rounds=5, growth_checkpoints=(10, 100, 300), growth_on_pg=False,
               throughput_processes=(1, 2, 4), throughput_seconds=8, throughput_clients=4,
               inbox_open=10_000, inbox_completed=100_000, inbox_runs=30,
               timer_count=1_000, timer_window=20, timer_runs=(("sqlite", 1), ("pg", 2)),
               search_instances=10_000, search_runs=20, hot_rounds=20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a few minutes")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="the report to rewrite")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite files and PostgreSQL schemas")
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    os.chdir(ROOT)
    cheap_passwords()
    import logging

    logging.getLogger("spiff").setLevel(logging.WARNING)
    started = time.time()
    has_pg = not args.no_pg and pg_available()
    workspace = Workspace()
    sections = build_sections()
    schemas: list[str] = []

    def pg(schema: str) -> str:
        schemas.append(schema)
        return pg_url(schema)

    databases = [("sqlite", lambda name: workspace.sqlite_url(name))]
    if has_pg:
        databases.append(("pg", pg))
    try:
        for name in wanted:
            t0 = time.time()
            log(f"== {name}")
            try:
                RUNNERS[name](config, databases, has_pg, workspace, sections)
            except Exception:  # noqa: BLE001 - one failing benchmark must not hide the others
                trace = traceback.format_exc()
                log(f"{name} failed:\n{trace}")
                sections[name].blocks.append((f"{name} FAILED", trace[-4000:]))
                sections[name].target(f"{name} ran to its end", "failed", "ran", False)
            sections[name].seconds = time.time() - t0
            done = wanted[:wanted.index(name) + 1]
            Path(args.output).write_text(markdown(sections, done, args, config, has_pg, time.time() - started))
    finally:
        if args.keep:
            log(f"kept: {workspace.path} and PostgreSQL schemas {', '.join(schemas)}")
            schemas.clear()
        else:
            workspace.cleanup()
        for schema in schemas:
            try:
                drop_pg_schema(schema)
            except Exception:  # noqa: BLE001
                pass
    total = time.time() - started
    print_report(sections, wanted)
    Path(args.output).write_text(markdown(sections, wanted, args, config, has_pg, total))
    log(f"done in {total / 60:.1f} min; wrote {args.output}")
    return 0


# --- the runners ----------------------------------------------------------------------------

def run_step(config: Config, databases, has_pg, workspace, sections) -> None:
    from .flows import default_flow
    from .step_cost import step_cost

    flow = default_flow()
    section = sections["step"]
    tasks = flow.task_steps
    section.notes.append(f"Flow: {flow.description}. Measured step = completing one user task: the samples are "
                         f"all {len(tasks)} user tasks of each instance ({', '.join(s.element_id for s in tasks)}); "
                         f"{config.step_rounds} instances per method and database, the three methods "
                         f"interleaved instance by instance, after one warm-up instance each. The per-task "
                         f"medians are below the table.")
    for db, make in databases:
        log(f"step cost on {db}")
        step_cost(make(f"bench_step_{db}"), flow, config.step_rounds, workspace, section, db)


def run_growth(config: Config, databases, has_pg, workspace, sections) -> None:
    from .growth import growth

    for db, make in databases:
        if db == "pg" and not config.growth_on_pg:
            continue
        log(f"growth on {db}")
        growth(make(f"bench_growth_{db}"), config.growth_checkpoints, sections["growth"])


def run_throughput(config: Config, databases, has_pg, workspace, sections) -> None:
    from .flows import default_flow
    from .throughput import throughput

    if not has_pg:
        sections["throughput"].notes.append("PostgreSQL was not available: not measured.")
        return
    make = dict(databases)["pg"]
    flow = default_flow()
    start = "POST /demands + POST /demands/submit" if flow.demand else "POST /process-instances"
    sections["throughput"].notes.append(
        f"Flow: {flow.description}. A start is {start}; "
        f"step = one POST /tasks/{{id}}/complete ({len(flow.task_steps)} per instance). "
        f"{config.throughput_clients} client threads (this process, keep-alive HTTP) "
        f"spread over the server processes; {config.throughput_seconds:.0f} s of full flows, then "
        f"{max(3.0, config.throughput_seconds / 3):.0f} s of starts only. Every server runs its timer clock.")
    throughput(make, flow, config.throughput_processes, config.throughput_seconds, config.throughput_clients,
               workspace, sections["throughput"], sections["memory"])


def run_inbox(config: Config, databases, has_pg, workspace, sections) -> None:
    from .flows import negotiation_flow
    from .inbox import Scale, inbox
    from .step_cost import prepare

    scale = Scale(config.inbox_open, config.inbox_completed)
    for db, make in databases:
        platform, _tokens, definition_id = prepare(make(f"bench_inbox_{db}"), negotiation_flow())
        try:
            inbox(platform.url.replace("postgresql+psycopg", "postgresql"), scale, config.inbox_runs, workspace,
                  sections["inbox"], sections["plans"], sections["memory"], definition_id, platform)
        finally:
            platform.close()


def run_timers(config: Config, databases, has_pg, workspace, sections) -> None:
    from .timers import profile_timer_jobs, timer_precision, timer_rate

    makers = dict(databases)
    missed = False
    for db, processes in config.timer_runs:
        if db not in makers:
            continue
        result = timer_precision(makers[db](f"bench_timers_{db}_{processes}"), processes, config.timer_count,
                                 config.timer_window, workspace, sections["timers"], f"{db}{processes}")
        missed = missed or result["p99"] > 1.0
    for db, processes in config.timer_runs:
        if db in makers:
            rate = timer_rate(makers[db](f"bench_timer_rate_{db}_{processes}"), processes, config.timer_count,
                              config.timer_window, workspace, sections["timers"], f"{db}{processes}")
            missed = missed or rate["missed"]
    if missed:
        sections["timers"].blocks.append(("pyinstrument profile of timer jobs (SQLite)", profile_timer_jobs(
            makers["sqlite"]("bench_timers_profile"), 300)))


def run_search(config: Config, databases, has_pg, workspace, sections) -> None:
    from .flows import negotiation_flow
    from .instance_search import EXTRA_INDEXES, Scale, instance_search
    from .step_cost import prepare

    for db, make in databases:
        platform, _tokens, definition_id = prepare(make(f"bench_search_{db}"), negotiation_flow())
        try:
            instance_search(platform, Scale(config.search_instances), config.search_runs, sections["search"],
                            sections["search_plans"], definition_id, EXTRA_INDEXES.get(db, []))
        finally:
            platform.close()


def run_hot(config: Config, databases, has_pg, workspace, sections) -> None:
    from .hot_path import hot_path

    for db, make in databases:
        log(f"hot path on {db}")
        hot_path(make(f"bench_hot_{db}"), config.hot_rounds, workspace, sections["hot"], db)


def run_remote(config: Config, databases, has_pg, workspace, sections) -> None:
    from .remote_lock import remote_lock

    log("remote calls and the write lock on SQLite")
    remote_lock(workspace, sections["remote"])


RUNNERS = {"step": run_step, "growth": run_growth, "throughput": run_throughput, "inbox": run_inbox,
           "timers": run_timers, "search": run_search, "hot": run_hot, "remote": run_remote}


def build_sections() -> dict[str, Section]:
    return {
        "step": Section("step", "1. Per-step cost of completing one user task",
                        ["database", "what", "samples", "median ms", "p95 ms", "ratio (medians)"]),
        "throughput": Section("throughput", "2. End-to-end throughput on PostgreSQL (REST API, server processes)",
                              ["server processes", "clients", "flows/min", "starts/s", "step median ms",
                               "step p95 ms", "start median ms", "flows done", "audit: twice/lost"]),
        "inbox": Section("inbox", "3. Inbox at scale",
                         ["database", "user", "query", "total", "median ms", "p95 ms", "p95 <= 30 ms"]),
        "plans": Section("plans", "3b. Query plans the inbox timings rely on", []),
        "timers": Section("timers", "4. Timer precision",
                          ["database", "worker processes", "timers", "window s", "lateness p50 s", "p99 s",
                           "max s", "drained after s", "fired/s", "each exactly once"]),
        "growth": Section("growth", "5. Growth of a looping instance (site_negotiation progress report)",
                          ["database", "iteration", "step median ms", "x iteration 10", "workflow_json KiB",
                           "tasks in state", "same step in memory ms"]),
        "memory": Section("memory", "6. Memory (resident set) of server processes",
                          ["process", "RSS idle MiB", "RSS after MiB"]),
        "search": Section("search", "7. Finding instances at scale (issue 15)",
                          ["database", "filter", "total", "median ms", "p95 ms", "p95 <= 100 ms"]),
        "search_plans": Section("search_plans", "7b. Query plans the instance search relies on", []),
        "hot": Section("hot", "8. The hot path: five sequential user tasks over HTTP (issue 16)",
                       ["database", "what", "samples", "median ms", "p95 ms", "ratio (medians)"]),
        "remote": Section("remote", "9. A remote call and everyone else (issue 17)",
                          ["database", "handler called", "call ms", "calls made", "completions meanwhile",
                           "median ms", "p95 ms", "max ms"]),
    }


ORDER = ("step", "throughput", "inbox", "plans", "timers", "growth", "memory", "search", "search_plans", "hot",
         "remote")
BELONGS = {"plans": "inbox", "memory": None, "search_plans": "search"}


def _shown(key: str, wanted: list[str]) -> bool:
    owner = BELONGS.get(key, key)
    return owner is None or owner in wanted


def print_report(sections: dict[str, Section], wanted: list[str]) -> None:
    print()
    for key in ORDER:
        section = sections[key]
        if not _shown(key, wanted) or (not section.rows and not section.targets):
            continue
        print(f"== {section.title}")
        if section.rows:
            print(render_table(section.columns, section.rows))
        for note in section.notes:
            print(f"   {note}")
        print()
    targets = [t for key in ORDER for t in sections[key].targets]
    if targets:
        print("== Targets")
        print(render_table(["target", "measured", "goal", "met"],
                           [[t.name, t.measured, t.goal, _met(t.met)] for t in targets]))
        print()


def _met(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "NO"


# --- BENCHMARKS.md ----------------------------------------------------------------------------

def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return pyplatform.processor() or "?"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "?"


def _git() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
        return commit + (" + uncommitted changes" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _pg_version(has_pg: bool) -> str:
    if not has_pg:
        return "not available"
    import psycopg

    from .common import PG_SERVER

    with psycopg.connect(f"{PG_SERVER}/postgres") as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def markdown(sections: dict[str, Section], wanted: list[str], args, config: Config, has_pg: bool,
             total: float) -> str:
    mode = "quick" if args.quick else "full"
    command = "python -m benchmarks " + " ".join(sys.argv[1:])
    out = [
        "# Benchmarks",
        "",
        f"Rewritten by every run of `make bench` (`python -m benchmarks`); this one: **{mode} mode**, "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, {total / 60:.1f} minutes.",
        "",
        *_at_a_glance(sections, wanted),
        "## How to run",
        "",
        "```sh",
        "make bench                      # the full run (under 20 minutes); rewrites BENCHMARKS.md",
        "make bench BENCH_ARGS=--quick   # a few minutes, smaller sizes",
        ".venv/bin/python -m benchmarks --only inbox,timers --no-pg   # a subset",
        "```",
        "",
        "PostgreSQL: `TOWERFLOW_BENCH_PG` (default `postgresql://postgres@127.0.0.1:5432`); the run creates the "
        "database `towerflow_bench` and a schema per benchmark, dropped at the end. SQLite files live in a "
        "temporary folder. Benchmarks are not part of `make test`.",
        "",
        "## This run",
        "",
        markdown_table(["", ""], [
            ["command", f"`{command.strip()}`"],
            ["commit", _git()],
            ["machine", f"{_cpu()}, {os.cpu_count()} cores, {_memory_gib()} RAM, {pyplatform.platform()}"],
            ["Python", sys.version.split()[0]],
            ["SpiffWorkflow / SQLAlchemy / Flask / waitress / psycopg",
             " / ".join(_version(p) for p in ("SpiffWorkflow", "SQLAlchemy", "Flask", "waitress", "psycopg"))],
            ["SQLite", sqlite3.sqlite_version],
            ["PostgreSQL", _pg_version(has_pg)],
            ["sections", ", ".join(f"{k} ({sections[k].seconds:.0f} s)" for k in wanted)],
        ]),
        "",
        "The machine has 2 cores shared with other people's test runs, and the client, the servers and the "
        "database all run on it: absolute numbers are noisy, so each result is a median and p95 over many "
        "runs and, where a baseline exists, a ratio against that baseline measured in the same run.",
        "",
    ]
    targets = [t for key in ORDER for t in sections[key].targets if _shown(key, wanted)]
    if targets:
        out += ["## Targets", "", markdown_table(["target", "measured", "goal", "met"],
                                                 [[t.name, t.measured, t.goal, _met(t.met)] for t in targets]), ""]
    out += [findings(), ""]
    for key in ORDER:
        section = sections[key]
        if not _shown(key, wanted):
            continue
        if not (section.rows or section.blocks or section.notes):
            continue
        out += [f"## {section.title}", ""]
        if key in DESCRIPTIONS:
            out += [DESCRIPTIONS[key], ""]
        if section.rows:
            out += [markdown_table(section.columns, section.rows), ""]
        out += [f"- {note}" for note in section.notes]
        if section.notes:
            out.append("")
        for caption, body in section.blocks:
            out += [f"**{caption.splitlines()[0]}**", ""]
            rest = "\n".join(caption.splitlines()[1:]).strip()
            if rest:
                out += ["```sql", rest, "```", ""]
            out += ["```", body.rstrip(), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def _at_a_glance(sections: dict[str, Section], wanted: list[str]) -> list[str]:
    """The headline targets (per-task cost, throughput, inbox, timers, memory) in one short table."""
    rows = [[t.headline, t.measured, t.goal, _met(t.met)] for key in ORDER if _shown(key, wanted)
            for t in sections[key].targets if t.headline]
    if not rows:
        return []
    return ["## At a glance", "", markdown_table(["what", "measured", "target", "met"], rows), "",
            "Every target with its full name is under [Targets](#targets); why a missed one is missed is in "
            "[Findings](#findings).", ""]


DESCRIPTIONS = {
    "step": "(a) raw SpiffWorkflow in memory: deserialize the workflow (SpiffWorkflow's own JSON, spec included), "
            "complete the ready user task, `do_engine_steps`, serialize; no database. (b) `engine.tasks.complete` "
            "(form check, lock, load, complete, step, mirror into the query tables, audit, commit), and `jobs.drain` "
            "after it, as the REST handler does (it runs any service task the step queued). (c) `POST "
            "/api/v1/tasks/{id}/complete` against `towerflow serve` (waitress, 8 threads) in its own process, "
            "keep-alive HTTP, its timer clock off so that every service task a step queues runs in the measured call "
            "(the handler's drain, or (b)'s), not in a clock thread; the answer is the instance after it moved on. "
            "Flow 1 is driven as `tests/flows/test_flow_tower_order.py` drives it: (b) starts with "
            "`demand_flow.enter_demand` + `submit`, (c) with `POST /demands` + `POST /demands/submit`; the scan for "
            "交付验收单 is uploaded before the timed completion (`files.store` / `POST /tasks/{id}/files`); the PMS "
            "message is timed on its own row. The raw engine (a) gets fixed service results: the outbox's answer, and"
            " for `site_library.find_nearby` the stored site found, as the platform answers, so it takes the same "
            "path. Targets (issue 16): (b) <= 2 x (a) and (c) <= 1.2 x (b), medians of the same run; (b) is taken "
            "with the drain when the step queued work, as the API drains. On PostgreSQL a step calls the service "
            "tasks it readied inline; on SQLite they are queued and drained in one transaction.",
    "throughput": "Each client thread starts an instance over HTTP (Flow 1: enters a demand and submits it) and "
                  "drives it to its end one request after another (uploads, messages and task completions) "
                  "until the time is up; flows/min counts instances driven to their end. Afterwards the audit "
                  "log is checked: every finished instance started once, ran each expected step exactly once "
                  "(one `task.completed` per task row, the expected count per element), called each of its "
                  "service tasks once (the `service.completed` count), received each message once "
                  "(`message.received`) and completed; every instance of the "
                  "starts-only phase started once with one open task. Target (issue 16): at least 500 tower "
                  "orders a minute on PostgreSQL with the best of the process counts.",
    "inbox": "Bulk-loaded with COPY (PostgreSQL) or executemany (SQLite), not through the engine: 2,000 users in "
             "30 groups (1-3 each) and 3 tenants (a quarter staff without tenant); one instance per open task, "
             "ten completed tasks and one cancelled per instance (closed tasks keep no candidate rows, as the engine "
             "leaves them); 1-2 candidate groups per task, 5 % with a candidate user, 30 % claimed. Timed: the "
             "engine's `tasks.find_tasks` (page of 50 plus the total counted up to `TASK_COUNT_CAP` = 1,000, as the "
             "inbox and `GET /tasks` call it; \"1,000+\" past it), the tab counts (`count_tasks` with the cap) and "
             "the process filter (`process_keys`), each in its own session, for an operator user in three groups, "
             "a staff user in four and a supervisor who sees every open task; then `GET /api/v1/tasks` over HTTP on "
             "a server process. Target (issue 16): p95 <= 30 ms for the worst of them.",
    "plans": "EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite, of the statements the "
             "engine sent (captured from SQLAlchemy, run with the same parameters).",
    "timers": "One instance of a one-timer process (`benchmarks/data/bench_timer.bpmn`, a timeDate) is started "
              "through the engine, then cloned with plain SQL into N instances whose timer jobs fall due evenly "
              "over the window. `towerflow worker` processes (the APScheduler clock, polling every 0.25 s, "
              "`FOR UPDATE SKIP LOCKED` on PostgreSQL) fire them. Lateness = the job's `finished_at` minus its "
              "`due_at`. Exactly once: every job done, one `timer.fired` audit event per instance, every "
              "instance completed. Target p99 <= 1 s. Sustained rate (rows \"all due\"): the same N timers all due "
              "before the workers start; firings/s between the 5th and 95th percentile of the jobs' finish "
              "times, cut off after the window's length; targets >= 300/s on SQLite with 1 worker, >= 600/s on "
              "PostgreSQL with 2 (issue 16: the 167/s of 10,000 in 60 s, with margin).",
    "growth": "One site_negotiation instance (Flow 2; Flow 1 runs the same diagram as its call activity "
              "`negotiation` after a failed screening, so this is the loop a tower order goes through there) "
              "driven through the engine API: plan, accept, then the progress "
              "report answered \"in progress\" again and again. Step median = median of the five steps up to "
              "that iteration; KiB = the `workflow_json` written by that step (the whole state is rewritten "
              "every step); \"in memory\" = the same step without the database (platform deserialize, "
              "complete, engine steps, serialize). One instance per checkpoint, stepped in turn, so a change in "
              "the machine's load reaches every checkpoint alike. Target (issue 16): cost at 300 <= 1.6 x cost at "
              "10; and a server's memory (idle, and after 500 completions over HTTP) <= 100 MiB.",
    "memory": "VmRSS of each `towerflow serve` process, idle after start and after its benchmark.",
    "search": "benchmarks/instance_search.py. Bulk-loaded with COPY (PostgreSQL) or executemany (SQLite): "
              "100,000 instances over five processes and three tenants, a fifth of the waiting tower orders at "
              "their call activity with a called site_negotiation row of its own; one token (and one waiting "
              "listener) per live instance, three searchable values each (demand_no, site_name, antenna_height). "
              "Timed: `instances.list_instances` as the list page and `GET /process-instances` call it (page of "
              "50 plus the count), each in its own session. Target p95 <= 100 ms on PostgreSQL.",
    "hot": "benchmarks/hot_path.py. `benchmarks/data/five_tasks.bpmn` (start, five user tasks for one candidate "
           "group, no form, end) driven over one keep-alive connection against `towerflow serve` (waitress, "
           "8 threads, timer clock on): `POST /process-instances`, then `POST /tasks/{id}/complete` five times, "
           "each task's id taken from the previous answer (a candidate completes a group task without claiming "
           "it). Raw = SpiffWorkflow alone in the same run, instance by instance interleaved: deserialize "
           "(SpiffWorkflow's own JSON), complete, engine steps, serialize (as section 1's (a)); a raw start is "
           "build the workflow, engine steps, serialize. Statements per request and the profile are taken in "
           "the bench process on the same Flask app without a socket. Targets (issue 16): median <= 5 ms on "
           "SQLite and <= 8 ms on PostgreSQL, p95 <= 2 x median, <= 5 x raw.",
    "remote": "benchmarks/remote_lock.py and `benchmarks/data/remote_call.bpmn` (a task, pms.create_project "
              "over real HTTP to a local server that answers after 100 ms, a task). Engine API in the bench "
              "process on an SQLite file: a job runner thread makes the queued calls one by one while the "
              "person's completions are timed. Issue 17 asks whether the call can leave the instance's lock; "
              "it does for handlers registered remote (engine/runtime/remote_calls.py).",
}

FINDINGS_FILE = Path(__file__).parent / "findings.md"


def findings() -> str:
    """The causes of missed targets, as last written down (benchmarks/findings.md, kept by hand)."""
    text = FINDINGS_FILE.read_text().strip() if FINDINGS_FILE.exists() else ""
    return "## Findings\n\n" + (text or "(none written down yet)")


if __name__ == "__main__":
    sys.exit(main())

"""Point 3: the inbox at scale. Open and completed tasks are bulk-loaded with plain SQL (COPY on
PostgreSQL, executemany on SQLite), not through the engine; then the engine's inbox functions
(engine.runtime.tasks.find_tasks / count_tasks / process_keys, as the inbox page and GET /tasks
call them, counts capped at TASK_COUNT_CAP) for every view and kind of user, and the REST endpoint,
are timed, and the plans recorded. Target (issue 16): p95 <= 30 ms for the worst query."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, text

from engine.definitions.serialization import SERIALIZER_VERSION

from .common import Http, Section, Server, Workspace, db_label, log, make_user, median, ms, pct, principal, sample_query

TENANTS = ("china_mobile", "china_unicom", "china_telecom")
GROUPS = tuple(f"grp{n:02d}" for n in range(30))
KEYS = ("tower_order", "site_negotiation", "fault_dispatch", "service_request", "difficult_site")
USER_A = ("inbox_a", ["grp01", "grp02", "grp03"], "china_mobile")  # an operator user in three groups
USER_B = ("inbox_b", ["grp04", "grp05", "grp06", "grp07"], None)  # staff (all tenants) in four groups
USER_S = ("inbox_s", ["supervisor", "grp08"], None)  # a supervisor: sees every open task ("All tasks")
TARGET = 0.030  # issue 16: every inbox under 30 ms (p95)


@dataclass(frozen=True)
class Scale:
    open_tasks: int
    completed_tasks: int
    users: int = 2000

    @property
    def label(self) -> str:
        return (f"{self.open_tasks:,} open, {self.completed_tasks:,} completed and {self.open_tasks:,} cancelled "
                f"tasks, {self.users:,} users")


def _rows(scale: Scale, definition_id: int, now: datetime, seed: int = 5):
    """Generators of the rows to load: users, groups, instances, tasks and candidates."""
    rnd = random.Random(seed)
    users = [(f"u{n:04d}", rnd.sample(GROUPS, rnd.randint(1, 3)), None if n % 4 == 0 else TENANTS[n % 3])
             for n in range(scale.users - 2)]
    users += [USER_A, USER_B, USER_S]
    names = [u[0] for u in users]
    per_instance = max(1, scale.completed_tasks // scale.open_tasks)

    def instances():
        for i in range(1, scale.open_tasks + 1):
            started = now - timedelta(days=30, seconds=i)
            yield (i, definition_id, KEYS[i % 5], 1, f"BK-{i:07d}", TENANTS[i % 3], "waiting", "bench",
                   started, started, "{}", "{}", 1, SERIALIZER_VERSION)

    def tasks():
        task_id = 0
        for i in range(1, scale.open_tasks + 1):
            tenant, key, bk = TENANTS[i % 3], KEYS[i % 5], f"BK-{i:07d}"
            for k in range(per_instance + 1):
                # closed tasks keep no candidate rows: completing a task deletes them, and so does the
                # engine cancelling one (a boundary timer, a terminate; InstanceRun.save since a2385b8)
                task_id += 1
                who = names[rnd.randrange(len(names) - 2)]
                created = now - timedelta(days=30, minutes=k)
                groups = [GROUPS[rnd.randrange(30)]]
                cancelled = k == per_instance
                yield ((task_id, i, f"done-{k}", f"step_{k}", f"已办 {k}", key, bk, tenant, groups, [],
                        None if cancelled else who, None, 50, "comment", "cancelled" if cancelled else "completed",
                        created, created, created + timedelta(hours=1), None if cancelled else who),
                       [])
            task_id += 1
            groups = [GROUPS[rnd.randrange(30)]]
            if rnd.random() < 0.2:
                groups.append(GROUPS[rnd.randrange(30)])
            groups = sorted(set(groups))
            cand_users = [names[rnd.randrange(len(names))]] if rnd.random() < 0.05 else []
            roll = rnd.random()
            assignee = (USER_A[0] if roll < 0.001 else USER_B[0] if roll < 0.002
                        else names[rnd.randrange(len(names))] if roll < 0.3 else None)
            due = None if rnd.random() < 0.15 else now + timedelta(minutes=rnd.randint(-5 * 1440, 15 * 1440))
            created = now - timedelta(minutes=rnd.randint(0, 20 * 1440))
            yield ((task_id, i, f"open-{i}", "review", f"待办 {bk}", key, bk, tenant, groups, cand_users, assignee,
                    due, rnd.randrange(0, 101, 10), "comment", "open", created, created if assignee else None,
                    None, None),
                   [("group", g) for g in groups] + [("user", u) for u in cand_users])

    return users, instances, tasks


FILL_CANDIDATES = text("UPDATE task_candidates SET tenant = t.tenant, due_at = t.due_at, priority = t.priority, "
                       "assignee = t.assignee FROM human_tasks t WHERE t.id = task_candidates.task_id")
TASK_COLUMNS = ("id", "instance_id", "spiff_task_id", "element_id", "title", "process_key", "business_key", "tenant",
                "candidate_groups", "candidate_users", "assignee", "due_at", "priority", "form_key", "state",
                "created_at", "claimed_at", "completed_at", "completed_by")
INSTANCE_COLUMNS = ("id", "definition_id", "process_key", "version", "business_key", "tenant", "state",
                    "started_by", "started_at", "updated_at", "variables", "workflow_json", "revision",
                    "serializer_version")


def _sqlite_time(value):
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def load(platform, scale: Scale, definition_id: int) -> float:
    """Bulk-load the inbox world; the two big tables' indexes are built after the rows."""
    from engine.models import HumanTask, TaskCandidate

    now = platform.clock.now()
    users, instances, tasks = _rows(scale, definition_id, now)
    t0 = time.perf_counter()
    indexes = [*HumanTask.__table__.indexes, *TaskCandidate.__table__.indexes]
    with platform.engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    with platform.engine.connect() as conn:
        first_id = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM users")).scalar()) + 1
    if platform.is_postgres:
        _load_pg(platform, users, instances, tasks, now, first_id)
    else:
        _load_sqlite(platform, users, instances, tasks, now, first_id)
    with platform.engine.begin() as conn:
        conn.execute(FILL_CANDIDATES)  # the open task's copies, as the engine writes them (migration 0009)
        for index in indexes:
            index.create(conn)
        conn.execute(text("ANALYZE"))
    if platform.is_postgres:  # the visibility map autovacuum keeps up to date, for index-only scans
        with platform.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE human_tasks"))
            conn.execute(text("VACUUM ANALYZE task_candidates"))
    return time.perf_counter() - t0


def _user_rows(users, now, first_id: int):
    for n, (name, groups, tenant) in enumerate(users, start=first_id):
        yield (n, name, name, "scrypt$disabled", tenant, False, now), [(n, g) for g in groups]


def _load_pg(platform, users, instances, tasks, now, first_id: int) -> None:
    raw = platform.engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            for tenant in TENANTS:
                cur.execute("INSERT INTO tenants (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (tenant, tenant))
            with cur.copy("COPY users (id, username, display_name, password_hash, tenant, disabled, created_at) "
                          "FROM STDIN") as copy:
                groups = []
                for row, memberships in _user_rows(users, now, first_id):
                    copy.write_row(row)
                    groups += memberships
            with cur.copy('COPY user_groups (user_id, "group") FROM STDIN') as copy:
                for row in groups:
                    copy.write_row(row)
            cur.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))")
            with cur.copy(f"COPY process_instances ({', '.join(INSTANCE_COLUMNS)}) FROM STDIN") as copy:
                for row in instances():
                    copy.write_row(row)
            candidates = []
            with cur.copy(f"COPY human_tasks ({', '.join(TASK_COLUMNS)}) FROM STDIN") as copy:
                for row, cands in tasks():
                    row = list(row)
                    row[8], row[9] = json.dumps(row[8]), json.dumps(row[9])
                    copy.write_row(row)
                    candidates += [(row[0], kind, name) for kind, name in cands]
            with cur.copy("COPY task_candidates (task_id, kind, name) FROM STDIN") as copy:
                for row in candidates:
                    copy.write_row(row)
            for table in ("process_instances", "human_tasks"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    finally:
        raw.close()


def _load_sqlite(platform, users, instances, tasks, now, first_id: int) -> None:
    path = platform.engine.url.database
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.executemany("INSERT OR IGNORE INTO tenants (id, name) VALUES (?, ?)", [(t, t) for t in TENANTS])
        groups = []
        user_rows = []
        for row, memberships in _user_rows(users, now, first_id):
            user_rows.append(tuple(_sqlite_time(v) for v in row))
            groups += memberships
        conn.executemany("INSERT INTO users (id, username, display_name, password_hash, tenant, disabled, created_at)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)", user_rows)
        conn.executemany('INSERT INTO user_groups (user_id, "group") VALUES (?, ?)', groups)
        marks = ", ".join("?" * len(INSTANCE_COLUMNS))
        conn.executemany(f"INSERT INTO process_instances ({', '.join(INSTANCE_COLUMNS)}) VALUES ({marks})",
                         (tuple(_sqlite_time(v) for v in row) for row in instances()))
        candidates = []

        def task_rows():
            for row, cands in tasks():
                row = [_sqlite_time(v) for v in row]
                row[8], row[9] = json.dumps(row[8]), json.dumps(row[9])
                candidates.extend((row[0], kind, name) for kind, name in cands)
                yield row

        marks = ", ".join("?" * len(TASK_COLUMNS))
        conn.executemany(f"INSERT INTO human_tasks ({', '.join(TASK_COLUMNS)}) VALUES ({marks})", task_rows())
        conn.executemany("INSERT INTO task_candidates (task_id, kind, name) VALUES (?, ?, ?)", candidates)
        conn.commit()
    finally:
        conn.close()


def _queries(platform, user):
    """(label, function) pairs timing the engine's inbox calls for one user, a session each: every
    tab's page (the list and its total, as the inbox page and GET /tasks ask), overdue, a business
    key, the tab counts and the process filter."""
    from engine.runtime import tasks

    name, groups, tenant = user
    actor = principal(name, groups, tenant)
    now = platform.clock.now()
    with platform.Session() as session:
        first = tasks.find_tasks(session, actor, tasks.TaskFilter(candidate_me=True), now, 0, 50).rows
        business_key = first[len(first) // 2].business_key if first else "BK-0000001"

    def listing(flt):
        def call():
            with platform.Session() as session:
                found = tasks.find_tasks(session, actor, flt, now, 0, 50)
            return len(found.rows), f"{found.total:,}{'+' if found.capped else ''}"
        return call

    def counting(flt):
        def call():
            with platform.Session() as session:
                n = tasks.count_tasks(session, actor, flt, now, cap=tasks.TASK_COUNT_CAP)
            return None, f"{min(n, tasks.TASK_COUNT_CAP):,}{'+' if n > tasks.TASK_COUNT_CAP else ''}"
        return call

    def processes():
        with platform.Session() as session:
            return None, len(tasks.process_keys(session, actor))

    flt = tasks.TaskFilter
    views = [
        ("my tasks (assignee=me): page of 50 + total", listing(flt(assignee_me=True))),
        ("group tasks (candidate=me): page of 50 + total", listing(flt(candidate_me=True))),
        ("all my work (mine or my groups): page + total", listing(flt(my_work=True))),
        ("overdue (all my work): page + total", listing(flt(my_work=True, overdue=True))),
        (f"filter by business key ({business_key})", listing(flt(business_key=business_key))),
        ("GET /tasks default (mine or offered, any assignee; supervisor: all)", listing(flt())),
        ("tab count: group tasks", counting(flt(candidate_me=True))),
        ("tab count: all my work", counting(flt(my_work=True))),
        ("tab count: overdue", counting(flt(my_work=True, overdue=True))),
        ("process filter (process_keys)", processes),
    ]
    if "supervisor" in groups:
        views.insert(6, ("tab count: all tasks", counting(flt())))
    return views


def capture_sql(platform, fn) -> list[tuple[str, object]]:
    """The statements (with parameters) that ``fn`` sends to the database."""
    seen: list[tuple[str, object]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(platform.read_engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        event.remove(platform.read_engine, "before_cursor_execute", listener)
    return seen


def explain(platform, statement: str, parameters) -> str:
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if platform.is_postgres else "EXPLAIN QUERY PLAN "
    with platform.read_engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
    if platform.is_postgres:
        return "\n".join(r[0] for r in rows)
    return "\n".join(f"{'  ' * 0}{r[-1]}" for r in rows)


def inbox(url: str, scale: Scale, runs: int, workspace: Workspace, section: Section, plans: Section,
          memory: Section, definition_id: int, platform) -> dict[str, float]:
    label = db_label(url)
    log(f"inbox on {label}: loading {scale.label}")
    seconds = load(platform, scale, definition_id)
    log(f"inbox on {label}: loaded in {seconds:.0f} s")
    section.notes.append(f"{label}: {scale.label} bulk-loaded in {seconds:.0f} s (indexes built after the rows).")
    results: dict[str, float] = {}
    worst = 0.0
    for user in (USER_A, USER_B, USER_S):
        who = f"{user[0]} ({'tenant ' + user[2] if user[2] else 'staff, all tenants'}, {len(user[1])} groups)"
        for name, fn in _queries(platform, user):
            times, total = sample_query(fn, runs)
            p95 = pct(times, 95)
            worst = max(worst, p95)
            results[f"{user[0]}:{name}"] = p95
            section.add_row(label, who, name, total, ms(median(times)), ms(p95), "yes" if p95 <= TARGET else "NO")
    # the REST endpoint, on a real server process
    tokens = {user[0]: make_user(platform, user[0], user[1], user[2]) for user in (USER_A, USER_B)}
    server = Server(url, workspace, f"inbox-{label}").wait_ready()
    try:
        for user in (USER_A, USER_B):
            client = Http(server.port, tokens[user[0]])
            for path in ("/api/v1/tasks?candidate=me", "/api/v1/tasks?assignee=me", "/api/v1/tasks",
                         "/api/v1/tasks?overdue=true"):
                times = []
                for n in range(runs // 2 + 3):
                    t0 = time.perf_counter()
                    status, answer = client.request("GET", path)
                    if n >= 3:
                        times.append(time.perf_counter() - t0)
                    if status != 200:
                        raise RuntimeError(f"{path} answered {status}: {answer}")
                p95 = pct(times, 95)
                worst = max(worst, p95)
                total = f"{answer['total']:,}{'+' if answer.get('total_capped') else ''}"
                section.add_row(label, user[0], f"GET {path} (HTTP)", total, ms(median(times)), ms(p95),
                                "yes" if p95 <= TARGET else "NO")
            client.close()
        memory.add_row(f"server after the inbox runs ({label}, {scale.label})", "", f"{server.rss_mb():.0f}")
    finally:
        server.stop()
    section.target(f"{label}: inbox p95 <= 30 ms (worst query)", f"{worst * 1000:.1f} ms", "<= 30 ms",
                   worst <= TARGET, headline=f"Inbox p95, worst view and user, {label}")
    # the plans the timings rely on (user A; and user B's group views, where the planner may go wrong)
    chosen = [(USER_A, q) for q in _queries(platform, USER_A)[:4]]
    chosen += [(USER_B, q) for q in _queries(platform, USER_B)[1:4]]
    for user, (name, fn) in chosen:
        name = f"{user[0]}: {name}"
        for statement, params in capture_sql(platform, fn):
            if "human_tasks" not in statement and "task_candidates" not in statement:
                continue
            low = statement.lower()
            kind = ("ids + total, one pass (up to the cap)" if " over (" in low else "total" if "count(" in low
                    else "the page's rows" if " in (" in low and "order by" not in low
                    else "walk in the sort's order (past the cap)")
            plans.blocks.append((f"{label}: {name} [{kind}]\n\n{statement.strip()}",
                                 explain(platform, statement, params)))
    return results

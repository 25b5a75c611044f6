"""Issue 15, point 5: finding instances at scale. 100,000 instances (a fifth of the tower orders
with a called negotiation of their own row), their tokens and searchable values are bulk-loaded
with plain SQL (COPY on PostgreSQL, executemany on SQLite); then engine.runtime.instances
.list_instances (the first page of 50 plus the count, as the page and GET /process-instances
call it) is timed for each kind of filter, and the plans recorded."""

from __future__ import annotations

import random
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text

from engine.definitions.serialization import SERIALIZER_VERSION

from .common import Section, db_label, log, median, ms, pct, principal, sample_query
from .inbox import capture_sql, explain

TENANTS = ("china_mobile", "china_unicom", "china_telecom")
KEYS = ("tower_order", "fault_dispatch", "service_request", "group_product_order", "contract_expiry")
STATES = ("waiting", "waiting", "waiting", "running", "completed", "completed", "cancelled", "error")
ELEMENTS = {  # process key -> the elements a token may stand on
    "tower_order": ("confirm_demand", "accept_demand", "integrate", "dispatch_screening", "screening",
                    "negotiation", "confirm_screening", "order", "delivery"),
    "site_negotiation": ("plan", "accept", "report"),
    "fault_dispatch": ("dispatch", "handle", "review"),
    "service_request": ("review", "reply"),
    "group_product_order": ("design", "confirm", "open"),
    "contract_expiry": ("notify", "renew"),
}
PLACES = ("东湖", "玄武", "鼓楼", "江宁", "浦口", "栖霞", "雨花", "秦淮", "六合", "溧水")
TARGET = 0.1  # p95 seconds


@dataclass(frozen=True)
class Scale:
    instances: int

    @property
    def label(self) -> str:
        return (f"{self.instances:,} instances (+ called negotiations), tokens and 3 searchable values each")


INSTANCE_COLUMNS = ("id", "definition_id", "process_key", "version", "business_key", "tenant", "state",
                    "started_by", "started_at", "updated_at", "variables", "workflow_json", "revision",
                    "serializer_version", "parent_id", "root_id")
TOKEN_COLUMNS = ("instance_id", "root_id", "definition_id", "process_key", "element_id", "spiff_task_id", "kind",
                 "since")
VALUE_COLUMNS = ("instance_id", "name", "value")


def _rows(scale: Scale, definition_id: int, now: datetime, seed: int = 15):
    """Instances, tokens and values; every fifth tower order that waits calls a negotiation."""
    rnd = random.Random(seed)
    instances, tokens, values = [], [], []
    next_id = scale.instances + 1
    for i in range(1, scale.instances + 1):
        key, state, tenant = KEYS[i % len(KEYS)], STATES[rnd.randrange(len(STATES))], TENANTS[i % 3]
        started = now - timedelta(days=60, seconds=scale.instances - i)
        bk = f"XQ-{i:07d}"
        instances.append((i, definition_id, key, 1, bk, tenant, state, "bench", started, started, "{}", "", 1,
                          SERIALIZER_VERSION, None, None))
        place = PLACES[rnd.randrange(len(PLACES))]
        values += [(i, "demand_no", bk), (i, "site_name", f"{place}{rnd.randrange(1000)}号站"),
                   (i, "antenna_height", str(rnd.randrange(15, 60)))]
        if state not in ("waiting", "running", "error"):
            continue
        element = ELEMENTS[key][rnd.randrange(len(ELEMENTS[key]))]
        if key == "tower_order" and (i // len(KEYS)) % 5 == 0:
            element = "negotiation"
        kind = "scope" if element == "negotiation" else "active"
        tokens.append((i, i, definition_id, key, element, f"t{i}", kind, started))
        tokens.append((i, i, definition_id, key, "cancel_listener", f"l{i}", "listener", started))
        if element == "negotiation":
            child = next_id
            next_id += 1
            instances.append((child, definition_id, "site_negotiation", 1, bk, tenant, state, "bench", started,
                              started, "{}", "", 1, SERIALIZER_VERSION, i, i))
            step = ELEMENTS["site_negotiation"][rnd.randrange(3)]
            tokens.append((child, i, definition_id, "site_negotiation", step, f"c{child}", "active", started))
            values += [(child, "site_name", f"{place}谈址{rnd.randrange(1000)}"), (child, "demand_no", bk)]
    return instances, tokens, values


def _sqlite_time(value):
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def load(platform, scale: Scale, definition_id: int, extra_indexes: list[str]) -> tuple[float, int]:
    from engine.models import InstanceToken, InstanceValue, ProcessInstance

    now = platform.clock.now()
    instances, tokens, values = _rows(scale, definition_id, now)
    t0 = time.perf_counter()
    indexes = [*ProcessInstance.__table__.indexes, *InstanceToken.__table__.indexes, *InstanceValue.__table__.indexes]
    with platform.engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    if platform.is_postgres:
        raw = platform.engine.raw_connection()
        try:
            conn = raw.driver_connection
            with conn.cursor() as cur:
                for table, columns, rows in (("process_instances", INSTANCE_COLUMNS, instances),
                                             ("instance_tokens", TOKEN_COLUMNS, tokens),
                                             ("instance_values", VALUE_COLUMNS, values)):
                    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                cur.execute("SELECT setval(pg_get_serial_sequence('process_instances', 'id'), "
                            "(SELECT max(id) FROM process_instances))")
            conn.commit()
        finally:
            raw.close()
    else:
        conn = sqlite3.connect(platform.engine.url.database)
        try:
            conn.execute("PRAGMA synchronous=OFF")
            for table, columns, rows in (("process_instances", INSTANCE_COLUMNS, instances),
                                         ("instance_tokens", TOKEN_COLUMNS, tokens),
                                         ("instance_values", VALUE_COLUMNS, values)):
                marks = ", ".join("?" * len(columns))
                conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                                 (tuple(_sqlite_time(v) for v in row) for row in rows))
            conn.commit()
        finally:
            conn.close()
    with platform.engine.begin() as conn:
        for index in indexes:
            index.create(conn)
        for statement in extra_indexes:
            conn.execute(text(statement))
        conn.execute(text("ANALYZE"))
    if platform.is_postgres:
        with platform.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("process_instances", "instance_tokens", "instance_values"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
    return time.perf_counter() - t0, len(instances)


def _queries(platform, scale: Scale):
    from engine.runtime.instances import InstanceFilter, list_instances

    staff = principal("bench_supervisor", ["supervisor"])
    tenant = principal("bench_operator", ["operator"], "china_mobile")
    now = platform.clock.now()

    def listing(actor, flt):
        def call():
            with platform.Session() as session:
                rows, total = list_instances(session, actor, flt, 0, 50, now)
            return len(rows), total
        return call

    demand_no = f"XQ-{scale.instances // 2 + 3:07d}"
    combined = InstanceFilter(process_key="tower_order", state="waiting", element="screening",
                              variables=[("site_name", "contains", "东湖"), ("antenna_height", "gt", "30")])
    return [
        ("process key + state (tower_order, waiting)", listing(staff, InstanceFilter(process_key="tower_order",
                                                                                     state="waiting"))),
        (f"variable eq (demand_no = {demand_no})", listing(staff, InstanceFilter(
            variables=[("demand_no", "eq", demand_no)]))),
        ("variable contains (site_name ~ 东湖)", listing(staff, InstanceFilter(
            variables=[("site_name", "contains", "东湖")]))),
        ("variable gt (antenna_height > 50)", listing(staff, InstanceFilter(
            variables=[("antenna_height", "gt", "50")]))),
        ("element (tower_order now at screening)", listing(staff, InstanceFilter(process_key="tower_order",
                                                                                 element="screening"))),
        ("called negotiations (site_negotiation)", listing(staff, InstanceFilter(process_key="site_negotiation"))),
        ("all combined", listing(staff, combined)),
        ("all combined, one tenant's operator", listing(tenant, combined)),
        ("no filter, one tenant's operator", listing(tenant, InstanceFilter())),
    ]


def instance_search(platform, scale: Scale, runs: int, section: Section, plans: Section,
                    definition_id: int, extra_indexes: list[str]) -> float:
    label = db_label(platform.url)
    log(f"instance search on {label}: loading {scale.label}")
    seconds, count = load(platform, scale, definition_id, extra_indexes)
    log(f"instance search on {label}: loaded {count:,} rows in {seconds:.0f} s")
    section.notes.append(f"{label}: {count:,} instance rows ({scale.label}) bulk-loaded in {seconds:.0f} s"
                         + (f"; extra indexes: {'; '.join(extra_indexes)}" if extra_indexes else "") + ".")
    worst = 0.0
    queries = _queries(platform, scale)
    for name, fn in queries:
        times, total = sample_query(fn, runs)
        p95 = pct(times, 95)
        worst = max(worst, p95)
        section.add_row(label, name, total, ms(median(times)), ms(p95), "yes" if p95 <= TARGET else "NO")
    if platform.is_postgres:
        section.target(f"{label}: instance list p95 <= 100 ms (worst filter)", f"{worst * 1000:.1f} ms",
                       "<= 100 ms", worst <= TARGET)
    for name, fn in (queries[2], queries[4], queries[6]):
        for statement, params in capture_sql(platform, fn):
            if "process_instances" in statement:
                plans.blocks.append((f"{label}: {name}\n\n{statement.strip()}", explain(platform, statement, params)))
    return worst


# Indexes the bench adds after loading (candidates for a migration; none by default).
EXTRA_INDEXES: dict[str, list[str]] = {}

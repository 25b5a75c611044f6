"""Demands of Flow 1: their columns and checks, entry, and the queries that list them.

Every row (an import's or a single entry's) is checked and every problem is reported with the
row number Excel shows and the column header. The spreadsheets themselves (template, reading
an import, exports) are in ``tower.spreadsheets``, the only module that needs openpyxl.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import BadRequest, Forbidden, NotFound
from engine.principal import Principal
from tower.models import Demand
from tower.sites import distance_m

MAX_ROWS = 5000
DUPLICATE_DISTANCE_M = 1.0
EXCEL_EPOCH = date(1899, 12, 30)  # day 0 of Excel's date serials (exact from 1900-03-01 on)

# China's bounding box (WGS-84), as the import checks it.
LONGITUDE_RANGE = (73.5, 135.1)
LATITUDE_RANGE = (3.8, 53.6)

OPERATORS = {"中国移动": "china_mobile", "中国联通": "china_unicom", "中国电信": "china_telecom"}
OPERATOR_NAMES = {tenant: name for name, tenant in OPERATORS.items()}
TOWER_TYPES = ("普通地面塔", "景观塔", "简易塔", "楼面塔", "楼面抱杆", "灯杆塔", "仿生树", "室分")
DEMAND_TYPES = ("新建", "共享", "改造", "室分")
BUILD_MODES = {"new_site": "新建站址", "share_existing": "存量共享"}

# Where a demand is in Flow 1; the flows set these, the exports and lists show them.
STATUSES = {
    "collected": "需求收集",
    "submitted": "待需求确认",
    "confirmed": "需求已确认",
    "accepted": "需求已承接",
    "screening": "站址筛查",
    "negotiating": "选址谈判",
    "order_compiling": "订单编制",
    "order_sent": "待订单确认",
    "order_confirmed": "订单已确认",
    "construction": "建设中",
    "delivered": "待验收",
    "acceptance_confirmed": "已验收",
    "unplannable": "无法规划",
    "cancelled": "已取消",
}
IMPORT_GROUPS = frozenset({"customer_manager", "operator"})  # and admins


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool
    width: int
    help: str
    example: Any


COLUMNS: tuple[Column, ...] = (
    Column("demand_no", "需求编号", True, 18, "唯一编号，文件内和系统内都不能重复；最长 64 个字符。", "XQ-2026-0001"),
    Column("operator", "运营商", True, 12, "中国移动、中国联通或中国电信（下拉选择）。运营商用户只能导入本公司的需求。",
           "中国移动"),
    Column("province", "省", True, 10, "省、自治区或直辖市。", "江苏省"),
    Column("city", "市", True, 10, "地市。", "南京市"),
    Column("county", "区县", True, 12, "区或县。", "玄武区"),
    Column("site_name", "站址名称", True, 28, "需求站址的名称，最长 200 个字符。", "玄武湖公园东门"),
    Column("longitude", "经度", True, 12, "WGS-84 十进制经度，73.5 到 135.1 之间。", 118.7969),
    Column("latitude", "纬度", True, 12, "WGS-84 十进制纬度，3.8 到 53.6 之间。同一运营商 1 米内的坐标视为重复需求。",
           32.0603),
    Column("tower_type", "铁塔类型", True, 12, "下拉选择：" + "、".join(TOWER_TYPES) + "。", "普通地面塔"),
    Column("antenna_height", "天线挂高(米)", True, 12, "天线挂高，单位米，大于 0 的数字。", 35),
    Column("demand_type", "需求类型", True, 10, "下拉选择：" + "、".join(DEMAND_TYPES) + "。", "新建"),
    Column("expected_delivery", "期望交付日期", True, 14, "Excel 日期，或文本 2026-12-01 格式。", date(2026, 12, 1)),
    Column("remarks", "备注", False, 30, "可不填，最长 1000 个字符。", "业主已初步同意"),
)
HEADERS = tuple(c.header for c in COLUMNS)
BY_KEY = {c.key: c for c in COLUMNS}
TEXT_LIMITS = {"demand_no": 64, "province": 50, "city": 50, "county": 50, "site_name": 200, "remarks": 1000}

# What an error says, by code; the pages translate the same templates.
MESSAGES = {
    "required": "This field is required.",
    "too_long": "At most %(limit)s characters.",
    "not_a_number": "Must be a number.",
    "longitude_range": "The longitude must be between 73.5 and 135.1 (inside China).",
    "latitude_range": "The latitude must be between 3.8 and 53.6 (inside China).",
    "not_positive": "Must be a number greater than 0.",
    "bad_date": "Not a date; use an Excel date or text like 2026-12-01.",
    "unknown_operator": "Unknown operator; use 中国移动, 中国联通 or 中国电信.",
    "other_tenant": "You may import only your own operator's demands.",
    "unknown_choice": "Not one of the allowed values: %(choices)s.",
    "duplicate_no_in_file": "The same demand number is already in row %(other)s.",
    "duplicate_place_in_file": "Row %(other)s has a demand of the same operator within 1 m of this point.",
    "duplicate_no_stored": "Demand %(other)s is already stored.",
    "duplicate_place_stored": "Stored demand %(other)s of the same operator is within 1 m of this point.",
    "missing_header": "The column %(header)s is missing from the header row.",
    "repeated_header": "The column %(header)s appears more than once in the header row.",
}


@dataclass(frozen=True)
class RowError:
    row: int  # as Excel numbers it (the header is row 1)
    column: str  # the column header
    code: str
    params: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return MESSAGES[self.code] % self.params if self.params else MESSAGES[self.code]

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message}


@dataclass
class CheckedImport:
    """A checked file: the good rows (ready to store) and every error found."""

    rows: list[dict] = field(default_factory=list)  # each with "row" and the demand fields
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})


@dataclass
class ImportResult:
    demand_nos: list[str]
    errors: list[RowError]
    total_rows: int

    @property
    def imported(self) -> int:
        return len(self.demand_nos)

    def as_dict(self) -> dict:
        return {"imported": self.imported, "demand_nos": self.demand_nos,
                "errors": [e.as_dict() for e in self.errors]}


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return "" if value is None else str(value).strip()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 36526 <= value < 73051:
        return EXCEL_EPOCH + timedelta(days=int(value))  # a date serial whose cell lost its date format
    text = _text(value)
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def check_record(number: int, record: dict[str, Any], actor: Principal | None = None) -> tuple[dict, list[RowError]]:
    """One row's values cleaned, and its own errors (duplicates are checked across rows)."""
    errors: list[RowError] = []
    clean: dict[str, Any] = {"row": number}

    def fail(key: str, code: str, **params) -> None:
        errors.append(RowError(number, BY_KEY[key].header, code, params))

    for column in COLUMNS:
        raw = record.get(column.key)
        if is_blank(raw):
            if column.required:
                fail(column.key, "required")
            clean[column.key] = "" if column.key in TEXT_LIMITS else None
            continue
        key = column.key
        if key in TEXT_LIMITS:
            text = _text(raw)
            if len(text) > TEXT_LIMITS[key]:
                fail(key, "too_long", limit=TEXT_LIMITS[key])
            clean[key] = text
        elif key == "operator":
            tenant = OPERATORS.get(_text(raw))
            if tenant is None:
                fail(key, "unknown_operator")
            elif actor is not None and actor.tenant is not None and actor.tenant != tenant:
                fail(key, "other_tenant")
            clean["tenant"] = tenant
        elif key in ("longitude", "latitude"):
            number_ = _number(raw)
            low, high = LONGITUDE_RANGE if key == "longitude" else LATITUDE_RANGE
            if number_ is None:
                fail(key, "not_a_number")
            elif not low <= number_ <= high:
                fail(key, f"{key}_range")
            clean[key] = number_
        elif key == "antenna_height":
            number_ = _number(raw)
            if number_ is None:
                fail(key, "not_a_number")
            elif number_ <= 0:
                fail(key, "not_positive")
            clean[key] = number_
        elif key in ("tower_type", "demand_type"):
            choices = TOWER_TYPES if key == "tower_type" else DEMAND_TYPES
            text = _text(raw)
            if text not in choices:
                fail(key, "unknown_choice", choices="、".join(choices))
            clean[key] = text
        elif key == "expected_delivery":
            day = _date(raw)
            if day is None:
                fail(key, "bad_date")
            clean[key] = day
    return clean, errors


def check_rows(session: Session, records: list[tuple[int, dict[str, Any]]],
               actor: Principal | None = None) -> CheckedImport:
    """Every row checked on its own, then for duplicates inside the file and against the stored
    demands. A row with any error is left out of ``rows``."""
    checked = CheckedImport(total_rows=len(records))
    cleaned: list[dict] = []
    for number, record in records:
        clean, errors = check_record(number, record, actor)
        checked.errors += errors
        cleaned.append(clean)

    no_header = BY_KEY["demand_no"].header
    place_header = BY_KEY["longitude"].header
    first_row_of: dict[str, int] = {}
    for clean in cleaned:
        no = clean["demand_no"]
        if no:
            if no in first_row_of:
                checked.errors.append(RowError(clean["row"], no_header, "duplicate_no_in_file",
                                               {"other": first_row_of[no]}))
            else:
                first_row_of[no] = clean["row"]
    placed = [c for c in cleaned if _has_place(c)]
    grid = _Grid()
    for clean in placed:
        other = grid.near(clean["tenant"], clean["longitude"], clean["latitude"])
        if other is not None:
            checked.errors.append(RowError(clean["row"], place_header, "duplicate_place_in_file", {"other": other}))
        else:
            grid.add(clean["tenant"], clean["longitude"], clean["latitude"], clean["row"])

    stored_nos = _stored_numbers(session, list(first_row_of))
    for clean in cleaned:
        if clean["demand_no"] in stored_nos:
            checked.errors.append(RowError(clean["row"], no_header, "duplicate_no_stored",
                                           {"other": clean["demand_no"]}))
    stored = _stored_places(session, placed)
    for clean in placed:
        other = stored.near(clean["tenant"], clean["longitude"], clean["latitude"])
        if other is not None:
            checked.errors.append(RowError(clean["row"], place_header, "duplicate_place_stored", {"other": other}))

    checked.errors.sort(key=lambda e: (e.row, HEADERS.index(e.column) if e.column in HEADERS else 99))
    bad = set(checked.bad_rows)
    checked.rows = [c for c in cleaned if c["row"] not in bad]
    return checked


def _has_place(clean: dict) -> bool:
    lon, lat = clean.get("longitude"), clean.get("latitude")
    return (clean.get("tenant") is not None and lon is not None and lat is not None
            and LONGITUDE_RANGE[0] <= lon <= LONGITUDE_RANGE[1] and LATITUDE_RANGE[0] <= lat <= LATITUDE_RANGE[1])


class _Grid:
    """Points bucketed in cells of about 11 m, so "within 1 m" needs no pairwise scan."""

    CELL = 1e-4  # degrees

    def __init__(self) -> None:
        self.cells: dict[tuple, list[tuple[float, float, Any]]] = {}

    def _key(self, tenant: str, lon: float, lat: float) -> tuple:
        return tenant, math.floor(lon / self.CELL), math.floor(lat / self.CELL)

    def add(self, tenant: str, lon: float, lat: float, label: Any) -> None:
        self.cells.setdefault(self._key(tenant, lon, lat), []).append((lon, lat, label))

    def near(self, tenant: str, lon: float, lat: float) -> Any:
        _, cx, cy = self._key(tenant, lon, lat)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for other_lon, other_lat, label in self.cells.get((tenant, cx + dx, cy + dy), ()):
                    if distance_m(lon, lat, other_lon, other_lat) <= DUPLICATE_DISTANCE_M:
                        return label
        return None


def _stored_numbers(session: Session, numbers: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(numbers), 500):
        chunk = numbers[start:start + 500]
        found |= set(session.scalars(select(Demand.demand_no).where(Demand.demand_no.in_(chunk))))
    return found


def _stored_places(session: Session, placed: list[dict]) -> _Grid:
    """Stored, not cancelled demands of the file's operators near the file's points."""
    grid = _Grid()
    if not placed:
        return grid
    margin = 0.001
    tenants = sorted({c["tenant"] for c in placed})
    lons = [c["longitude"] for c in placed]
    lats = [c["latitude"] for c in placed]
    rows = session.execute(
        select(Demand.tenant, Demand.longitude, Demand.latitude, Demand.demand_no).where(
            Demand.tenant.in_(tenants), Demand.status != "cancelled",
            Demand.longitude.between(min(lons) - margin, max(lons) + margin),
            Demand.latitude.between(min(lats) - margin, max(lats) + margin),
        )
    )
    for tenant, lon, lat, no in rows:
        grid.add(tenant, lon, lat, no)
    return grid


def new_demand(row: dict, actor: Principal, now: datetime) -> Demand:
    """A collected demand from a checked row (an import's or a single entry's)."""
    return Demand(
        demand_no=row["demand_no"], tenant=row["tenant"], province=row["province"], city=row["city"],
        county=row["county"], site_name=row["site_name"], longitude=row["longitude"], latitude=row["latitude"],
        tower_type=row["tower_type"], antenna_height=row["antenna_height"], demand_type=row["demand_type"],
        expected_delivery=row["expected_delivery"], remarks=row["remarks"] or "", status="collected",
        created_by=actor.username, created_at=now,
    )


def check_may_import(actor: Principal) -> None:
    if not (actor.is_admin or actor.groups & IMPORT_GROUPS):
        raise Forbidden("only customer managers, operator staff and admins may import demands")


# ---------------------------------------------------------------------------------------------
# queries


def visible(actor: Principal):
    """The demands ``actor`` may see: an operator user only its own tenant's."""
    query = select(Demand)
    if actor.tenant is not None:
        query = query.where(Demand.tenant == actor.tenant)
    return query


def list_demands(session: Session, actor: Principal, *, status: str | None = None, tenant: str | None = None,
                 demand_no: str | None = None, q: str | None = None, offset: int = 0,
                 limit: int = 50) -> tuple[list[Demand], int]:
    query = visible(actor)
    if status:
        query = query.where(Demand.status.in_([s.strip() for s in status.split(",") if s.strip()]))
    if tenant:
        query = query.where(Demand.tenant == tenant)
    if demand_no:
        query = query.where(Demand.demand_no == demand_no)
    if q:
        pattern = f"%{q.strip()}%"
        query = query.where(Demand.demand_no.ilike(pattern) | Demand.site_name.ilike(pattern)
                            | Demand.city.ilike(pattern) | Demand.county.ilike(pattern))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Demand.created_at.desc(), Demand.id.desc()).offset(offset).limit(limit))
    return list(rows), total


def get_demands(session: Session, actor: Principal, demand_nos: list[str]) -> list[Demand]:
    """The demands with these numbers, in the order given; NotFound names any not visible."""
    wanted = list(dict.fromkeys(n.strip() for n in demand_nos if n and n.strip()))
    if not wanted:
        raise BadRequest("give at least one demand_no")
    rows = {d.demand_no: d for d in session.scalars(visible(actor).where(Demand.demand_no.in_(wanted)))}
    missing = [n for n in wanted if n not in rows]
    if missing:
        raise NotFound("no such demand: %(numbers)s", {"missing": missing}, numbers=", ".join(missing))
    return [rows[n] for n in wanted]


def demand_view(d: Demand) -> dict:
    return {
        "demand_no": d.demand_no, "tenant": d.tenant, "operator": OPERATOR_NAMES.get(d.tenant, d.tenant),
        "province": d.province, "city": d.city, "county": d.county, "site_name": d.site_name,
        "longitude": d.longitude, "latitude": d.latitude, "tower_type": d.tower_type,
        "antenna_height": d.antenna_height, "demand_type": d.demand_type,
        "expected_delivery": d.expected_delivery.isoformat() if d.expected_delivery else None,
        "remarks": d.remarks, "status": d.status, "status_label": STATUSES.get(d.status, d.status),
        "instance_id": d.instance_id, "created_by": d.created_by,
        "created_at": d.created_at.isoformat() if d.created_at else None,
        "order_no": d.order_no, "site_code": d.site_code, "build_mode": d.build_mode,
    }


def acceptance_demands(session: Session, actor: Principal, status: str | None = None) -> list[Demand]:
    statuses = [s.strip() for s in (status or "delivered").split(",") if s.strip()]
    query = visible(actor)
    if "all" not in statuses:
        query = query.where(Demand.status.in_(statuses))
    return list(session.scalars(query.order_by(Demand.tenant, Demand.city, Demand.demand_no)))

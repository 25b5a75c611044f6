"""Demands of Flow 1 as spreadsheets: the import template, the checked bulk import and the
exports (订单确认单, 交付验收清单). See docs/spreadsheets.md.

Every row of an import is checked and every problem is reported with the row number Excel
shows and the column header. Nothing is stored when any row is wrong, unless the caller asks
for the good rows only; then those are stored and the errors are still reported.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from engine.principal import Principal
from tower.models import Demand
from tower.sites import distance_m

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # a 5 MB file that unpacks to more is not a real sheet
DUPLICATE_DISTANCE_M = 1.0
SHEET_NAME = "需求清单"
HELP_SHEET_NAME = "填写说明"

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


# ---------------------------------------------------------------------------------------------
# template


def template_bytes() -> bytes:
    """The import template: headers, drop-down lists, widths, and a sheet explaining each column."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAME
    ws.append(list(HEADERS))
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for index, column in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C00000" if column.required else "000000")
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center")
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.freeze_panes = "A2"
    last = MAX_ROWS + 1

    def letter(key: str) -> str:
        return get_column_letter([c.key for c in COLUMNS].index(key) + 1)

    def add(validation: DataValidation, key: str) -> None:
        validation.add(f"{letter(key)}2:{letter(key)}{last}")
        ws.add_data_validation(validation)

    def choice(key: str, values: Iterable[str]) -> None:
        dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True)
        dv.error, dv.errorTitle = "请从下拉列表中选择。", BY_KEY[key].header
        dv.showErrorMessage = True
        add(dv, key)

    choice("operator", OPERATORS)
    choice("tower_type", TOWER_TYPES)
    choice("demand_type", DEMAND_TYPES)
    for key, (low, high) in (("longitude", LONGITUDE_RANGE), ("latitude", LATITUDE_RANGE)):
        dv = DataValidation(type="decimal", operator="between", formula1=str(low), formula2=str(high),
                            allow_blank=True)
        dv.error, dv.errorTitle, dv.showErrorMessage = f"请填写 {low} 到 {high} 之间的数字。", BY_KEY[key].header, True
        add(dv, key)
    dv = DataValidation(type="decimal", operator="greaterThan", formula1="0", allow_blank=True)
    dv.error, dv.errorTitle, dv.showErrorMessage = "请填写大于 0 的数字（米）。", BY_KEY["antenna_height"].header, True
    add(dv, "antenna_height")
    dv = DataValidation(type="date", operator="greaterThan", formula1="36526", allow_blank=True)  # after 2000-01-01
    dv.error, dv.errorTitle = "请填写日期，例如 2026-12-01。", BY_KEY["expected_delivery"].header
    dv.showErrorMessage = True
    add(dv, "expected_delivery")
    # whole-column formats (no cells are created, so rows appended by a program start at row 2)
    ws.column_dimensions[letter("demand_no")].number_format = "@"
    ws.column_dimensions[letter("expected_delivery")].number_format = "yyyy-mm-dd"

    help_sheet = wb.create_sheet(HELP_SHEET_NAME)
    help_sheet.append(["列名", "是否必填", "填写说明", "示例"])
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
    for column in COLUMNS:
        example = column.example.isoformat() if isinstance(column.example, date) else column.example
        help_sheet.append([column.header, "必填" if column.required else "选填", column.help, example])
    notes = [
        "第一行是表头，请勿修改或删除；数据从第二行开始，空行会被跳过。",
        f"一次最多导入 {MAX_ROWS} 行，文件不超过 5 MB，只接受 .xlsx 格式。",
        "导入时逐行检查，错误会列出行号（与 Excel 行号一致）和列名；有错误时默认不导入任何一行，"
        "也可选择只导入正确的行。",
        "同一需求编号，或同一运营商 1 米以内的坐标，视为重复需求（文件内与系统内都检查）。",
    ]
    help_sheet.append([])
    for note in notes:
        help_sheet.append(["说明", "", note])
    for letter_, width in zip("ABCD", (16, 10, 70, 18), strict=True):
        help_sheet.column_dimensions[letter_].width = width
    for row in help_sheet.iter_rows(min_row=2):
        row[2].alignment = Alignment(wrap_text=True, vertical="top")
    return _save(wb)


def _save(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# reading and checking


def read_rows(data: bytes) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    """The non-empty data rows of the demand sheet as (Excel row number, {key: raw value}), or
    header errors. Raises BadRequest for a file that is not a usable xlsx."""
    if not data:
        raise BadRequest("the file is empty")
    if len(data) > MAX_BYTES:
        raise BadRequest(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it into smaller files")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise BadRequest("the file is not an Excel .xlsx workbook (save it as .xlsx, not .xls or .csv)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
                raise BadRequest("the workbook is too large once unpacked")
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except BadRequest:
        raise
    except Exception:
        raise BadRequest("the file is not an Excel .xlsx workbook that can be read") from None
    try:
        ws = wb[SHEET_NAME] if SHEET_NAME in wb.sheetnames else wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(_blank(v) for v in header):
            raise BadRequest("the workbook has no header row; use the template")
        positions, errors = _header_positions(header)
        if errors:
            return [], errors
        out: list[tuple[int, dict[str, Any]]] = []
        for number, values in enumerate(rows, start=2):
            record = {key: values[i] if i < len(values) else None for key, i in positions.items()}
            if all(_blank(v) for v in record.values()):
                continue
            out.append((number, record))
            if len(out) > MAX_ROWS:
                raise BadRequest(f"the file has more than {MAX_ROWS} rows; split it into smaller files")
        if not out:
            raise BadRequest("the file has no demand rows below the header")
        return out, []
    finally:
        wb.close()


def _normal_header(value: Any) -> str:
    text = "" if value is None else str(value)
    return re.sub(r"\s+", "", text).replace("（", "(").replace("）", ")")


def _header_positions(header: tuple) -> tuple[dict[str, int], list[RowError]]:
    found: dict[str, list[int]] = {}
    for index, value in enumerate(header):
        found.setdefault(_normal_header(value), []).append(index)
    positions, errors = {}, []
    for column in COLUMNS:
        places = found.get(_normal_header(column.header), [])
        if not places:
            errors.append(RowError(1, column.header, "missing_header", {"header": column.header}))
        elif len(places) > 1:
            errors.append(RowError(1, column.header, "repeated_header", {"header": column.header}))
        else:
            positions[column.key] = places[0]
    return positions, errors


def _blank(value: Any) -> bool:
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
        return from_excel(value).date()  # a date serial whose cell lost its date format (2000..2099)
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
        if _blank(raw):
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


def check_file(session: Session, actor: Principal, data: bytes) -> CheckedImport:
    """Read and check a file without storing anything (BadRequest for an unusable file)."""
    check_may_import(actor)
    records, header_errors = read_rows(data)
    if header_errors:
        return CheckedImport(errors=header_errors)
    return check_rows(session, records, actor)


def import_file(session: Session, actor: Principal, data: bytes, now: datetime,
                only_good_rows: bool = False) -> ImportResult:
    """Check the file and store its demands; ValidationFailed (nothing stored) when any row is
    wrong, unless ``only_good_rows``: then the good rows are stored and the errors returned."""
    checked = check_file(session, actor, data)
    if checked.errors and (not only_good_rows or not checked.rows):
        bad = len(checked.bad_rows)
        message = (f"{len(checked.errors)} error(s) in {bad} row(s); nothing was imported" if checked.total_rows
                   else "the header row does not match the template; nothing was imported")
        raise ValidationFailed(message, {"errors": [e.as_dict() for e in checked.errors],
                                         "total_rows": checked.total_rows, "bad_rows": checked.bad_rows})
    demands = [new_demand(row, actor, now) for row in checked.rows]
    session.add_all(demands)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("another import stored some of these demand numbers at the same time; try again") from None
    return ImportResult([d.demand_no for d in demands], checked.errors, checked.total_rows)


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
        raise NotFound(f"no such demand: {', '.join(missing)}", {"missing": missing})
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


# ---------------------------------------------------------------------------------------------
# exports

ORDER_HEADERS = ("序号", "订单编号", "需求编号", "运营商", "省", "市", "区县", "站址名称", "站址编码", "经度", "纬度",
                 "铁塔类型", "天线挂高(米)", "需求类型", "建设方式", "共享运营商数", "年服务费(元)", "期望交付日期",
                 "订单状态", "备注")
ACCEPTANCE_HEADERS = ("序号", "需求编号", "订单编号", "运营商", "省", "市", "区县", "站址名称", "站址编码",
                      "经度", "纬度", "铁塔类型", "天线挂高(米)", "建设方式", "交付日期", "验收状态", "验收确认时间",
                      "验收确认人", "备注")
EXPORT_HEADER_ROW = 3  # row 1 the title, row 2 when and by whom, row 3 the headers


def export_order_confirmation(session: Session, actor: Principal, demand_nos: list[str], now: datetime) -> bytes:
    """订单确认单 of the given demands, one row each, with signature lines for both parties."""
    demands = get_demands(session, actor, demand_nos)
    rows = [[i, d.order_no or "", d.demand_no, OPERATOR_NAMES.get(d.tenant, d.tenant), d.province, d.city,
             d.county, d.site_name, d.site_code or "", d.longitude, d.latitude, d.tower_type, d.antenna_height,
             d.demand_type, BUILD_MODES.get(d.build_mode or "", d.build_mode or ""), d.share_count,
             float(d.annual_fee) if d.annual_fee is not None else None, d.expected_delivery,
             STATUSES.get(d.status, d.status), d.remarks or ""] for i, d in enumerate(demands, start=1)]
    footer = ["运营商确认（签字 / 盖章）：                日期：",
              "铁塔公司（签字 / 盖章）：                日期："]
    return _export("订单确认单", ORDER_HEADERS, rows, actor, now, footer, date_columns=(18,))


def acceptance_demands(session: Session, actor: Principal, status: str | None = None) -> list[Demand]:
    statuses = [s.strip() for s in (status or "delivered").split(",") if s.strip()]
    query = visible(actor)
    if "all" not in statuses:
        query = query.where(Demand.status.in_(statuses))
    return list(session.scalars(query.order_by(Demand.tenant, Demand.city, Demand.demand_no)))


def export_acceptance(session: Session, actor: Principal, now: datetime, status: str | None = None) -> bytes:
    """交付验收清单: the demands in ``status`` (comma-separated; default delivered, "all" for all)."""
    demands = acceptance_demands(session, actor, status)
    rows = [[i, d.demand_no, d.order_no or "", OPERATOR_NAMES.get(d.tenant, d.tenant), d.province, d.city,
             d.county, d.site_name, d.site_code or "", d.longitude, d.latitude, d.tower_type, d.antenna_height,
             BUILD_MODES.get(d.build_mode or "", d.build_mode or ""), d.delivered_on,
             STATUSES.get(d.status, d.status), d.accepted_at, d.accepted_by or "", d.remarks or ""]
            for i, d in enumerate(demands, start=1)]
    footer = ["运营商验收意见：", "验收人（签字）：                日期："]
    return _export("交付验收清单", ACCEPTANCE_HEADERS, rows, actor, now, footer, date_columns=(15, 17))


def _export(title: str, headers: tuple[str, ...], rows: list[list], actor: Principal, now: datetime,
            footer: list[str], date_columns: tuple[int, ...]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=16)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws.cell(row=2, column=1, value=f"导出时间：{now:%Y-%m-%d %H:%M}    导出人：{actor.username}    共 {len(rows)} 条")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(headers))
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for index, header in enumerate(headers, start=1):
        cell = ws.cell(row=EXPORT_HEADER_ROW, column=index, value=header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.border = border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(index)].width = max(8, min(30, len(header) * 2 + 4))
    for offset, values in enumerate(rows, start=EXPORT_HEADER_ROW + 1):
        for index, value in enumerate(values, start=1):
            cell = ws.cell(row=offset, column=index, value=value)
            cell.border = border
            if index in date_columns and value is not None:
                cell.number_format = "yyyy-mm-dd" if isinstance(value, date) and not isinstance(value, datetime) \
                    else "yyyy-mm-dd hh:mm"
    ws.freeze_panes = ws.cell(row=EXPORT_HEADER_ROW + 1, column=1)
    line = EXPORT_HEADER_ROW + len(rows) + 2
    for text in footer:
        ws.cell(row=line, column=1, value=text)
        line += 2
    return _save(wb)


def read_export(data: bytes) -> list[dict[str, Any]]:
    """An export's data rows as {header: value} (tests and round trips)."""
    wb = load_workbook(io.BytesIO(data), data_only=True)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[EXPORT_HEADER_ROW]]
    out = []
    for values in ws.iter_rows(min_row=EXPORT_HEADER_ROW + 1, values_only=True):
        if not isinstance(values[0], int):
            break
        out.append(dict(zip(headers, values, strict=False)))
    return out

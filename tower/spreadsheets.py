"""Demands as spreadsheets: the import template, reading and importing a file, and the exports
(订单确认单, 交付验收清单). See docs/spreadsheets.md.

Nothing is stored when any row of an import is wrong, unless the caller asks for the good rows
only; then those are stored and the errors are still reported.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import BadRequest, Conflict, ValidationFailed
from engine.principal import Principal
from tower.demands import (
    BUILD_MODES,
    BY_KEY,
    COLUMNS,
    DEMAND_TYPES,
    HEADERS,
    LATITUDE_RANGE,
    LONGITUDE_RANGE,
    MAX_ROWS,
    OPERATOR_NAMES,
    OPERATORS,
    STATUSES,
    TOWER_TYPES,
    CheckedImport,
    ImportResult,
    RowError,
    acceptance_demands,
    check_may_import,
    check_rows,
    get_demands,
    is_blank,
    new_demand,
)

if TYPE_CHECKING:
    from openpyxl import Workbook

# openpyxl is imported where a workbook is made or read, not with this module: it is about a
# sixth of a server's memory (issue 16) and only the spreadsheet requests need it.

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_BYTES = 5 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # a 5 MB file that unpacks to more is not a real sheet
SHEET_NAME = "需求清单"
HELP_SHEET_NAME = "填写说明"


# ---------------------------------------------------------------------------------------------
# template


def template_bytes() -> bytes:
    """The import template: headers, drop-down lists, widths, and a sheet explaining each column."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

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
    from openpyxl import load_workbook

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
        if header is None or all(is_blank(v) for v in header):
            raise BadRequest("the workbook has no header row; use the template")
        positions, errors = _header_positions(header)
        if errors:
            return [], errors
        out: list[tuple[int, dict[str, Any]]] = []
        for number, values in enumerate(rows, start=2):
            record = {key: values[i] if i < len(values) else None for key, i in positions.items()}
            if all(is_blank(v) for v in record.values()):
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
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

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
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), data_only=True)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[EXPORT_HEADER_ROW]]
    out = []
    for values in ws.iter_rows(min_row=EXPORT_HEADER_ROW + 1, values_only=True):
        if not isinstance(values[0], int):
            break
        out.append(dict(zip(headers, values, strict=False)))
    return out

"""The filtered instance list as an Excel workbook: words, not codes, in the page's language.

Shared by the page (/instances/export.xlsx) and the API (/api/v1/process-instances/export.xlsx);
the rows come from engine.queries.instance_list.export, capped at EXPORT_CAP with a note.
"""

from __future__ import annotations

import io
from datetime import datetime
from urllib.parse import quote

from flask import send_file
from flask_babel import gettext as _

from engine.queries.instance_list import Export

from ..labels import process_label, state_label, tenant_label, value_label, variable_label

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def headers(variables: list[str]) -> list[str]:
    return [_("ID"), _("Process"), _("Version"), _("Business key"), _("Tenant"), _("State"), _("Called by"),
            _("Started"), _("Ended")] + [variable_label(name) for name in variables]


def workbook(export: Export, warning: str | None = None) -> bytes:
    """One sheet: a header row, one row per instance, and notes first: ``warning`` (the rows were read
    from a replica that is behind, web/ui/replica_notice.py), and when the list was capped."""
    # imported here, not with the module: openpyxl is about a sixth of a server's memory (issue 16)
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Process instances"))
    if warning:
        cell = WriteOnlyCell(ws, value=warning)
        cell.font = Font(bold=True, color="C00000")
        ws.append([cell])
    if export.capped:
        note = WriteOnlyCell(ws, value=_("Only the newest %(n)s of %(total)s instances are in this file; "
                                         "narrow the filter to export the rest.", n=len(export.rows),
                                         total=export.total))
        note.font = Font(bold=True, color="C00000")
        ws.append([note])
    head = []
    for text in headers(export.variables):
        cell = WriteOnlyCell(ws, value=text)
        cell.font = Font(bold=True)
        head.append(cell)
    ws.append(head)
    for row in export.rows:
        caller = ""
        if row.parent_process_key:
            caller = f"{process_label(row.parent_process_key)} {row.parent_business_key or ''}".strip()
        ws.append([row.id, process_label(row.process_key), row.version, row.business_key or "",
                   tenant_label(row.tenant), state_label(row.state), caller, _when(row.started_at),
                   _when(row.ended_at)]
                  + [_value_words(name, row.values.get(name)) for name in export.variables])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _value_words(name: str, value: str | None) -> str:
    if value is None:
        return ""
    if value in ("true", "false"):
        return value_label(value == "true")
    return value_label(value, name)


def response(data: bytes, filename: str):
    """The file as a download with its Chinese name (RFC 5987) and an ASCII fallback."""
    reply = send_file(io.BytesIO(data), mimetype=XLSX_MIME, as_attachment=True, download_name=filename)
    reply.headers["Content-Disposition"] = (
        f"attachment; filename=\"{filename.encode('ascii', 'ignore').decode() or 'instances.xlsx'}\"; "
        f"filename*=UTF-8''{quote(filename)}")
    return reply

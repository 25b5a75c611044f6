"""Demand spreadsheets through the REST API, with real xlsx files made by openpyxl: the template
round trip, every kind of row error with its row and column, duplicates, only-good-rows,
tenant restriction, unusable files, and the two exports."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from tower import demands, spreadsheets
from tower.models import Demand

HEADERS = ["需求编号", "运营商", "省", "市", "区县", "站址名称", "经度", "纬度", "铁塔类型", "天线挂高(米)", "需求类型",
           "期望交付日期", "备注"]


def row(no: str = "XQ-0001", operator: str = "中国移动", lon=118.7969, lat=32.0603, **changes) -> list:
    values = {"需求编号": no, "运营商": operator, "省": "江苏省", "市": "南京市", "区县": "玄武区",
              "站址名称": f"站址{no}", "经度": lon, "纬度": lat, "铁塔类型": "普通地面塔", "天线挂高(米)": 35,
              "需求类型": "新建", "期望交付日期": date(2026, 12, 1), "备注": ""}
    if "天线挂高" in changes:
        changes["天线挂高(米)"] = changes.pop("天线挂高")
    values.update(changes)
    return [values[h] for h in HEADERS]


def xlsx(rows: list[list], headers: list | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers or HEADERS)
    for values in rows:
        ws.append(values)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def upload(client, data: bytes, only_good_rows: bool | None = None, name: str = "demands.xlsx"):
    form = {"file": (io.BytesIO(data), name)}
    if only_good_rows is not None:
        form["only_good_rows"] = "true" if only_good_rows else "false"
    return client.post("/api/v1/demands/import", data=form, content_type="multipart/form-data")


def errors(response) -> list[tuple[int, str, str]]:
    assert response.status_code == 422, response.json
    return [(e["row"], e["column"], e["code"]) for e in response.json["error"]["details"]["errors"]]


def stored(platform) -> list[str]:
    with platform.Session() as session:
        return sorted(d.demand_no for d in session.query(Demand))


@pytest.fixture
def manager(api):
    return api("zhao", ["customer_manager"])


def test_template_round_trip(manager, platform):
    r = manager.get("/api/v1/demands/template")
    assert r.status_code == 200
    assert r.mimetype == spreadsheets.XLSX_MIME
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["需求清单", "填写说明"]
    ws = wb["需求清单"]
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.column_dimensions["F"].width > ws.column_dimensions["C"].width
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation
             if dv.type == "list"}
    assert lists["B2"] == '"中国移动,中国联通,中国电信"'
    assert "普通地面塔" in lists["I2"] and "新建" in lists["K2"]
    explained = [r[0] for r in wb["填写说明"].iter_rows(min_row=2, max_row=14, values_only=True)]
    assert explained == HEADERS

    ws.append(row("XQ-0001"))
    ws.append(row("XQ-0002", "中国联通", 118.80, 32.07, 期望交付日期="2027-01-15", 备注="业主同意"))
    ws.append([None] * 13)  # blank rows are skipped
    ws.append(row("20260003", "中国电信", 118.81, 32.08, 天线挂高=40.5))
    ws["A5"] = 20260003  # a demand number typed as a number
    buffer = io.BytesIO()
    wb.save(buffer)
    r = upload(manager, buffer.getvalue())
    assert r.status_code == 201, r.json
    assert r.json == {"imported": 3, "demand_nos": ["XQ-0001", "XQ-0002", "20260003"], "errors": []}

    listed = manager.get("/api/v1/demands").json
    assert listed["total"] == 3
    by_no = {d["demand_no"]: d for d in listed["items"]}
    assert by_no["XQ-0002"]["tenant"] == "china_unicom"
    assert by_no["XQ-0002"]["expected_delivery"] == "2027-01-15"
    assert by_no["XQ-0002"]["remarks"] == "业主同意"
    assert by_no["XQ-0001"]["status"] == "collected" and by_no["XQ-0001"]["created_by"] == "zhao"
    assert by_no["20260003"]["tenant"] == "china_telecom"
    assert manager.get("/api/v1/demands?tenant=china_unicom").json["total"] == 1
    assert manager.get("/api/v1/demands?q=XQ-000").json["total"] == 2


def test_every_kind_of_row_error_with_row_and_column(manager, platform):
    rows = [
        row("R2", lat=32.002, 站址名称=None, 省="  "),           # row 2: required fields
        row("R3", lon=150.2),                                    # row 3: longitude outside China
        row("R4", lat="north"),                                  # row 4: not a number
        row("R5", lat=32.005, 期望交付日期="2026-13-01"),         # row 5: not a real date
        row("R6", "中国铁通"),                                   # row 6: unknown operator
        row("R7", lat=32.007, 天线挂高=-5),                      # row 7: height not positive
        row("R8", lat=2.5, 天线挂高="高", 铁塔类型="木塔"),       # row 8: three errors
        row("R9", lat=32.1, 期望交付日期=46357),                 # row 9: good (a date serial number)
        row(None, lat=32.2, 需求类型=None),                      # row 10: two required
        row("R11", lat=32.3, 备注="x" * 1001),                   # row 11: too long
    ]
    r = upload(manager, xlsx(rows))
    assert errors(r) == [
        (2, "省", "required"), (2, "站址名称", "required"),
        (3, "经度", "longitude_range"),
        (4, "纬度", "not_a_number"),
        (5, "期望交付日期", "bad_date"),
        (6, "运营商", "unknown_operator"),
        (7, "天线挂高(米)", "not_positive"),
        (8, "纬度", "latitude_range"), (8, "铁塔类型", "unknown_choice"), (8, "天线挂高(米)", "not_a_number"),
        (10, "需求编号", "required"), (10, "需求类型", "required"),
        (11, "备注", "too_long"),
    ]
    body = r.json["error"]
    assert body["code"] == "validation_failed"
    assert "nothing was imported" in body["message"]
    assert body["details"]["bad_rows"] == [2, 3, 4, 5, 6, 7, 8, 10, 11]
    first = body["details"]["errors"][0]
    assert set(first) >= {"row", "column", "message"} and first["message"] == "This field is required."
    assert stored(platform) == []


def test_dates_as_excel_dates_and_as_text():
    assert demands._date(datetime(2026, 12, 1, 0, 0)) == date(2026, 12, 1)
    for text in ("2026-12-01", "2026/12/1", "2026.12.01", "2026年12月1日", " 2026-12-01 "):
        assert demands._date(text) == date(2026, 12, 1), text
    for bad in ("2026-02-30", "12/01/2026", "next week", 12, True):
        assert demands._date(bad) is None, bad


def test_duplicates_inside_the_file_and_against_stored_demands(manager, platform):
    assert upload(manager, xlsx([row("OLD-1", lon=118.70, lat=32.00)])).status_code == 201
    half_metre = 0.5 / 111_195  # degrees of latitude
    rows = [
        row("N-1", lon=118.80, lat=32.10),
        row("N-1", lon=118.81, lat=32.11),                      # row 3: same number as row 2
        row("N-3", lon=118.80, lat=32.10 + half_metre),         # row 4: same operator within 1 m of row 2
        row("N-4", "中国联通", lon=118.80, lat=32.10),            # row 5: another operator may share the point
        row("N-5", lon=118.80, lat=32.10 + 3 * half_metre),     # row 6: 1.5 m away: fine
        row("OLD-1", lon=118.90, lat=32.20),                    # row 7: number already stored
        row("N-7", lon=118.70, lat=32.00 + half_metre),         # row 8: within 1 m of stored OLD-1
    ]
    assert errors(upload(manager, xlsx(rows))) == [
        (3, "需求编号", "duplicate_no_in_file"),
        (4, "经度", "duplicate_place_in_file"),
        (7, "需求编号", "duplicate_no_stored"),
        (8, "经度", "duplicate_place_stored"),
    ]
    messages = [e["message"] for e in upload(manager, xlsx(rows)).json["error"]["details"]["errors"]]
    assert messages[0] == "The same demand number is already in row 2."
    assert "OLD-1" in messages[3]
    assert stored(platform) == ["OLD-1"]


def test_only_good_rows_imports_them_and_still_reports_the_errors(manager, platform):
    rows = [row("G-1", lat=32.01), row("B-2", lat=60.0), row("G-3", lat=32.03), row("B-4", 运营商="?")]
    r = upload(manager, xlsx(rows), only_good_rows=False)
    assert r.status_code == 422 and stored(platform) == []
    r = upload(manager, xlsx(rows), only_good_rows=True)
    assert r.status_code == 201, r.json
    assert r.json["imported"] == 2 and r.json["demand_nos"] == ["G-1", "G-3"]
    assert [(e["row"], e["column"]) for e in r.json["errors"]] == [(3, "纬度"), (5, "运营商")]
    assert stored(platform) == ["G-1", "G-3"]
    # a file with no good row imports nothing, even in this mode
    r = upload(manager, xlsx([row("B-9", lat=99)]), only_good_rows=True)
    assert errors(r) == [(2, "纬度", "latitude_range")]
    assert stored(platform) == ["G-1", "G-3"]


def test_operator_users_import_and_see_only_their_own_company(api, manager, platform):
    mobile = api("yd", ["operator"], tenant="china_mobile")
    rows = [row("M-1", lat=32.01), row("U-1", "中国联通", lat=32.02)]
    assert errors(upload(mobile, xlsx(rows))) == [(3, "运营商", "other_tenant")]
    r = upload(mobile, xlsx(rows), only_good_rows=True)
    assert r.json["demand_nos"] == ["M-1"]
    assert upload(manager, xlsx([row("U-1", "中国联通", lat=32.02)])).status_code == 201

    assert [d["demand_no"] for d in mobile.get("/api/v1/demands").json["items"]] == ["M-1"]
    assert mobile.get("/api/v1/demands?tenant=china_unicom").json["total"] == 0
    assert manager.get("/api/v1/demands").json["total"] == 2
    r = mobile.get("/api/v1/demands/export/order-confirmation?demand_no=U-1")
    assert r.status_code == 404
    assert mobile.get("/api/v1/demands/export/order-confirmation?demand_no=M-1").status_code == 200

    maintenance = api("wx", ["maintenance"])
    assert upload(maintenance, xlsx([row("X-1")])).status_code == 403
    assert upload(api.anonymous, xlsx([row("X-1")])).status_code == 401


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    ("需求编号,运营商\nXQ-1,中国移动\n".encode(), "not an Excel .xlsx"),
    (b"PK\x03\x04 this is no zip", "not an Excel .xlsx"),
    (b"x" * (5 * 1024 * 1024 + 10), "larger than 5 MB"),
])
def test_files_that_are_not_usable_spreadsheets(manager, data, words):
    r = upload(manager, data)
    assert r.status_code == 400, r.json
    assert words in r.json["error"]["message"]


def test_wrong_headers_missing_rows_and_too_many_rows(manager, platform):
    wrong = [h for h in HEADERS if h != "纬度"] + ["经度"]
    assert errors(upload(manager, xlsx([row()], headers=wrong))) == [
        (1, "经度", "repeated_header"), (1, "纬度", "missing_header")]
    r = upload(manager, xlsx([]))
    assert r.status_code == 400 and "no demand rows" in r.json["error"]["message"]
    r = upload(manager, xlsx([], headers=[None]))
    assert r.status_code == 400 and "no header row" in r.json["error"]["message"]
    many = [row(f"M-{i}", lat=30 + i / 1000) for i in range(5001)]
    r = upload(manager, xlsx(many))
    assert r.status_code == 400 and "more than 5000 rows" in r.json["error"]["message"]
    r = manager.post("/api/v1/demands/import", data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and "'file'" in r.json["error"]["message"]
    assert stored(platform) == []


def test_headers_in_another_order_and_with_full_width_brackets(manager):
    order = list(reversed(HEADERS))
    values = list(reversed(row("REV-1")))
    headers = [h.replace("(", "（").replace(")", "）") for h in order]
    r = upload(manager, xlsx([values], headers=headers))
    assert r.status_code == 201, r.json


def _set_order_fields(platform):
    with platform.transaction() as session:
        for demand in session.query(Demand):
            if demand.demand_no == "O-1":
                demand.order_no, demand.site_code, demand.build_mode = "DD-2026-001", "NJ-001", "share_existing"
                demand.share_count, demand.annual_fee, demand.status = 2, 12345.5, "order_sent"
            if demand.demand_no == "O-2":
                demand.order_no, demand.build_mode, demand.status = "DD-2026-002", "new_site", "delivered"
                demand.delivered_on = date(2026, 11, 20)
            if demand.demand_no == "O-3":
                demand.status, demand.accepted_at, demand.accepted_by = ("acceptance_confirmed",
                                                                         datetime(2026, 11, 24, 9, 30), "yd")


def test_exports_are_readable_with_the_right_rows(manager, platform):
    rows = [row("O-1", lat=32.01), row("O-2", "中国联通", lat=32.02), row("O-3", lat=32.03)]
    assert upload(manager, xlsx(rows)).status_code == 201
    _set_order_fields(platform)

    r = manager.get("/api/v1/demands/export/order-confirmation?demand_no=O-2&demand_no=O-1")
    assert r.status_code == 200 and r.mimetype == spreadsheets.XLSX_MIME
    ws = load_workbook(io.BytesIO(r.data)).active
    assert ws["A1"].value == "订单确认单"
    exported = spreadsheets.read_export(r.data)
    assert [e["需求编号"] for e in exported] == ["O-2", "O-1"]
    first, second = exported
    assert first["运营商"] == "中国联通" and first["建设方式"] == "新建站址" and first["序号"] == 1
    assert second["订单编号"] == "DD-2026-001" and second["站址编码"] == "NJ-001"
    assert second["建设方式"] == "存量共享" and second["共享运营商数"] == 2 and second["年服务费(元)"] == 12345.5
    assert second["期望交付日期"].date() == date(2026, 12, 1) and second["订单状态"] == "待订单确认"
    assert second["天线挂高(米)"] == 35 and second["经度"] == pytest.approx(118.7969)
    comma = manager.get("/api/v1/demands/export/order-confirmation?demand_no=O-1,O-3")
    assert [e["需求编号"] for e in spreadsheets.read_export(comma.data)] == ["O-1", "O-3"]
    r = manager.get("/api/v1/demands/export/order-confirmation?demand_no=O-1&demand_no=NOPE")
    assert r.status_code == 404 and r.json["error"]["details"] == {"missing": ["NOPE"]}
    assert manager.get("/api/v1/demands/export/order-confirmation").status_code == 422

    r = manager.get("/api/v1/demands/export/acceptance")
    assert r.status_code == 200
    assert load_workbook(io.BytesIO(r.data)).active["A1"].value == "交付验收清单"
    exported = spreadsheets.read_export(r.data)
    assert [e["需求编号"] for e in exported] == ["O-2"]
    assert exported[0]["交付日期"].date() == date(2026, 11, 20) and exported[0]["验收状态"] == "待验收"
    r = manager.get("/api/v1/demands/export/acceptance?status=delivered,acceptance_confirmed")
    exported = spreadsheets.read_export(r.data)
    assert [e["需求编号"] for e in exported] == ["O-3", "O-2"]  # by operator, then city and number
    assert exported[0]["验收确认时间"] == datetime(2026, 11, 24, 9, 30) and exported[0]["验收确认人"] == "yd"
    r = manager.get("/api/v1/demands/export/acceptance?status=all")
    assert len(spreadsheets.read_export(r.data)) == 3
    assert spreadsheets.read_export(manager.get("/api/v1/demands/export/acceptance?status=cancelled").data) == []


# ---- the page ---------------------------------------------------------------------------------


@pytest.fixture
def pages(platform):
    """The app, with a helper that signs a user in to the pages."""
    from engine import identity
    from web.app import create_app

    app = create_app({"TESTING": True}, platform=platform)

    def sign_in(username: str, groups: list[str], tenant: str | None = None, lang: str = "zh"):
        with platform.transaction() as session:
            identity.add_user(session, username, "password123", groups, tenant)
        client = app.test_client()
        client.get(f"/lang/{lang}")
        assert client.post("/login", data={"username": username, "password": "password123",
                                           "csrf_token": csrf(client, "/login")}).status_code == 302
        return client

    return sign_in


def csrf(client, url: str) -> str:
    import re

    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(url).get_data(as_text=True))[1]


def page_upload(client, data: bytes, only_good_rows: bool = False):
    form = {"file": (io.BytesIO(data), "需求.xlsx"), "csrf_token": csrf(client, "/demands")}
    if only_good_rows:
        form["only_good_rows"] = "1"
    return client.post("/demands/import", data=form, content_type="multipart/form-data")


def test_the_page_shows_every_error_and_imports_the_good_rows_on_request(pages, platform):
    client = pages("zhao", ["customer_manager"])
    html = client.get("/demands").get_data(as_text=True)
    assert "需求单批量导入" in html and 'data-testid="no-demands"' in html
    template = client.get("/demands/template")
    assert template.status_code == 200 and template.mimetype == spreadsheets.XLSX_MIME

    rows = [row("P-1", lat=32.01), row("P-2", lat=99.0, 天线挂高=0), row("P-3", lat=32.03)]
    r = page_upload(client, xlsx(rows))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'data-row="3" data-column="纬度" data-code="latitude_range"' in html
    assert 'data-row="3" data-column="天线挂高(米)" data-code="not_positive"' in html
    assert "纬度必须在 3.8 到 53.6 之间（中国境内）。" in html
    assert "共 3 行，其中 1 行有 2 处错误。未导入任何数据。" in html
    assert stored(platform) == []
    token = __import__("re").search(r'action="/demands/import/([^"]+)"', html)[1]
    r = client.post(f"/demands/import/{token}", data={"csrf_token": csrf(client, "/demands")})
    assert r.status_code == 302
    assert stored(platform) == ["P-1", "P-3"]
    html = client.get("/demands").get_data(as_text=True)
    assert "已导入 2 条需求。" in html and 'data-demand-no="P-3"' in html
    # the kept upload is used once
    r = client.post(f"/demands/import/{token}", data={"csrf_token": csrf(client, "/demands")}, follow_redirects=True)
    assert "该上传文件已不再保留" in r.get_data(as_text=True)

    r = page_upload(client, xlsx([row("P-4", lat=32.04), row("P-5", 运营商="?")]), only_good_rows=True)
    assert r.status_code == 302 and stored(platform) == ["P-1", "P-3", "P-4"]
    r = page_upload(client, b"not a workbook")
    assert "不是 Excel .xlsx 工作簿" in client.get("/demands").get_data(as_text=True)

    export = client.get("/demands/export/order-confirmation?demand_no=P-1&demand_no=P-4")
    assert [e["需求编号"] for e in spreadsheets.read_export(export.data)] == ["P-1", "P-4"]
    assert client.get("/demands/export/acceptance?status=all").status_code == 200


def test_the_page_in_english_and_who_may_open_it(pages):
    client = pages("zhao", ["customer_manager"], lang="en")
    r = page_upload(client, xlsx([row("E-1", lat=150)]))
    html = r.get_data(as_text=True)
    assert "The latitude must be between 3.8 and 53.6 (inside China)." in html
    supervisor = pages("boss", ["supervisor"])
    html = supervisor.get("/demands").get_data(as_text=True)
    assert 'data-testid="demand-import"' not in html  # supervisors list and export, they do not import
    assert page_upload(supervisor, xlsx([row("S-1")])).status_code == 403
    assert pages("wx", ["maintenance"]).get("/demands").status_code == 403


def test_operators_see_only_their_own_demands_and_progress(pages, platform):
    manager = pages("zhao", ["customer_manager"])
    assert page_upload(manager, xlsx([row("M-1"), row("U-1", operator="中国联通", lon=119.2)])).status_code == 302
    mobile = pages("cmcc_li", ["operator"], tenant="china_mobile")
    html = mobile.get("/demands").get_data(as_text=True)
    assert "M-1" in html and "U-1" not in html
    assert mobile.get("/demands/M-1").status_code == 200
    assert mobile.get("/demands/U-1").status_code == 404

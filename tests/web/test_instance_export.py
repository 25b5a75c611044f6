"""The instance list's search on the page and its Excel export (issue 15, point 5): the export
holds exactly the filtered rows, with Chinese headers and words instead of codes; the page
offers variables, choices and elements by their words and shows who called a called row."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).parents[1] / "flows"))  # Flow 1's drivers, when run on its own
sys.path.insert(0, str(Path(__file__).parent))
from test_flow_tower_order import deployed, failed_screening, people, to_screening  # noqa: E402, F401
from test_instance_pages import sign_in  # noqa: E402, F401

from engine.queries import instance_list  # noqa: E402


@pytest.fixture
def world(deployed, people):  # noqa: F811
    at_screening = to_screening(people, "XQ-001")
    tall = to_screening(people, "XQ-002", antenna_height=50, site_name="东湖高塔站")
    negotiating = failed_screening(people, "XQ-003")
    return {"at_screening": at_screening, "tall": tall, "negotiating": negotiating}


def sheet(response) -> list[tuple]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(response.data))
    return [tuple("" if v is None else v for v in row) for row in book.active.iter_rows(values_only=True)]


def listed(response) -> list[int]:
    return [int(i) for i in re.findall(r'data-instance-id="(\d+)"', response.get_data(as_text=True))]


def test_the_export_holds_the_filtered_rows_in_words(world, sign_in):  # noqa: F811
    zhou = sign_in("zhou_x", ["supervisor"], lang="zh")
    rows = sheet(zhou.client.get("/instances/export.xlsx?process=tower_order&var=site_name:contains:玄武湖站"))
    header, *body = rows
    assert header == ("编号", "流程", "版本", "业务编号", "租户", "状态", "调用方", "发起时间", "结束时间", "站址名称")
    assert sorted(r[0] for r in body) == sorted([world["at_screening"], world["negotiating"]])
    by_id = {r[0]: r for r in body}
    first = by_id[world["at_screening"]]
    assert (first[1], first[3], first[4], first[5], first[9]) == ("铁塔需求立项", "XQ-001", "中国移动", "等待中",
                                                                  "玄武湖站 XQ-001")


def test_the_export_of_called_negotiations_names_their_caller(world, sign_in):  # noqa: F811
    zhou = sign_in("zhou_x", ["supervisor"], lang="zh")
    header, *body = sheet(zhou.client.get("/instances/export.xlsx?process=site_negotiation"))
    [row] = body
    assert row[1] == "选址谈判" and row[6] == "铁塔需求立项 XQ-003" and row[3] == "XQ-003"


def test_the_api_exports_the_same_rows(world, people):  # noqa: F811
    r = people.supervisor.get("/api/v1/process-instances/export.xlsx?element=screening&process_key=tower_order")
    header, *body = sheet(r)
    assert header[1] == "流程"
    assert sorted(row[0] for row in body) == sorted([world["at_screening"], world["tall"]])
    assert people.other_operator.get("/api/v1/process-instances/export.xlsx").status_code == 200
    assert sheet(people.other_operator.get("/api/v1/process-instances/export.xlsx"))[1:] == []  # another tenant's
    assert people.supervisor.get("/api/v1/process-instances/export.xlsx?var=antenna_height:gt:高").status_code == 400


def test_a_capped_export_says_so(world, sign_in, monkeypatch):  # noqa: F811
    monkeypatch.setattr(instance_list, "EXPORT_CAP", 2)
    zhou = sign_in("zhou_x", ["supervisor"], lang="zh")
    note, header, *body = sheet(zhou.client.get("/instances/export.xlsx"))
    assert "最新的 2 个" in note[0] and len(body) == 2


def test_the_page_searches_by_words_and_shows_the_caller(world, sign_in):  # noqa: F811
    zhou = sign_in("zhou_x", ["supervisor"], lang="zh")
    page = zhou.get("/instances?process=tower_order").get_data(as_text=True)
    assert "站址名称" in page and "站址筛查" in page  # a variable and an element by their words
    assert listed(zhou.get("/instances?process=tower_order&element=screening")) == sorted(
        [world["at_screening"], world["tall"]], reverse=True)
    assert listed(zhou.get("/instances?vn=site_name&vo=contains&vv=东湖")) == [world["tall"]]
    assert listed(zhou.get("/instances?vn=antenna_height&vo=gt&vv=40")) == [world["tall"]]
    called = zhou.get("/instances?process=site_negotiation")
    text = called.get_data(as_text=True)
    assert "由 铁塔需求立项 XQ-003 调用" in text
    assert f'href="/instances/{world["negotiating"]}"' in text
    assert listed(zhou.get("/instances?parent=tower_order")) == listed(called)
    assert world["negotiating"] in listed(zhou.get("/instances?top_level=1"))
    assert not set(listed(called)) & set(listed(zhou.get("/instances?top_level=1")))
    # a malformed condition is dropped, not an error page
    assert zhou.get("/instances?vn=antenna_height&vo=gt&vv=高").status_code == 200


def test_the_inbox_names_the_called_process_and_its_caller(world, people, sign_in):  # noqa: F811
    zhou = sign_in("zhou_x", ["supervisor"], lang="zh")
    page = zhou.get("/inbox?tab=all&process=site_negotiation").get_data(as_text=True)
    assert "反馈谈址进展" in page and "选址谈判" in page
    assert "由 铁塔需求立项 XQ-003 调用" in page
    [task_id] = re.findall(r'data-task-id="(\d+)"', page)
    task_page = zhou.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "选址谈判" in task_page and "由 铁塔需求立项 XQ-003 调用" in task_page


def test_the_bulk_page_says_the_search_in_words(world, sign_in):  # noqa: F811
    zhou = sign_in("zhou_x", ["supervisor"], lang="zh")
    page = zhou.get("/instances/bulk?action=suspend&process=tower_order&element=screening"
                    "&vn=site_name&vo=contains&vv=东湖").get_data(as_text=True)
    assert "站址筛查" in page and "站址名称 包含 东湖" in page
    assert ">screening<" not in page

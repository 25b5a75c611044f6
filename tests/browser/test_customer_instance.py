"""An operator (tenant) user's instance page in a real browser, at 1366 and 390 px: the customer
side in Chinese (variables by their labels, its own steps), the diagram drawn, and no internal
variable, raw code or traceback on the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from pages import screenshot, sign_in
from sqlalchemy import select

from engine.definitions import deployments
from engine.models import HumanTask, Incident
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, jobs, tasks

PROCESSES = Path(__file__).parents[2] / "processes"
MANAGER = Principal("mgr", frozenset({"customer_manager"}))
PLANNER = Principal("plan", frozenset({"planning"}))
START = {"demand_no": "XQ-B-001", "operator": "china_mobile", "province": "江苏省", "city": "南京市",
         "county": "玄武区", "site_name": "玄武湖站", "longitude": 118.7969, "latitude": 32.0603,
         "tower_type": "普通地面塔", "antenna_height": 35, "demand_type": "新建", "expected_delivery": "2027-03-01",
         "remarks": "业主已初步同意", "customer_manager": "mgr", "customer_manager_phone": "13800571234"}


def _complete(platform, iid: int, element: str, actor: Principal, data: dict) -> None:
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == iid,
                                                            HumanTask.element_id == element,
                                                            HumanTask.state == "open"))
    tasks.claim(platform, actor, task_id)
    tasks.complete(platform, actor, task_id, data)
    jobs.drain(platform, iid)


@pytest.fixture
def demand(platform, users):
    deployments.deploy(platform, SYSTEM, {p.name: p.read_bytes() for p in sorted(PROCESSES.iterdir())
                                          if p.suffix in (".bpmn", ".dmn")})
    users("cmcc_li", ["operator"], tenant="china_mobile")
    operator = Principal("cmcc_li", frozenset({"operator"}), "china_mobile")
    iid = instances.start(platform, MANAGER, "tower_order", "XQ-B-001", START, "china_mobile")
    jobs.drain(platform, iid)
    _complete(platform, iid, "confirm_demand", operator, {"confirmed": True, "confirm_comment": "同意立项"})
    _complete(platform, iid, "accept_demand", MANAGER, {"comment": "内部：先核对基础数据"})
    _complete(platform, iid, "integrate", PLANNER, {"integration_result": "new_site", "area_type": "suburban",
                                                    "cost_standard": 51234.0, "integration_note": "内部：预算偏紧"})
    with platform.transaction() as session:
        session.add(Incident(instance_id=iid, element_id="dispatch_screening", kind="service_failed",
                             message="ServiceError: /srv/towerflow/handlers/pms.py", traceback="Traceback ...",
                             state="open", created_at=platform.clock.now()))
    return iid


@pytest.mark.parametrize("width,height", [(1366, 768), (390, 844)])
def test_the_operator_reads_its_demand_in_chinese_without_internal_data(new_page, demand, width, height):
    page = new_page()
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, "cmcc_li")
    page.goto(f"/instances/{demand}")
    page.wait_for_selector("[data-testid=variables] tr[data-variable=site_name]")
    text = page.inner_text("main")
    assert "玄武湖站" in text and "同意立项" in text and "中国移动" in text
    assert "调用外部系统失败" in text
    for internal in ("51234", "13800571234", "内部：", "suburban", "cost_standard", "ServiceError", "Traceback",
                     "/srv/", "tower_order", "china_mobile"):
        assert internal not in text, internal
    labels = page.locator("[data-testid=variables] tr[data-variable] td:first-child").all_inner_texts()
    assert labels and all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in labels), labels
    assert page.locator("[data-testid=audit] tr[data-action]").count() > 0
    page.wait_for_selector("#instance-diagram .djs-container", state="attached")
    screenshot(page, "instance-customer" if width > 500 else "instance-customer-phone")

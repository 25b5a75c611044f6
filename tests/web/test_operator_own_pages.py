"""The operator's own pages through Flask's test client (CSRF off here only), on real Flow 1
instances: cancel and change a demand with a reason, refusals in words, progress with why a
demand ended, batch acceptance, the difficult-site library, contracts (page and API) and the
service requests page; every new route is tenant-scoped (another company's id is 404)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from operator_world import PASSWORD, add_people, demand_at, deploy_flows
from sqlalchemy import func, select

from engine.models import ReceivedMessage
from engine.principal import Principal
from engine.runtime import instances, jobs
from tower import contracts
from tower.models import Demand, DifficultSite
from web.app import create_app


@pytest.fixture
def world(platform):
    deploy_flows(platform)
    add_people(platform)
    return platform


@pytest.fixture
def signed_in(platform):
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, platform=platform)

    def make(username: str):
        client = app.test_client()
        r = client.post("/login", data={"username": username, "password": PASSWORD})
        assert r.status_code == 302, r.get_data(as_text=True)
        return client

    return make


def text(response) -> str:
    """What a reader sees: the page without tags, scripts and extra spaces."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def status_of(platform, no: str) -> str:
    with platform.Session() as session:
        return session.scalar(select(Demand.status).where(Demand.demand_no == no))


def messages_for(platform, no: str) -> int:
    with platform.Session() as session:
        return session.scalar(select(func.count(ReceivedMessage.id)).where(ReceivedMessage.business_key == no))


def test_an_operator_cancels_a_demand_with_a_reason_and_sees_it_cancelled(world, signed_in):
    demand_at(world, "XQ-1", "submitted")
    cmcc = signed_in("cmcc")
    page = text(cmcc.get("/demands/XQ-1"))
    assert "待需求确认" in page and "取消需求" in page and "订单确认之前可以操作" in page

    r = cmcc.post("/demands/XQ-1/cancel", data={"reason": "  "})
    assert r.status_code == 422 and "请填写原因" in text(r)
    assert status_of(world, "XQ-1") == "submitted" and messages_for(world, "XQ-1") == 0

    r = cmcc.post("/demands/XQ-1/cancel", data={"reason": "建设计划调整，不再需要"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/demands/XQ-1")
    assert status_of(world, "XQ-1") == "cancelled"
    page = text(cmcc.get("/demands/XQ-1"))
    assert "已取消" in page and "需求已取消" in page and "原因：建设计划调整，不再需要" in page
    assert "处理人：cmcc" in page and "该需求已取消。" in page  # the buttons are off, and say why
    assert "cancelled" not in page and "cancel_reason" not in page


def test_an_operator_changes_a_demand_and_it_goes_back_to_acceptance(world, signed_in):
    demand_at(world, "XQ-2", "screening", n=3)
    cmcc = signed_in("cmcc")
    form = text(cmcc.get("/demands/XQ-2/change"))
    assert "变更原因" in form and "西湖区XQ-2号需求点" in cmcc.get("/demands/XQ-2/change").get_data(as_text=True)
    current = {"site_name": "西湖区XQ-2号需求点", "longitude": "120.103", "latitude": "30.253",
               "tower_type": "普通地面塔", "antenna_height": "35", "expected_delivery": "2027-03-01",
               "remarks": "测试需求"}

    r = cmcc.post("/demands/XQ-2/change", data={**current, "reason": "调整", "longitude": "200"})
    assert r.status_code == 422 and "经度必须在 73.5 到 135.1 之间（中国境内）。" in text(r)
    assert 'value="200"' in r.get_data(as_text=True)  # what was typed is kept
    r = cmcc.post("/demands/XQ-2/change", data={**current, "reason": "调整"})
    assert r.status_code == 422 and "没有任何变更" in text(r)
    assert status_of(world, "XQ-2") == "screening" and messages_for(world, "XQ-2") == 0

    r = cmcc.post("/demands/XQ-2/change", data={**current, "site_name": "西湖区新址", "antenna_height": "40",
                                                "reason": "业主要求换到东侧楼顶"})
    assert r.status_code == 302
    assert status_of(world, "XQ-2") == "confirmed"
    page = text(cmcc.get("/demands/XQ-2"))
    assert "需求已确认" in page and "西湖区新址" in page
    assert "原因：业主要求换到东侧楼顶" in page and "天线挂高(米)：40" in page
    open_steps = page.split("待办环节", 1)[1]
    assert "需求承接" in open_steps and "客户经理" in open_steps


def test_a_refused_cancel_says_why_and_changes_nothing(world, signed_in):
    demand_at(world, "XQ-3", "start_project", n=5)
    cmcc = signed_in("cmcc")
    html = cmcc.get("/demands/XQ-3").get_data(as_text=True)
    assert re.search(r'<button type="button" disabled[^>]*data-testid="cancel-button"', html)
    assert "订单已确认：需求只能在订单确认之前变更或取消。" in text(cmcc.get("/demands/XQ-3"))
    for action in ("cancel", "change"):
        r = cmcc.post(f"/demands/XQ-3/{action}", data={"reason": "想取消", "site_name": "别处"})
        assert r.status_code == 409
        assert "订单已确认：需求只能在订单确认之前变更或取消。" in text(r) and "未做任何改动" in text(r)
    assert status_of(world, "XQ-3") == "order_confirmed" and messages_for(world, "XQ-3") == 0
    api = signed_in("cmcc")
    r = api.post("/demands/XQ-3/cancel", data={"reason": "再试一次"})
    assert r.status_code == 409


def test_the_progress_page_says_why_a_demand_ended_in_words(world, signed_in):
    demand_at(world, "XQ-5", "unplannable", n=9)
    demand_at(world, "XQ-6", "negotiation_failed", n=11)
    demand_at(world, "XQ-8", "order_cancelled", n=15)
    cmcc = signed_in("cmcc")
    page = text(cmcc.get("/demands/XQ-5"))
    assert "无法规划" in page and "需求无法规划" in page and "原因：位于生态保护红线内，规划不允许建塔" in page
    page = text(cmcc.get("/demands/XQ-6"))
    assert "选址谈判失败" in page and "原因：未能与业主谈妥" in page
    assert "negotiation_failed" not in page and "failure_reason" not in page
    page = text(cmcc.get("/demands/XQ-8"))
    assert "订单已取消" in page and "原因：运营商预算调整，订单取消" in page


def test_batch_acceptance_confirms_each_ticked_demand_and_reports_each_result(world, signed_in):
    demand_at(world, "XQ-11", "delivered", n=1)
    demand_at(world, "XQ-12", "delivered", n=3)
    demand_at(world, "XQ-13", "submitted", n=5)
    demand_at(world, "XQ-14", "delivered", tenant="china_unicom", n=7)
    cmcc = signed_in("cmcc")
    assert "有 2 条已交付的需求等待您验收确认" in text(cmcc.get("/demands"))
    page = cmcc.get("/demands/batch/acceptance").get_data(as_text=True)
    assert 'value="XQ-11"' in page and 'value="XQ-12"' in page
    assert "XQ-13" not in page and "XQ-14" not in page  # not waiting; another company's

    r = cmcc.post("/demands/batch/acceptance", data={})
    assert r.status_code == 422 and "请勾选要验收确认的需求" in text(r)
    r = cmcc.post("/demands/batch/acceptance",
                  data={"demand_no": ["XQ-13", "XQ-11", "XQ-14", "XQ-12"], "confirm_comment": "资料齐全"})
    assert r.status_code == 200
    results = dict(re.findall(r'data-testid="result" data-demand-no="([^"]+)" data-ok="(yes|no)"',
                              r.get_data(as_text=True)))
    assert results == {"XQ-13": "no", "XQ-11": "yes", "XQ-14": "no", "XQ-12": "yes"}
    page = text(r)
    assert "已验收确认 2 条，共 4 条" in page
    assert "XQ-13 ： 未确认 — 该需求当前不在等待您的验收确认。" in page
    assert "XQ-14 ： 未确认 — 没有这条需求。" in page
    assert [status_of(world, n) for n in ("XQ-11", "XQ-12", "XQ-13", "XQ-14")] == [
        "acceptance_confirmed", "acceptance_confirmed", "submitted", "delivered"]
    assert "没有等待您验收确认的需求" in page
    assert signed_in("manager").get("/demands/batch/acceptance").status_code == 403


def add_library(platform) -> dict[str, int]:
    now = platform.clock.now()
    ids = {}
    with platform.transaction() as session:
        for n, (tenant, reason, status) in enumerate([("china_mobile", "owner_refuses", "in_library"),
                                                      ("china_unicom", "planning_restriction", "in_library"),
                                                      ("china_mobile", "cost_far_above_standard", "released")]):
            row = DifficultSite(entry_key=f"k{n}", demand_no=f"XQ-L{n}", site_name=f"疑难站{n}", reason=reason,
                                description="业主坚决不同意", status=status, tenant=tenant,
                                entered_at=now - timedelta(days=10 - n), paused_at=now - timedelta(days=10 - n),
                                released_at=now if status == "released" else None,
                                paused_days=8 if status == "released" else None,
                                release_reason="conditions_changed" if status == "released" else None)
            session.add(row)
            session.flush()
            ids[row.demand_no] = row.id
    return ids


def test_the_difficult_site_library_in_words_with_filters_and_tenants(world, signed_in):
    ids = add_library(world)
    staff = signed_in("regional")
    page = text(staff.get("/difficult-sites"))
    assert all(f"疑难站{n}" in page for n in range(3))
    assert "业主拒绝" in page and "规划限制" in page and "中国联通" in page and "owner_refuses" not in page
    page = text(staff.get("/difficult-sites?status=released"))
    assert "疑难站2" in page and "疑难站0" not in page and "已出库" in page
    page = text(staff.get("/difficult-sites?tenant=china_unicom&reason=planning_restriction"))
    assert "疑难站1" in page and "疑难站0" not in page
    page = text(staff.get(f"/difficult-sites/{ids['XQ-L2']}"))
    assert "条件已变化，恢复谈址" in page and "费用远超标准" in page

    cmcc = signed_in("cmcc")
    page = text(cmcc.get("/difficult-sites"))
    assert "疑难站0" in page and "疑难站2" in page and "疑难站1" not in page
    assert cmcc.get(f"/difficult-sites/{ids['XQ-L1']}").status_code == 404
    assert cmcc.get(f"/difficult-sites/{ids['XQ-L0']}").status_code == 200
    assert signed_in("planner").get("/difficult-sites").status_code == 403


def test_contracts_page_and_api_with_warning_states(world, signed_in, api):
    today = world.clock.now().date()
    with world.transaction() as session:
        for no, days, tenant, warn in (("HT-1", 12, "china_mobile", 30), ("HT-2", 200, "china_unicom", 30),
                                       ("HT-3", -5, None, 30), ("HT-4", 40, "china_mobile", 30)):
            contracts.add_contract(session, contract_no=no, customer_name=f"客户{no}", customer_manager="manager",
                                   expires_on=today + timedelta(days=days), warn_days_before=warn, tenant=tenant)
        contracts.mark_warned(session, "HT-1", world.clock.now())
    page = signed_in("manager").get("/contracts")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    states = dict(re.findall(r'data-contract-no="([^"]+)" data-state="([^"]+)"', html))
    assert states == {"HT-1": "warned", "HT-2": "ok", "HT-3": "expired", "HT-4": "ok"}
    words = text(page)
    assert "已发到期预警" in words and "已到期" in words and "剩余 12 天" in words and "已过 5 天" in words
    assert "中国移动" in words and "china_mobile" not in words
    assert "HT-3" not in text(signed_in("manager").get("/contracts?state=ok"))
    assert signed_in("cmcc").get("/contracts").status_code == 403  # the page is the tower company's

    supervisor = api("zhou", ["supervisor"])
    listed = supervisor.get("/api/v1/contracts").json
    assert [c["contract_no"] for c in listed["items"]] == ["HT-3", "HT-1", "HT-4", "HT-2"]
    assert listed["items"][1]["warning_state"] == "warned" and listed["items"][1]["days_left"] == 12
    one = supervisor.get(f"/api/v1/contracts/{listed['items'][2]['id']}").json
    assert one["contract_no"] == "HT-4" and one["warn_on"] == (today + timedelta(days=10)).isoformat()
    assert supervisor.get("/api/v1/contracts?warning_state=expired").json["total"] == 1
    operator = api("cmcc_api", ["operator"], tenant="china_mobile")
    mine = operator.get("/api/v1/contracts").json
    assert sorted(c["contract_no"] for c in mine["items"]) == ["HT-1", "HT-4"]
    other = next(c["id"] for c in listed["items"] if c["contract_no"] == "HT-2")
    assert operator.get(f"/api/v1/contracts/{other}").status_code == 404
    assert supervisor.get("/api/v1/contracts/99999").status_code == 404
    assert api("gao", ["planning"]).get("/api/v1/contracts").status_code == 403
    assert api.anonymous.get("/api/v1/contracts").status_code == 401
    assert supervisor.get("/api/v1/contracts?status=nope").status_code == 422
    paths = api.anonymous.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/contracts", "/api/v1/contracts/{contract_id}", "/api/v1/difficult-sites/{site_id}"} <= set(paths)


def start_request(platform, user: str, tenant: str, key: str, kind: str = "new_install") -> int:
    customer = Principal(user, frozenset({"operator"}), tenant)
    iid = instances.start(platform, customer, "service_request", key, {
        "request_kind": kind, "customer_name": "杭州市公安局", "contact_name": "陈女士",
        "contact_phone": "13905710001", "description": "机房新增一条互联网专线", "product": "互联网专线 100M"},
        tenant=tenant)
    jobs.drain(platform, iid)
    return iid


def test_an_enterprise_customer_follows_its_service_requests(world, signed_in):
    mine = start_request(world, "cmcc", "china_mobile", "SR-1")
    theirs = start_request(world, "unicom", "china_unicom", "SR-2", kind="complaint")
    cmcc = signed_in("cmcc")
    page = text(cmcc.get("/service-requests"))
    assert "我的服务申请" in page and "SR-1" in page and "SR-2" not in page
    assert "新装" in page and "已提交" in page and "需求受理（客户经理）" in page
    assert "new_install" not in page and "submitted" not in page
    detail = text(cmcc.get(f"/service-requests/{mine}"))
    assert "机房新增一条互联网专线" in detail and "已提交 · 运营商客户" in detail
    assert cmcc.get(f"/service-requests/{theirs}").status_code == 404
    assert signed_in("supervisor").get(f"/service-requests/{theirs}").status_code == 200
    assert signed_in("planner").get("/service-requests").status_code == 403


def test_every_new_route_hides_another_companys_demand(world, signed_in):
    demand_at(world, "XQ-21", "submitted", n=1)
    unicom = signed_in("unicom")
    for url in ("/demands/XQ-21", "/demands/XQ-21/cancel", "/demands/XQ-21/change"):
        assert unicom.get(url).status_code == 404, url
    assert unicom.post("/demands/XQ-21/cancel", data={"reason": "x"}).status_code == 404
    assert unicom.post("/demands/XQ-21/change", data={"reason": "x", "site_name": "y"}).status_code == 404
    assert status_of(world, "XQ-21") == "submitted" and messages_for(world, "XQ-21") == 0
    assert signed_in("planner").get("/demands/XQ-21/cancel").status_code == 403


def test_the_progress_api_gives_the_outcome_changes_and_refusal(world, api):
    demand_at(world, "XQ-31", "unplannable", n=9)
    demand_at(world, "XQ-32", "start_project", n=5)
    operator = api("cmcc_api2", ["operator"], tenant="china_mobile")
    body = operator.get("/api/v1/demands/XQ-31").json
    assert body["outcome"]["kind"] == "unplannable" and body["change_refusal"] == "unplannable"
    assert body["outcome"]["reason"] == "位于生态保护红线内，规划不允许建塔"
    body = operator.get("/api/v1/demands/XQ-32").json
    assert body["outcome"] is None and body["change_refusal"] == "order_confirmed" and body["changes"] == []
    r = operator.post("/api/v1/demands/XQ-32/cancel", json={"reason": "x"})
    assert r.status_code == 409 and r.json["error"]["details"]["reason"] == "order_confirmed"


def test_an_operator_enters_a_demand_in_the_page(world, signed_in):
    cmcc = signed_in("cmcc")
    assert "单个录入" in text(cmcc.get("/demands"))
    good = {"demand_no": "XQ-NEW-1", "province": "浙江省", "city": "杭州市", "county": "西湖区",
            "site_name": "西湖文化广场", "longitude": "120.16", "latitude": "30.27", "tower_type": "普通地面塔",
            "antenna_height": "35", "demand_type": "新建", "expected_delivery": "2027-05-01", "remarks": "",
            "operator": "中国联通"}  # ignored: an operator user enters its own company's demands
    r = cmcc.post("/demands/new", data={**good, "latitude": "99", "antenna_height": "-1"})
    assert r.status_code == 422
    page = text(r)
    assert "纬度必须在 3.8 到 53.6 之间（中国境内）。" in page and "必须是大于 0 的数字。" in page
    assert 'value="西湖文化广场"' in r.get_data(as_text=True)
    assert status_of(world, "XQ-NEW-1") is None
    r = cmcc.post("/demands/new", data=good)
    assert r.status_code == 302 and r.headers["Location"].endswith("/demands/XQ-NEW-1")
    with world.Session() as session:
        stored = session.scalar(select(Demand).where(Demand.demand_no == "XQ-NEW-1"))
    assert (stored.tenant, stored.status, stored.created_by) == ("china_mobile", "collected", "cmcc")
    r = cmcc.post("/demands/new", data=good)
    assert r.status_code == 422 and "需求 XQ-NEW-1 已存在于系统中。" in text(r)
    assert signed_in("supervisor").get("/demands/new").status_code == 403

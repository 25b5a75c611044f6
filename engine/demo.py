"""Demo data for ``towerflow demo``: a believable world seeded through the engine's own functions.

Operators as tenants, two cities of stored sites, demands spread over the stages of Flow 1, contracts
(some due for the expiry warning) and enterprise faults started through ``fault_dispatch`` and moved
to different steps by completing their tasks. A few faults are worked on a clock set hours back, so
their tasks are overdue at once and their escalation timers fire as soon as the server's clock runs.

Idempotent: when the marker demand is already stored, nothing is added.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from . import contracts, instances, jobs, sites, tasks
from .clock import Clock
from .demands import OPERATOR_NAMES, STATUSES, _demand, check_record
from .models import HumanTask, ProcessDefinition, ProcessInstance, Tenant
from .models_demands import Demand
from .principal import Principal

MARKER = "XQ-DEMO-0001"
FAULT_MARKER = "GZ-DEMO-0001"
REQUEST_MARKER = "SR-DEMO-0001"
NEGOTIATION_DEMAND = "XQ-DEMO-0006"  # its status is negotiating
TENANTS = ("china_mobile", "china_unicom", "china_telecom")

MANAGER = Principal("manager", frozenset({"customer_manager"}))
MONITOR = Principal("monitor", frozenset({"monitoring_center"}))
REPAIR = Principal("repair", frozenset({"maintenance"}))
REGIONAL = Principal("regional", frozenset({"regional_manager"}))
NEGOTIATOR = Principal("negotiator", frozenset({"negotiator"}))

# city -> (province, centre longitude, centre latitude, counties)
CITIES = {
    "杭州市": ("浙江省", 120.1551, 30.2741, ("西湖区", "上城区", "拱墅区", "滨江区", "余杭区")),
    "宁波市": ("浙江省", 121.5440, 29.8683, ("海曙区", "江北区", "鄞州区", "北仑区", "镇海区")),
}
SITE_PLACES = {
    "杭州市": ("文三路口", "黄龙体育中心", "武林广场", "钱江新城", "滨江网商路", "西溪湿地东", "未来科技城",
              "城西银泰", "之江大学城", "良渚文化村"),
    "宁波市": ("天一广场", "鼓楼", "东部新城", "南部商务区", "北仑港区", "镇海炼化东", "高新区菁华路",
              "老外滩", "鄞州万达", "慈城古镇"),
}
TOWER_TYPES = ("普通地面塔", "楼面抱杆", "灯杆塔", "景观塔", "楼面塔")
DEMAND_STATUSES = ("collected", "collected", "submitted", "confirmed", "accepted", "screening", "negotiating",
                   "order_compiling", "order_sent", "order_confirmed", "construction", "delivered",
                   "acceptance_confirmed", "unplannable", "cancelled")
CUSTOMERS = ("杭州市公安局", "浙江大学", "宁波舟山港集团", "杭州银行", "宁波市第一医院", "阿里巴巴西溪园区",
             "浙江省人民医院", "宁波银行", "杭州地铁集团", "吉利汽车宁波工厂")
CATEGORIES = ("bandwidth", "business_navigator_ict", "industry_application", "fixed_voice_vn", "fixed_voice_800")
LEVELS = ("group", "provincial", "local_a", "local_b", "local_c")
# the step each of the twenty faults is left at; the first five are worked hours in the past (overdue)
FAULT_STAGES = ("dispatched", "in_repair", "reported", "second_level", "awaiting_confirmation",
                "reported", "reported", "reported", "accepted", "accepted", "accepted",
                "dispatched", "dispatched", "in_repair", "in_repair", "second_level_repair",
                "awaiting_confirmation", "closed", "closed", "closed")
FAULT_TEXTS = ("专线中断，业务不通", "电路丢包严重", "语音业务无法呼入", "视频会议卡顿", "光缆疑似被挖断")
OVERDUE_FAULTS = 5
OVERDUE_BY = timedelta(hours=6)


class _Shifted(Clock):
    """The platform's clock moved back, to create work that is already overdue."""

    def __init__(self, base: Clock, delta: timedelta) -> None:
        self.base, self.delta = base, delta

    def now(self) -> datetime:
        return self.base.now() - self.delta


def already_seeded(platform) -> bool:
    with platform.Session() as session:
        return session.scalar(select(Demand.id).where(Demand.demand_no == MARKER)) is not None


def seed_world(platform, clock_now: datetime | None = None) -> dict[str, int]:
    """Seed the demo world once; returns what was added (all zero when it was already there).

    The demo users (``web.cli.DEMO_USERS``) must exist: they create the operator tenants."""
    now = clock_now or platform.clock.now()
    added = {"sites": 0, "demands": 0, "contracts": 0, "faults": 0, "service_requests": 0, "negotiations": 0}
    if already_seeded(platform):
        if _faults_wanted(platform):  # the processes were deployed after an earlier seeding
            added["faults"] = _seed_faults(platform, random.Random(20260402))
        if _wanted(platform, "service_request", REQUEST_MARKER):
            added["service_requests"] = _seed_requests(platform)
        if _wanted(platform, "site_negotiation", NEGOTIATION_DEMAND):
            added["negotiations"] = _seed_negotiation(platform)
        return added
    rnd = random.Random(20260401)
    with platform.transaction() as session:
        for tenant in TENANTS:
            row = session.get(Tenant, tenant)
            if row is None:
                session.add(Tenant(id=tenant, name=OPERATOR_NAMES[tenant]))
            elif row.name == tenant:
                row.name = OPERATOR_NAMES[tenant]
        added["sites"] = _seed_sites(session, rnd)
        added["contracts"] = _seed_contracts(session, now.date())
        added["demands"] = _seed_demands(session, rnd, now)  # the marker last: it commits with the rest
    if _faults_wanted(platform):
        added["faults"] = _seed_faults(platform, rnd)
    if _wanted(platform, "service_request", REQUEST_MARKER):
        added["service_requests"] = _seed_requests(platform)
    if _wanted(platform, "site_negotiation", NEGOTIATION_DEMAND):
        added["negotiations"] = _seed_negotiation(platform)
    return added


def _seed_negotiation(platform) -> int:
    """One site negotiation for the demand left at 选址谈判: planned, accepted, progress report open."""
    with platform.Session() as session:
        demand = session.scalar(select(Demand).where(Demand.demand_no == NEGOTIATION_DEMAND))
        inputs = {"demand_no": demand.demand_no, "site_name": demand.site_name, "longitude": demand.longitude,
                  "latitude": demand.latitude, "area_type": "urban", "cost_standard": 50000,
                  "customer_manager_phone": "13800571234"}
        tenant = demand.tenant
    iid = instances.start(platform, REGIONAL, "site_negotiation", NEGOTIATION_DEMAND, inputs, tenant=tenant)
    jobs.drain(platform, iid)
    _do_element(platform, REGIONAL, iid, "plan", {"negotiator": "negotiator", "plan": "先谈业主，再谈物业"})
    _do_element(platform, NEGOTIATOR, iid, "accept", {"comment": "收到，本周内上门"})
    with platform.transaction() as session:
        session.scalar(select(Demand).where(Demand.demand_no == NEGOTIATION_DEMAND)).instance_id = iid
    return 1


def _do_element(platform, actor: Principal, instance_id: int, element_id: str, data: dict[str, Any]) -> None:
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.state == "open", HumanTask.element_id == element_id))
    tasks.complete(platform, actor, task_id, data)
    jobs.drain(platform, instance_id)


def _wanted(platform, process_key: str, marker: str) -> bool:
    with platform.Session() as session:
        deployed = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == process_key))
        seeded = session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == marker))
    return deployed is not None and seeded is None


# (business key, operator user, tenant, kind, accepted by the customer manager)
REQUESTS = (
    ("SR-DEMO-0001", "cmcc", "china_mobile", "new_install", True, "机房新增一条互联网专线", "互联网专线 100M"),
    ("SR-DEMO-0002", "unicom", "china_unicom", "consultation", False, "咨询专线扩容资费", "互联网专线 200M"),
    ("SR-DEMO-0003", "telecom", "china_telecom", "fault_report", True, "营业厅专线时断时续", "数据专线 50M"),
    ("SR-DEMO-0004", "cmcc", "china_mobile", "complaint", False, "装机进度慢，要求说明", "互联网专线 100M"),
)


def _seed_requests(platform) -> int:
    for n, (key, user, tenant, kind, accepted, text, product) in enumerate(REQUESTS):
        customer = Principal(user, frozenset({"operator"}), tenant)
        iid = instances.start(platform, customer, "service_request", key, {
            "customer_name": CUSTOMERS[n + 3],
            "contact_name": "陈女士", "contact_phone": "13905710001", "description": text,
            "expected_date": (platform.clock.now() + timedelta(days=20)).date().isoformat(), "product": product,
            "request_kind": kind}, tenant=tenant)
        jobs.drain(platform, iid)
        if accepted:
            _do(platform, MANAGER, iid, "需求受理", {"accept_decision": "accept", "acceptance_note": "已受理"})
    return len(REQUESTS)


def _faults_wanted(platform) -> bool:
    """Faults need ``fault_dispatch`` deployed, and are seeded once (marked by the first business key)."""
    return _wanted(platform, "fault_dispatch", FAULT_MARKER)


def _seed_faults(platform, rnd: random.Random) -> int:
    real = platform.clock
    try:
        for n, stage in enumerate(FAULT_STAGES, start=1):
            platform.clock = _Shifted(real, OVERDUE_BY) if n <= OVERDUE_FAULTS else real
            _seed_fault(platform, rnd, n, stage)
    finally:
        platform.clock = real
    for _ in range(10):  # the overdue faults' escalation timers fire now, not at the first tick
        if not jobs.run_due_jobs(platform, limit=50):
            break
    return len(FAULT_STAGES)


def _seed_sites(session, rnd: random.Random) -> int:
    count = 0
    for c, (city, (_province, lon, lat, counties)) in enumerate(CITIES.items()):
        for i, place in enumerate(SITE_PLACES[city]):
            operators = rnd.sample(TENANTS, rnd.randint(1, 3))
            sites.add_site(session, f"{'HZ' if c == 0 else 'NB'}-{i + 1:04d}", f"{city[:2]}{place}",
                           round(lon + rnd.uniform(-0.08, 0.08), 6), round(lat + rnd.uniform(-0.06, 0.06), 6),
                           ("urban", "urban", "suburban", "rural")[i % 4], city=city, county=counties[i % 5],
                           tower_type=TOWER_TYPES[i % len(TOWER_TYPES)], operators=sorted(operators))
            count += 1
    return count


def _seed_contracts(session, today: date) -> int:
    rows = [("HT-2024-0107", "杭州市公安局", 12, "china_mobile"), ("HT-2024-0215", "浙江大学", 25, "china_telecom"),
            ("HT-2025-0033", "宁波舟山港集团", 90, "china_unicom"), ("HT-2025-0108", "杭州银行", 200, "china_mobile"),
            ("HT-2025-0230", "宁波市第一医院", 5, "china_telecom"), ("HT-2023-0412", "杭州地铁集团", -20, None)]
    for no, customer, days, tenant in rows:
        contracts.add_contract(session, contract_no=no, customer_name=customer, customer_manager="manager",
                               manager_phone="13800571234", expires_on=today + timedelta(days=days),
                               tenant=tenant, status="expired" if days < 0 else "active",
                               now=datetime.combine(today, datetime.min.time()))
    return len(rows)


def _seed_demands(session, rnd: random.Random, now: datetime) -> int:
    creator = Principal("manager", frozenset({"customer_manager"}))
    rows = []
    for n in range(40, 0, -1):  # the marker, number 1, is stored last
        city = ("杭州市", "宁波市")[n % 2]
        province, lon, lat, counties = CITIES[city]
        tenant = TENANTS[n % 3]
        record = {
            "demand_no": f"XQ-DEMO-{n:04d}", "operator": OPERATOR_NAMES[tenant], "province": province,
            "city": city, "county": counties[n % 5], "site_name": f"{counties[n % 5]}{rnd.choice('东西南北')}"
                                                                   f"{rnd.randint(1, 99)}号需求点",
            "longitude": round(lon + rnd.uniform(-0.1, 0.1), 6), "latitude": round(lat + rnd.uniform(-0.08, 0.08), 6),
            "tower_type": TOWER_TYPES[n % len(TOWER_TYPES)], "antenna_height": rnd.choice((25, 30, 35, 40, 45)),
            "demand_type": ("新建", "共享", "改造", "室分")[n % 4],
            "expected_delivery": (now + timedelta(days=30 + 7 * n)).date(), "remarks": "演示数据",
        }
        clean, errors = check_record(n + 1, record, creator)
        if errors:
            raise ValueError(f"demo demand {n}: {[e.as_dict() for e in errors]}")
        row = _demand(clean, creator, now - timedelta(days=n))
        row.status = DEMAND_STATUSES[n % len(DEMAND_STATUSES)]
        assert row.status in STATUSES
        rows.append(row)
    session.add_all(rows)
    session.flush()
    return len(rows)


def _open_task(platform, instance_id: int, title: str) -> int:
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.state == "open", HumanTask.title == title))
    if task_id is None:
        raise RuntimeError(f"demo: instance {instance_id} has no open task {title!r}")
    return task_id


def _do(platform, actor: Principal, instance_id: int, title: str, data: dict[str, Any]) -> None:
    tasks.complete(platform, actor, _open_task(platform, instance_id, title), data)
    jobs.drain(platform, instance_id)


def _seed_fault(platform, rnd: random.Random, n: int, stage: str) -> int:
    category = CATEGORIES[n % len(CATEGORIES)]
    report = {
        "customer_name": CUSTOMERS[n % len(CUSTOMERS)], "customer_level": LEVELS[n % len(LEVELS)],
        "business_category": category, "circuit_id": f"MPLS-VPN-0{571 if n % 2 else 574}-{1000 + n * 37}",
        "contact_phone": f"138{rnd.randint(10000000, 99999999)}",
        "description": rnd.choice(FAULT_TEXTS),
    }
    if category == "fixed_voice_800":
        report["customer_type_800"] = "brand_enterprise"
    channel = "self_found" if n % 3 == 0 else "on_behalf"
    starter = MONITOR if channel == "self_found" else MANAGER
    iid = instances.start(platform, starter, "fault_dispatch", f"GZ-DEMO-{n:04d}", {**report, "channel": channel},
                          tenant=TENANTS[n % 3])
    jobs.drain(platform, iid)
    steps = ("reported", "accepted", "dispatched", "in_repair", "second_level", "second_level_repair",
             "awaiting_confirmation", "closed")
    reach = steps.index(stage)
    if reach >= 1:
        _do(platform, MONITOR, iid, "受理故障", {**report, "acceptance_note": "已受理"})
    if reach >= 2:
        _do(platform, MONITOR, iid, "派单", {"first_level_team": rnd.choice(("西湖区传输一班", "鄞州区传输二班"))})
    if reach >= 3:
        _do(platform, REPAIR, iid, "一级接单", {"first_level_engineer": rnd.choice(("李工", "张工", "陈工"))})
    if stage in ("second_level", "second_level_repair"):
        _do(platform, REPAIR, iid, "一级处理",
            {"first_level_result": "to_second_level", "first_level_note": "需核心侧处理"})
        if stage == "second_level_repair":
            _do(platform, REPAIR, iid, "二级接单", {"second_level_engineer": "王工"})
    elif reach >= 6:
        _do(platform, REPAIR, iid, "一级处理", {"first_level_result": "repaired", "first_level_note": "更换光模块"})
        _do(platform, MONITOR, iid, "恢复确认", {"restoration_note": "告警已消除"})
        if stage == "closed":
            _do(platform, MANAGER, iid, "客户确认",
                {"customer_answer": "restored", "customer_feedback": "客户已确认恢复"})
    return iid


def counts(platform) -> dict[str, int]:
    """What the demo world holds (for the CLI's summary)."""
    with platform.Session() as session:
        return {"demands": session.scalar(select(func.count(Demand.id))),
                "open_tasks": session.scalar(select(func.count(HumanTask.id)).where(HumanTask.state == "open"))}

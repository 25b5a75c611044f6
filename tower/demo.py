"""Demo data for ``towerflow demo``: a believable world seeded through the engine's own functions.

Operators as tenants, two cities of stored sites, forty demands, contracts (some due for the expiry
warning) and enterprise faults started through ``fault_dispatch`` and moved to different steps by
completing their tasks. A few faults are worked on a clock set hours back, so their tasks are overdue
at once and their escalation timers fire as soon as the server's clock runs.

Every demand but the few left "collected" is submitted into Flow 1 (``tower_order``) and driven to
its stage by the demo users doing each step, so its status is the one the flow gives it (the mirror),
never set by hand. One demand's PMS project start fails for good, leaving an open incident.

Idempotent: the demands are stored once (marked by the first one), a demand's flow is started only
while it is still collected with no instance, and faults and requests only when their marker has none.
"""

from __future__ import annotations

import logging
import random
import struct
import zlib
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from engine.clock import Clock
from engine.models import HumanTask, Incident, Job, ProcessDefinition, ProcessInstance, Tenant
from engine.principal import SYSTEM, Principal
from engine.runtime import files, instances, jobs, messages, tasks
from tower import contracts, demand_flow, sites
from tower.demands import OPERATOR_NAMES, check_record, new_demand
from tower.models import Demand

MARKER = "XQ-DEMO-0001"
FAULT_MARKER = "GZ-DEMO-0001"
REQUEST_MARKER = "SR-DEMO-0001"
TENANTS = ("china_mobile", "china_unicom", "china_telecom")

# Sign-in names, groups, tenant and display name; `towerflow demo` creates them (password for all).
DEMO_PASSWORD = "towerflow"
DEMO_USERS = [
    ("admin", ["admin"], None, "平台管理员"),
    ("designer", ["designer"], None, "流程设计"),
    ("supervisor", ["supervisor"], None, "各级领导"),
    ("manager", ["customer_manager"], None, "客户经理"),
    ("planner", ["planning"], None, "规划支撑"),
    ("dispatcher", ["dispatcher"], None, "地市派单人"),
    ("regional", ["regional_manager"], None, "区域经理"),
    ("negotiator", ["negotiator"], None, "谈址人"),
    ("director", ["city_director"], None, "地市建维主任"),
    ("monitor", ["monitoring_center"], None, "监控中心"),
    ("repair", ["maintenance"], None, "维护班组"),
    ("cmcc", ["operator"], "china_mobile", "中国移动 运营商客户"),
    ("unicom", ["operator"], "china_unicom", "中国联通 运营商客户"),
    ("telecom", ["operator"], "china_telecom", "中国电信 运营商客户"),
]

# the demo users of DEMO_USERS, as the engine sees them
MANAGER = Principal("manager", frozenset({"customer_manager"}))
MONITOR = Principal("monitor", frozenset({"monitoring_center"}))
REPAIR = Principal("repair", frozenset({"maintenance"}))
PLANNER = Principal("planner", frozenset({"planning"}))
DISPATCHER = Principal("dispatcher", frozenset({"dispatcher"}))
REGIONAL = Principal("regional", frozenset({"regional_manager"}))
NEGOTIATOR = Principal("negotiator", frozenset({"negotiator"}))
OPERATORS = {tenant: Principal(user, frozenset({"operator"}), tenant)
             for tenant, user in (("china_mobile", "cmcc"), ("china_unicom", "unicom"), ("china_telecom", "telecom"))}

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
# Where each demo demand (XQ-DEMO-0001 first) is driven in Flow 1; see ROUTES. "collected" is never submitted.
DEMAND_STAGES = (
    "collected", "submitted", "confirmed", "accepted", "dispatch_screening", "negotiation_plan", "compile_order",
    "order_sent", "start_project", "construction", "delivered", "acceptance_confirmed", "unplannable", "cancelled",
    "collected", "submitted", "confirmed", "accepted", "screening", "negotiation_cost", "modify_order",
    "order_sent", "pms_incident", "delivery", "delivered", "acceptance_confirmed", "negotiation_failed",
    "order_cancelled",
    "collected", "submitted", "confirmed", "accepted", "confirm_screening", "negotiation_report", "compile_order",
    "start_project", "construction", "delivered", "acceptance_confirmed", "collected",
)
# the steps of a demand that goes all the way, in order (names of _FlowDriver's methods)
MAIN_PATH = ("confirm_demand", "accept_demand", "integrate", "dispatch_screening", "screening", "confirm_screening",
             "compile_order", "confirm_order", "start_project", "construction_completed", "delivery",
             "confirm_acceptance")


def _upto(step: str) -> tuple[str, ...]:
    return MAIN_PATH[:MAIN_PATH.index(step) + 1]


_NEGOTIATION = _upto("dispatch_screening") + ("screening_failed", "plan")
# stage -> the steps done after submission; the last open task is the stage's
ROUTES = {
    "submitted": (),
    "confirmed": _upto("confirm_demand"),
    "accepted": _upto("accept_demand"),
    "unplannable": _upto("accept_demand") + ("integrate_unplannable",),
    "cancelled": _upto("accept_demand") + ("operator_cancel",),
    "dispatch_screening": _upto("integrate"),
    "screening": _upto("dispatch_screening"),
    "confirm_screening": _upto("screening"),
    "negotiation_plan": _upto("dispatch_screening") + ("screening_failed",),
    "negotiation_report": _NEGOTIATION + ("accept",),
    "negotiation_cost": _NEGOTIATION + ("accept", "report_costly", "cost_request"),
    "negotiation_failed": _NEGOTIATION + ("accept", "report_failed", "notify_fail"),
    "compile_order": _upto("confirm_screening"),
    "modify_order": _upto("confirm_screening") + ("save_order",),
    "order_cancelled": _upto("confirm_screening") + ("cancel_order",),
    "order_sent": _upto("compile_order"),
    "start_project": _upto("confirm_order"),
    "pms_incident": _upto("confirm_order") + ("start_project_pms_down",),
    "construction": _upto("start_project"),
    "delivery": _upto("construction_completed"),
    "delivered": _upto("delivery"),
    "acceptance_confirmed": _upto("confirm_acceptance"),
}
PMS_DOWN = "http://127.0.0.1:9/"  # nothing listens on the discard port: every call is refused at once
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

    The demo users (``DEMO_USERS``) must exist: they create the operator tenants. What needs
    a process (Flow 1 for the demands, faults, requests) waits until that process is deployed."""
    now = clock_now or platform.clock.now()
    added = {"sites": 0, "demands": 0, "contracts": 0, "demand_flows": 0, "faults": 0, "service_requests": 0}
    if not already_seeded(platform):
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
    added["demand_flows"] = _seed_demand_flows(platform)
    if _faults_wanted(platform):
        added["faults"] = _seed_faults(platform, random.Random(20260402))
    if _wanted(platform, "service_request", REQUEST_MARKER):
        added["service_requests"] = _seed_requests(platform)
    return added


# --- Flow 1: the demands' instances ------------------------------------------------------------------


def _deployed(platform, *process_keys: str) -> bool:
    with platform.Session() as session:
        found = set(session.scalars(select(ProcessDefinition.key).where(ProcessDefinition.key.in_(process_keys))))
    return found == set(process_keys)


def _seed_demand_flows(platform) -> int:
    """Submit each demo demand meant to be beyond "collected" and not submitted yet, and drive its
    flow to its stage; returns how many flows were started.

    Each flow is worked on a clock set back, a few hours per step, ending a little before now: the
    progress pages and cycle times show a history, while no open step is overdue yet."""
    if not _deployed(platform, demand_flow.PROCESS_KEY, "site_negotiation", "difficult_site"):
        return 0  # Flow 1 calls Flow 2 on a failed screening, and Flow 2 calls Flow 3
    wanted = {f"XQ-DEMO-{n:04d}": (n, stage) for n, stage in enumerate(DEMAND_STAGES, start=1)
              if stage != "collected"}
    with platform.transaction() as session:
        # a demo seeded before Flow 1 existed set statuses by hand (one pointed at a lone Flow 2): start afresh
        flows = select(ProcessInstance.id).where(ProcessInstance.process_key == demand_flow.PROCESS_KEY)
        session.execute(update(Demand).where(
            Demand.demand_no.like("XQ-DEMO-%"), Demand.status != "collected",
            Demand.instance_id.is_(None) | Demand.instance_id.not_in(flows)).values(status="collected",
                                                                                instance_id=None))
        waiting = list(session.scalars(select(Demand.demand_no).where(
            Demand.demand_no.in_(wanted), Demand.status == "collected", Demand.instance_id.is_(None))
            .order_by(Demand.demand_no)))
    real = platform.clock
    try:
        for demand_no in waiting:
            n, stage = wanted[demand_no]
            route = ROUTES[stage]
            # a step every 5 to 17 hours, all after the demand was stored (n days ago)
            gap = min(timedelta(hours=5 + n * 7 % 13), timedelta(days=n) / (len(route) + 2))
            back = gap * (len(route) + 1)
            platform.clock = _Shifted(real, back)
            instance_id = demand_flow.submit(platform, MANAGER, [demand_no], "13800571234")[0]["instance_id"]
            jobs.drain(platform, instance_id)
            driver = _FlowDriver(platform, demand_no, n, instance_id)
            for step in route:
                back -= gap
                platform.clock = _Shifted(real, back)
                getattr(driver, step)()
    finally:
        platform.clock = real
    return len(waiting)


def _png() -> bytes:
    """A small grey picture, standing in for a scanned acceptance form (files are checked by content)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xc0" * 16 for _ in range(16))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class _FlowDriver:
    """One demand's Flow 1 instance, moved on step by step by the user whose step it is."""

    def __init__(self, platform, demand_no: str, n: int, instance_id: int) -> None:
        self.platform, self.no, self.n, self.iid = platform, demand_no, n, instance_id
        with platform.Session() as session:
            demand = session.scalar(select(Demand).where(Demand.demand_no == demand_no))
            self.tenant, self.site_name = demand.tenant, demand.site_name
            self.site_code = f"{'HZ' if demand.city == '杭州市' else 'NB'}-{n % 10 + 1:04d}"
        self.operator = OPERATORS[self.tenant]
        self.shares = n % 2 == 0  # every other demand shares a stored site, the rest get a new one

    @property
    def today(self) -> date:
        return self.platform.clock.now().date()  # the clock of the step being done

    def _do(self, actor: Principal, element_id: str, data: dict[str, Any]) -> None:
        _do_element(self.platform, actor, self.iid, element_id, data)

    def _confirm(self, element_id: str) -> None:
        self._do(self.operator, element_id, {"confirmed": True, "confirm_comment": "确认"})

    def confirm_demand(self) -> None:
        self._confirm("confirm_demand")
        with self.platform.Session() as session:  # China Unicom's headquarters approve its demands too
            hq = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == self.iid,
                                                           HumanTask.state == "open",
                                                           HumanTask.element_id == "hq_approval"))
        if hq is not None:
            self._confirm("hq_approval")

    def accept_demand(self) -> None:
        self._do(MANAGER, "accept_demand", {"comment": "基础数据无误，承接"})

    def integrate(self) -> None:
        self._do(PLANNER, "integrate", {"integration_result": "share_existing" if self.shares else "new_site",
                                        "area_type": ("urban", "suburban", "rural")[self.n % 3]})

    def integrate_unplannable(self) -> None:
        self._do(PLANNER, "integrate", {"integration_result": "unplannable",
                                        "unplannable_reason": "位于生态保护红线内，规划不允许建塔"})

    def operator_cancel(self) -> None:
        demand_flow.cancel(self.platform, self.operator, self.no, "运营商调整建设计划，取消该需求",
                           message_id=f"demo-cancel-{self.no}")
        jobs.drain(self.platform, self.iid)

    def dispatch_screening(self) -> None:
        self._do(DISPATCHER, "dispatch_screening", {"screening_days": 3, "screening_note": "请三日内完成筛查"})

    def screening(self) -> None:
        found = {"build_mode": "share_existing", "site_code": self.site_code} if self.shares else {
            "build_mode": "new_site"}
        self._do(REGIONAL, "screening", {"screening_result": "success", "survey_note": "现场勘察满足建设条件",
                                         **found})

    def screening_failed(self) -> None:
        self._do(REGIONAL, "screening", {"screening_result": "failure", "survey_note": "周边无可用站址，需选址谈判"})

    def plan(self) -> None:
        self._do(REGIONAL, "plan", {"negotiator": NEGOTIATOR.username, "plan": "先谈业主，再谈物业"})

    def accept(self) -> None:
        self._do(NEGOTIATOR, "accept", {"comment": "收到，本周内上门"})

    def report_costly(self) -> None:
        """Agreed above the cost standard: the negotiator must ask the city director."""
        self._do(NEGOTIATOR, "report", {"progress_outcome": "success", "site_code": f"{self.site_code}-N",
                                        "lessor": "小区物业公司", "contract_no": f"ZL-DEMO-{self.n:04d}",
                                        "agreed_cost": 68000, "lease_years": 5})

    def cost_request(self) -> None:
        self._do(NEGOTIATOR, "cost_request", {"exceed_reason": "业主要价高于标准，周边无替代站址"})

    def report_failed(self) -> None:
        self._do(NEGOTIATOR, "report", {"progress_outcome": "failure", "progress_note": "业主拒绝出租楼顶"})

    def notify_fail(self) -> None:
        self._do(MANAGER, "notify_fail", {"comment": "已知悉，告知运营商"})

    def confirm_screening(self) -> None:
        self._confirm("confirm_screening")

    def _order(self, action: str, **extra: Any) -> None:
        order = {"order_no": f"DD-DEMO-{self.n:04d}", "build_mode": "share_existing" if self.shares else "new_site",
                 "site_code": self.site_code if self.shares else None, "share_count": 2 if self.shares else 1,
                 "annual_fee": f"{30000 + 1500 * self.n}.00", "order_action": action, **extra}
        self._do(MANAGER, "compile_order", order)

    def compile_order(self) -> None:
        self._order("send")

    def save_order(self) -> None:
        self._order("save")

    def cancel_order(self) -> None:
        self._order("cancel", order_note="运营商预算调整，订单取消")

    def confirm_order(self) -> None:
        self._confirm("confirm_order")

    def _project(self) -> dict[str, Any]:
        return {"project_name": f"{self.site_name}建设", "planned_start": self.today + timedelta(days=14),
                "planned_finish": self.today + timedelta(days=60)}

    def start_project(self) -> None:
        self._do(REGIONAL, "start_project", self._project())

    def start_project_pms_down(self) -> None:
        """The PMS project start fails at every attempt (nothing answers at its URL): an incident."""
        saved = self.platform.settings
        quiet = logging.getLogger("engine.runtime.jobs")
        level = quiet.level
        self.platform.settings = saved.with_changes(systems={**saved.systems, "pms": PMS_DOWN})
        quiet.setLevel(logging.WARNING)  # the failures are meant: no tracebacks on the console
        try:
            tasks.complete(self.platform, REGIONAL, _open_element(self.platform, self.iid, "start_project"),
                           self._project())
            for _ in range(20):  # each failed attempt waits for its backoff: make it due now
                with self.platform.transaction() as session:
                    job = session.scalar(select(Job).where(Job.instance_id == self.iid, Job.kind == "service",
                                                           Job.state == "pending"))
                    if job is None:
                        break
                    job.due_at = self.platform.clock.now()
                jobs.run_due_jobs(self.platform, instance_id=self.iid)
        finally:
            quiet.setLevel(level)
            self.platform.settings = saved
        with self.platform.Session() as session:
            if session.scalar(select(Incident.id).where(Incident.instance_id == self.iid,
                                                        Incident.state == "open")) is None:
                raise RuntimeError(f"demo: the PMS call of {self.no} did not fail; is something listening "
                                   f"at {PMS_DOWN}?")

    def construction_completed(self) -> None:
        messages.deliver(self.platform, SYSTEM, "construction_completed", f"demo-pms-done-{self.no}",
                         business_key=self.no, payload={"internal_acceptance": "passed"})
        jobs.drain(self.platform, self.iid)

    def delivery(self) -> None:
        task_id = _open_element(self.platform, self.iid, "delivery")
        scan = files.store(self.platform, MANAGER, "scans", files.Upload("交付验收单.png", _png()),
                           files.Limits(1024 * 1024, ("image/*",)), instance_id=self.iid, task_id=task_id)
        self._do(MANAGER, "delivery", {"delivered_on": self.today.isoformat(), "scans": [scan],
                                       "delivery_note": "竣工资料齐全"})

    def confirm_acceptance(self) -> None:
        self._confirm("confirm_acceptance")


def _open_element(platform, instance_id: int, element_id: str) -> int:
    with platform.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.state == "open", HumanTask.element_id == element_id))
    if task_id is None:
        raise RuntimeError(f"demo: instance {instance_id} has no open task {element_id!r}")
    return task_id


def _do_element(platform, actor: Principal, instance_id: int, element_id: str, data: dict[str, Any]) -> None:
    tasks.complete(platform, actor, _open_element(platform, instance_id, element_id), data)
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
    for n in range(len(DEMAND_STAGES), 0, -1):  # the marker, number 1, is stored last
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
        rows.append(new_demand(clean, creator, now - timedelta(days=n)))  # collected; Flow 1 moves it on
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

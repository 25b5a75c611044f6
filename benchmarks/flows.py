"""The flows the benchmarks drive: which process, who starts it, and which tasks to complete.

A flow is data, so the benchmarks run any diagram: the step-cost and throughput benchmarks
take a ``Flow``; ``default_flow()`` picks Flow 1 (tower order, driven as
tests/flows/test_flow_tower_order.py drives it) when its diagram exists, else the site negotiation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import ROOT

PROCESSES = ROOT / "processes"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # the scan uploaded for file fields


@dataclass(frozen=True)
class Step:
    """One thing done to a running instance.

    ``kind == "task"``: complete the open user task ``element_id`` as ``user`` with ``data``;
    the file fields in ``uploads`` get a scan uploaded first (untimed), its id in a list.
    ``kind == "message"``: ``user`` delivers the message named ``element_id`` to the instance
    (by business key) with ``data`` as its payload.
    String values may hold ``{bk}``, replaced by the instance's business key.
    """

    element_id: str
    user: str
    data: dict[str, Any] = field(default_factory=dict)
    kind: str = "task"
    uploads: tuple[str, ...] = ()

    def render(self, business_key: str) -> dict[str, Any]:
        return {k: v.replace("{bk}", business_key) if isinstance(v, str) else v for k, v in self.data.items()}


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    longitude: float
    latitude: float
    area_type: str = "urban"


@dataclass(frozen=True)
class Flow:
    key: str
    files: tuple[Path, ...]
    users: dict[str, tuple[list[str], str | None]]  # username -> (groups, tenant)
    starter: str
    start_variables: dict[str, Any]
    steps: tuple[Step, ...]
    service_tasks: int = 0  # service tasks one instance runs to its end (checked in the audit log)
    description: str = ""
    demand: bool = False  # started by entering a demand and submitting it (Flow 1), not POST /process-instances
    sites: tuple[Site, ...] = ()  # stored in the site library before the run
    raw_results: dict[str, Any] = field(default_factory=dict)  # service operator -> result for the raw engine

    def deploy_files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self.files}

    @property
    def task_steps(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "task"]

    def demand_record(self, business_key: str) -> dict[str, Any]:
        """The demand entered for one instance: its own number and its own point near the site."""
        lon, lat = next_point(self.sites[0] if self.sites else None)
        return {**self.start_variables, "demand_no": business_key, "site_name": f"玄武湖站 {business_key}",
                "longitude": lon, "latitude": lat}

    def raw_variables(self, business_key: str) -> dict[str, Any]:
        """What the instance starts with (for the raw engine): the variables, or those
        ``engine.demand_flow.submit`` passes for the demand."""
        if not self.demand:
            return dict(self.start_variables)
        record = self.demand_record(business_key)
        return {**{k: v for k, v in record.items() if k != "operator"}, "operator": TENANT,
                "customer_manager": self.starter, "customer_manager_phone": ""}


# --- Flow 2: site negotiation -------------------------------------------------------------------

NEGOTIATION_START = {"demand_no": "D-BENCH", "site_name": "文三路站", "longitude": 120.13, "latitude": 30.28,
                     "area_type": "urban", "cost_standard": 50000, "customer_manager_phone": "13800000001"}
NEGOTIATION_USERS = {"bench_regional": (["regional_manager"], None), "bench_negotiator": (["negotiator"], None)}
AGREED = {"progress_outcome": "success", "site_code": "S-BENCH-1", "lessor": "业主", "contract_no": "HT-1",
          "agreed_cost": 42000, "lease_years": 5}


def negotiation_flow(reports: int = 3) -> Flow:
    """Flow 2: plan, accept, ``reports`` progress reports "in progress", then agreed (one service task)."""
    steps = [Step("plan", "bench_regional", {"negotiator": "bench_negotiator", "plan": "先谈业主"}),
             Step("accept", "bench_negotiator", {"comment": "收到"})]
    steps += [Step("report", "bench_negotiator", {"progress_outcome": "in_progress", "progress_note": "业主考虑中"})
              for _ in range(reports)]
    steps.append(Step("report", "bench_negotiator", AGREED))
    return Flow(key="site_negotiation",
                files=(PROCESSES / "site_negotiation.bpmn", PROCESSES / "difficult_site.bpmn"),
                users=NEGOTIATION_USERS, starter="bench_regional", start_variables=NEGOTIATION_START,
                steps=tuple(steps), service_tasks=1,
                description=f"site_negotiation: plan, accept, {reports}x progress report, agreed, contract sync")


def loop_step() -> Step:
    """One more turn of the negotiation's progress-report loop."""
    return Step("report", "bench_negotiator", {"progress_outcome": "in_progress", "progress_note": "业主考虑中"})


# --- Flow 1: tower order ------------------------------------------------------------------------

TENANT = "china_mobile"
SITE = Site("NJ-XW-0007", "玄武湖公园站", 118.7969, 32.0603)
TOWER_USERS = {
    "bench_manager": (["customer_manager"], None),
    "bench_operator": (["operator"], TENANT),
    "bench_planner": (["planning"], None),
    "bench_dispatcher": (["dispatcher"], None),
    "bench_regional": (["regional_manager"], None),
    "bench_pms": (["supervisor"], None),  # PMS reporting the construction done
}
DEMAND = {"operator": "中国移动", "province": "江苏省", "city": "南京市", "county": "玄武区",
          "tower_type": "普通地面塔", "antenna_height": 35, "demand_type": "新建",
          "expected_delivery": "2027-03-01", "remarks": "业主已初步同意"}
ORDER = {"order_no": "DD-{bk}", "build_mode": "share_existing", "site_code": SITE.code, "share_count": 2,
         "annual_fee": "36000.50"}
CONFIRM = {"confirmed": True, "confirm_comment": ""}

# Demands of one operator may not lie within 1 m of each other, and all must be within the
# urban radius (100 m) of SITE so the site library finds it: a grid of 90 x 90 points about
# 1.4 m apart, at most 91 m from the site. Each demand takes the next point.
GRID = 90
STEP_LON, STEP_LAT = 0.000015, 0.000013
_points = itertools.count()


def next_point(site: Site | None) -> tuple[float, float]:
    n = next(_points) % (GRID * GRID)
    lon0, lat0 = (site.longitude, site.latitude) if site else (118.7969, 32.0603)
    return (round(lon0 + (n % GRID - GRID // 2) * STEP_LON, 7), round(lat0 + (n // GRID - GRID // 2) * STEP_LAT, 7))


def tower_order_flow() -> Flow | None:
    """Flow 1 the whole way, as ``test_the_whole_flow_from_submission_to_acceptance`` drives it:
    sharing a stored site, the order saved then sent from 订单修改, PMS, the construction
    message, delivery with a scan, acceptance; 12 user tasks, 5 service tasks, 1 message."""
    if not (PROCESSES / "tower_order.bpmn").exists():
        return None
    steps = (
        Step("confirm_demand", "bench_operator", CONFIRM),
        Step("accept_demand", "bench_manager", {"comment": "基础数据无误"}),
        Step("integrate", "bench_planner", {"integration_result": "share_existing", "area_type": "urban"}),
        Step("dispatch_screening", "bench_dispatcher", {"screening_days": 3, "screening_note": "请尽快"}),
        Step("screening", "bench_regional", {"screening_result": "success", "build_mode": "share_existing",
                                             "site_code": SITE.code, "survey_note": "塔体可承载"}),
        Step("confirm_screening", "bench_operator", CONFIRM),
        Step("compile_order", "bench_manager", {**ORDER, "order_action": "save"}),
        Step("modify_order", "bench_manager", {**ORDER, "annual_fee": "35000", "order_action": "send"}),
        Step("confirm_order", "bench_operator", CONFIRM),
        Step("start_project", "bench_regional", {"project_name": "{bk} 共享改造", "planned_start": "2027-01-05",
                                                 "planned_finish": "2027-02-20"}),
        Step("construction_completed", "bench_pms", {"internal_acceptance": "passed"}, kind="message"),
        Step("delivery", "bench_manager", {"delivered_on": "2027-02-25"}, uploads=("scans",)),
        Step("confirm_acceptance", "bench_operator", CONFIRM),
    )
    return Flow(key="tower_order",
                files=(PROCESSES / "tower_order.bpmn", PROCESSES / "site_negotiation.bpmn",
                       PROCESSES / "difficult_site.bpmn"),
                users=TOWER_USERS, starter="bench_manager", start_variables=DEMAND, steps=steps,
                service_tasks=5, demand=True, sites=(SITE,),
                description="tower_order (Flow 1): demand entered and submitted; confirm_demand, accept_demand, "
                            "integrate (share_existing; site library search), dispatch_screening, screening "
                            "(success, share the stored site), confirm_screening, compile_order (save), "
                            "modify_order (send; notify), confirm_order, start_project (PMS), message "
                            "construction_completed, delivery (scan uploaded first; notify), confirm_acceptance "
                            "(billing)")


def default_flow() -> Flow:
    return tower_order_flow() or negotiation_flow()

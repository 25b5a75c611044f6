"""The flows the benchmarks drive: which process, who starts it, and which tasks to complete.

A flow is data, so the benchmarks run any diagram: the step-cost and throughput benchmarks
take a ``Flow``; ``default_flow()`` picks Flow 1 (tower order) when its diagram and a step list
for it exist, else the site negotiation with its progress-report loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import ROOT

PROCESSES = ROOT / "processes"


@dataclass(frozen=True)
class Step:
    """Complete the open task ``element_id`` as ``user`` with ``data``."""

    element_id: str
    user: str
    data: dict[str, Any] = field(default_factory=dict)


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

    def deploy_files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self.files}


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


def tower_order_flow() -> Flow | None:
    """Flow 1 (tower order) when processes/tower_order.bpmn exists and its steps are known here."""
    if not (PROCESSES / "tower_order.bpmn").exists():
        return None
    return TOWER_ORDER


# Filled in once processes/tower_order.bpmn and tests/test_flow_tower_order.py exist.
TOWER_ORDER: Flow | None = None


def default_flow() -> Flow:
    return tower_order_flow() or negotiation_flow()

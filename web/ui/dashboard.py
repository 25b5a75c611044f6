"""The supervisors' dashboard: open work, overdue tasks, SLA compliance and cycle times.

The numbers come from ``engine.stats``; this module only labels them. The page embeds the
chart data as JSON for ``static/dashboard.js`` (Apache ECharts) and shows the same numbers
as tables, so it is readable without JavaScript or when ECharts is not installed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.queries import stats

from ..assets import VENDOR_FILES, missing_assets
from ..labels import group_label
from .helpers import platform, principal, require_groups
from .replica_notice import read_lagging

bp = Blueprint("dashboard", __name__)

STATE_LABELS = {
    "running": _l("Running"),
    "waiting": _l("Waiting"),
    "suspended": _l("Suspended"),
    "error": _l("Incident"),
}
INSTANCE_PAGE_ENDPOINTS = ("instances.detail", "instances.show")  # whichever the instances area names it
COLORS = {"running": "#0b5cab", "waiting": "#7fb5ea", "suspended": "#b7791f", "error": "#c62828",
          "on_time": "#1a7f37", "late": "#c62828", "unclaimed": "#b7791f", "claimed": "#0b5cab",
          "median": "#0b5cab", "p90": "#7fb5ea"}


@bp.get("/dashboard")
@require_groups("supervisor")
def index():
    pf = platform()
    actor, now = principal(), pf.clock.now()
    data = read_lagging(lambda session: stats.dashboard(session, actor, now))  # the replica's, when set
    names = data["process_names"]
    return render_template(
        "dashboard/index.html", data=data, charts=chart_data(data),
        echarts_missing=VENDOR_FILES["echarts.js"] in missing_assets(),
        state_labels=STATE_LABELS, states=_states(data["open_instances"]),
        instance_table=_instance_table(data["open_instances"]),
        process_label=lambda key: names.get(key) or key, group_label=group_label,
        duration=format_duration, when=format_time, instance_url=instance_url,
        summary=_summary(data))


def chart_data(data: dict[str, Any]) -> dict[str, Any]:
    """What dashboard.js draws: one spec per chart, every label already translated."""
    names = data["process_names"]
    return {
        "labels": {"noData": _("No data."),
                   "missing": _("Charts cannot be drawn because ECharts is not loaded; the numbers are in the "
                                "table below.")},
        "charts": {
            "instances": _instances_chart(data["open_instances"], names),
            "tasks": _tasks_chart(data["open_tasks"]),
            "sla_processes": _sla_chart(data["sla_processes"], lambda row: names.get(row["process_key"])
                                        or row["process_key"]),
            "sla_steps": _sla_chart(data["sla_steps"], lambda row: _step_label(row, names)),
            "cycle_times": _cycle_chart(data["cycle_times"], names),
        },
    }


def _instances_chart(rows: list[dict], names: dict[str, str]) -> dict[str, Any]:
    keys = sorted({row["process_key"] for row in rows})
    counts = {(row["process_key"], row["state"]): row["count"] for row in rows}
    series = [_series(str(STATE_LABELS[state]), [counts.get((key, state), 0) for key in keys], state)
              for state in _states(rows)]
    return {"categories": [names.get(key) or key for key in keys], "series": series, "stacked": True,
            "integer": True}


def _tasks_chart(rows: list[dict]) -> dict[str, Any]:
    return {"categories": [group_label(row["group"]) for row in rows], "stacked": True, "integer": True,
            "series": [_series(_("Unclaimed"), [row["unclaimed"] for row in rows], "unclaimed"),
                       _series(_("Claimed"), [row["claimed"] for row in rows], "claimed")]}


def _sla_chart(rows: list[dict], label) -> dict[str, Any]:
    return {"categories": [label(row) for row in rows], "stacked": True, "integer": True,
            "series": [_series(_("On time"), [row["on_time"] for row in rows], "on_time"),
                       _series(_("Late"), [row["late"] for row in rows], "late")]}


def _cycle_chart(rows: list[dict], names: dict[str, str]) -> dict[str, Any]:
    """Durations in hours, or minutes when every step takes under two hours."""
    longest = max((row["p90_seconds"] for row in rows), default=0)
    divisor, unit = (60, _("minutes")) if longest < 7200 else (3600, _("hours"))
    return {"categories": [_step_label(row, names) for row in rows], "stacked": False, "unit": unit,
            "series": [_series(_("Median"), [round(row["median_seconds"] / divisor, 1) for row in rows], "median"),
                       _series(_("90th percentile"), [round(row["p90_seconds"] / divisor, 1) for row in rows],
                               "p90")]}


def _series(name: str, values: list, color: str) -> dict[str, Any]:
    return {"name": name, "data": values, "color": COLORS[color]}


def _step_label(row: dict, names: dict[str, str]) -> str:
    return f"{names.get(row['process_key']) or row['process_key']} / {row.get('title') or row['element_id']}"


def _states(rows: list[dict]) -> list[str]:
    """The open states present, in the order the engine's docs list them."""
    present = {row["state"] for row in rows}
    return [state for state in stats.OPEN_INSTANCE_STATES if state in present]


def _instance_table(rows: list[dict]) -> list[dict[str, Any]]:
    """One row per process: count per state and the total."""
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = table.setdefault(row["process_key"], {"process_key": row["process_key"], "counts": {}, "total": 0})
        entry["counts"][row["state"]] = row["count"]
        entry["total"] += row["count"]
    return [table[key] for key in sorted(table)]


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    total = sum(row["total"] for row in data["sla_processes"])
    on_time = sum(row["on_time"] for row in data["sla_processes"])
    return {
        "open_instances": sum(row["count"] for row in data["open_instances"]),
        "overdue": data["overdue_count"],
        "sla_percent": round(100.0 * on_time / total, 1) if total else None,
        "sla_total": total,
    }


def format_duration(seconds: float | None) -> str:
    """A duration people read at a glance: minutes, hours and minutes, or days and hours."""
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    if minutes < 1:
        return _("under 1 min")
    if minutes < 60:
        return _("%(m)d min", m=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(h)d h %(m)d min", h=hours, m=minutes)
    days, hours = divmod(hours, 24)
    return _("%(d)d d %(h)d h", d=days, h=hours)


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") + " UTC" if value else "-"


def instance_url(instance_id: int) -> str | None:
    """A link to the instance page (/instances/<id>) when that page area is installed, else None."""
    for endpoint in INSTANCE_PAGE_ENDPOINTS:
        rules = [rule for rule in current_app.url_map.iter_rules() if rule.endpoint == endpoint]
        if len(rules) == 1 and len(rules[0].arguments) == 1:
            (argument,) = rules[0].arguments
            return url_for(endpoint, **{argument: instance_id})
    return None

"""Profiles for the report: pyinstrument (the ``bench`` extra) when it is installed."""

from __future__ import annotations

from collections.abc import Callable

MAX_LINES = 60


def profile(fn: Callable[[], object], max_lines: int = MAX_LINES, flat: bool = False,
            interval: float = 0.001) -> str:
    """Run ``fn`` under pyinstrument and return the top of its call tree (or, ``flat``, of the
    functions by their own time: deep recursion makes a tree unreadable) as text."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        fn()
        return "(pyinstrument is not installed: `pip install -e '.[bench]'`)"
    profiler = Profiler(interval=interval)
    profiler.start()
    try:
        fn()
    finally:
        profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False, flat=flat)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more lines)"]
    return "\n".join(lines)

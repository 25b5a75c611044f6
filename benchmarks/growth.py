"""Point 5 / issue 16 point 6: how the cost of a step and the bytes written grow in a looping
instance."""

from __future__ import annotations

import json
import sys
import time

from SpiffWorkflow.util.task import TaskState

from .common import Section, db_label, log, median, ms, ratio
from .flows import loop_step, negotiation_flow
from .profiling import profile
from .step_cost import EngineDriver, prepare


def growth(url: str, checkpoints: tuple[int, ...], section: Section, window: int = 5) -> dict[int, dict[str, float]]:
    """Drive the negotiation's progress-report loop to the last checkpoint through the engine API."""
    from engine.definitions.serialization import workflow_from_json, workflow_to_json
    from engine.models import ProcessInstance
    from engine.runtime.workflow import find_task, run_engine_steps

    flow = negotiation_flow(reports=0)
    platform, _tokens, definition_id = prepare(url, flow)
    eng = EngineDriver(platform, flow)
    iid, _ = eng.start("BENCH-GROWTH")
    for step in flow.steps[:2]:  # plan and accept; the report loop is open now
        eng.step(iid, step)
    step = loop_step()
    costs: dict[int, float] = {}
    results: dict[int, dict[str, float]] = {}
    with platform.Session() as session:
        specs = platform.specs(session, definition_id)  # the spec objects the platform keeps per version
    limit_hit = None
    for i in range(1, max(checkpoints) + 1):
        try:
            costs[i], _ = eng.step(iid, step)
        except RecursionError:
            # SpiffWorkflow walks the task tree recursively (Join._find_tasks -> Task.is_descendant_of);
            # past ~1,000 levels Python refuses. Note it, then go on with a higher limit to measure further.
            limit_hit = i
            sys.setrecursionlimit(20_000)
            costs[i], _ = eng.step(iid, step)
        if i in checkpoints:
            with platform.Session() as session:
                row = session.get(ProcessInstance, iid)
                state = row.workflow_json
                parsed = json.loads(state)
                tasks_in_state = len(parsed.get("tasks", {})) + sum(
                    len(sub.get("tasks", {})) for sub in parsed.get("subprocesses", {}).values())
            # the same step in memory only (platform (de)serialization, no database)
            mem = []
            for _ in range(window):
                t0 = time.perf_counter()
                wf = workflow_from_json(state, specs)
                wf.script_engine = platform.script_engine()
                task = next(t for t in [*wf.tasks.values(), *(x for s in wf.subprocesses.values()
                                                               for x in s.tasks.values())]
                            if t.state == TaskState.READY and t.task_spec.bpmn_id == "report")
                task = find_task(wf, str(task.id))
                task.set_data(progress_outcome="in_progress", progress_note="x")
                task.run()
                run_engine_steps(wf)
                workflow_to_json(wf)
                mem.append(time.perf_counter() - t0)
            last = [costs[k] for k in range(max(1, i - window + 1), i + 1)]
            results[i] = {"cost": median(last), "bytes": len(state.encode()), "tasks": tasks_in_state,
                          "memory": median(mem)}
    label = db_label(url)
    if limit_hit is not None:
        section.notes.append(
            f"{label}: iteration {limit_hit} failed with RecursionError (Python's default limit of 1,000 frames) "
            "inside SpiffWorkflow (BoundaryEventJoin: Join._find_tasks -> Task.is_descendant_of, which recurses "
            "once per ancestor), so completing the task fails with an error and the instance cannot move on. "
            "The benchmark raised the limit to 20,000 in its own process to measure beyond it; "
            "a server cannot go past this iteration.")
        section.target(f"{label}: the loop reaches iteration {max(checkpoints)} at all", f"fails at {limit_hit}",
                       "no error", False)
    base = results[checkpoints[0]]["cost"]
    for i in checkpoints:
        r = results[i]
        section.add_row(label, i, ms(r["cost"]), f"{ratio(r['cost'], base):.2f}", f"{r['bytes'] / 1024:.0f}",
                        r["tasks"], ms(r["memory"]))
    last = checkpoints[-1]
    growth_ratio = ratio(results[last]["cost"], base)
    section.target(f"{label}: step cost at {last} <= 3 x at {checkpoints[0]}", f"{growth_ratio:.2f} x", "<= 3 x",
                   growth_ratio <= 3)
    if growth_ratio > 3:
        def more() -> None:
            for _ in range(2):
                eng.step(iid, step)
        section.blocks.append((f"{label}: pyinstrument profile (functions by own time) of 2 loop steps after "
                               f"iteration {last}", profile(more, max_lines=30, flat=True, interval=0.01)))
    platform.close()
    log(f"growth on {label}: " + ", ".join(f"{i}: {ms(results[i]['cost'])} ms" for i in checkpoints))
    return results

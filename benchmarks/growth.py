"""Issue 16 point 6, "memory and growth hold": how the cost of a step and the bytes written grow
in a looping instance (a step at loop 300 costs at most 1.6 x a step at loop 10), and the
resident memory of a ``towerflow serve`` process, idle and after a load of completions (at most
100 MiB)."""

from __future__ import annotations

import json
import sys
import time

from SpiffWorkflow.util.task import TaskState

from .common import Section, Server, Workspace, db_label, log, median, ms, ratio
from .flows import loop_step, negotiation_flow
from .profiling import profile
from .step_cost import EngineDriver, prepare

GROWTH_GOAL = 1.6  # issue 16: a step at the last checkpoint costs at most 1.6 x one at the first
RSS_GOAL_MIB = 100.0  # issue 16: a server stays at or below 100 MiB
LOAD_COMPLETIONS = 500  # task completions over HTTP before the second RSS reading


def growth(url: str, checkpoints: tuple[int, ...], section: Section, window: int = 9) -> dict[int, dict[str, float]]:
    """One instance per checkpoint, each driven through the engine API to its checkpoint in the
    negotiation's progress-report loop; then ``window`` more steps of each, interleaved instance by
    instance, so that the machine's load (other people's runs on the same 2 cores) weighs on every
    checkpoint alike. Then a server's memory on the same database (``server_memory``)."""
    from engine.models import ProcessInstance

    flow = negotiation_flow(reports=0)
    platform, _tokens, definition_id = prepare(url, flow)
    eng = EngineDriver(platform, flow)
    step = loop_step()
    with platform.Session() as session:
        specs = platform.specs(session, definition_id)  # the spec objects the platform keeps per version
    label = db_label(url)
    limit_hit: list[int] = []

    def loop_once(iid: int, i: int) -> float:
        try:
            return eng.step(iid, step)[0]
        except RecursionError:
            # SpiffWorkflow walks the task tree recursively (Join._find_tasks -> Task.is_descendant_of);
            # past ~1,000 levels Python refuses. Note it, then go on with a higher limit to measure further.
            limit_hit.append(i)
            sys.setrecursionlimit(20_000)
            return eng.step(iid, step)[0]

    instances: dict[int, int] = {}
    states: dict[int, str] = {}
    for checkpoint in checkpoints:
        iid, _ = eng.start(f"BENCH-GROWTH-{checkpoint}")
        for plan_or_accept in flow.steps[:2]:  # the report loop is open after these
            eng.step(iid, plan_or_accept)
        for i in range(1, checkpoint):
            loop_once(iid, i)
        instances[checkpoint] = iid
        with platform.Session() as session:
            states[checkpoint] = session.get(ProcessInstance, iid).workflow_json
    costs: dict[int, list[float]] = {c: [] for c in checkpoints}
    memory: dict[int, list[float]] = {c: [] for c in checkpoints}
    written: dict[int, str] = {}
    for n in range(window):  # the step at the checkpoint and the window - 1 after it
        for checkpoint in checkpoints:
            costs[checkpoint].append(loop_once(instances[checkpoint], checkpoint + n))
            memory[checkpoint].append(_step_in_memory(platform, specs, states[checkpoint]))
            if n == 0:
                with platform.Session() as session:
                    written[checkpoint] = session.get(ProcessInstance, instances[checkpoint]).workflow_json
    results: dict[int, dict[str, float]] = {}
    for checkpoint in checkpoints:
        state = written[checkpoint]
        parsed = json.loads(state)
        tasks_in_state = len(parsed.get("tasks", {})) + sum(
            len(sub.get("tasks", {})) for sub in parsed.get("subprocesses", {}).values())
        results[checkpoint] = {"cost": median(costs[checkpoint]), "bytes": len(state.encode()),
                               "tasks": tasks_in_state, "memory": median(memory[checkpoint])}
    if limit_hit:
        section.notes.append(
            f"{label}: iteration {limit_hit[0]} failed with RecursionError (Python's default limit of 1,000 frames) "
            "inside SpiffWorkflow (BoundaryEventJoin: Join._find_tasks -> Task.is_descendant_of, which recurses "
            "once per ancestor), so completing the task fails with an error and the instance cannot move on. "
            "The benchmark raised the limit to 20,000 in its own process to measure beyond it; "
            "a server cannot go past this iteration.")
        section.target(f"{label}: the loop reaches iteration {max(checkpoints)} at all", f"fails at {limit_hit[0]}",
                       "no error", False)
    base = results[checkpoints[0]]["cost"]
    for i in checkpoints:
        r = results[i]
        section.add_row(label, i, ms(r["cost"]), f"{ratio(r['cost'], base):.2f}", f"{r['bytes'] / 1024:.0f}",
                        r["tasks"], ms(r["memory"]))
    section.notes.append(f"{label}: one instance per iteration; step median = the median of its steps {window} "
                         f"iterations from the one named, the instances stepped in turn (interleaved).")
    last = checkpoints[-1]
    growth_ratio = ratio(results[last]["cost"], base)
    section.target(f"{label}: step cost at {last} <= {GROWTH_GOAL} x at {checkpoints[0]}", f"{growth_ratio:.2f} x",
                   f"<= {GROWTH_GOAL} x", growth_ratio <= GROWTH_GOAL,
                   headline=f"A step at loop {last} against loop {checkpoints[0]}, {label}")
    if growth_ratio > GROWTH_GOAL:
        def more() -> None:
            for _ in range(2):
                eng.step(instances[last], step)
        section.blocks.append((f"{label}: pyinstrument profile (functions by own time) of 2 loop steps after "
                               f"iteration {last}", profile(more, max_lines=30, flat=True, interval=0.01)))
    platform.close()
    log(f"growth on {label}: " + ", ".join(f"{i}: {ms(results[i]['cost'])} ms" for i in checkpoints))
    server_memory(url, section)
    return results


def _step_in_memory(platform, specs, state: str) -> float:
    """The same loop step without the database: the platform's deserialize, complete the report,
    engine steps, compact, serialize."""
    from engine.definitions.serialization import workflow_from_json, workflow_to_json
    from engine.runtime.workflow import compact, find_task, run_engine_steps

    t0 = time.perf_counter()
    wf = workflow_from_json(state, specs)
    wf.script_engine = platform.script_engine()
    task = next(t for t in [*wf.tasks.values(), *(x for s in wf.subprocesses.values() for x in s.tasks.values())]
                if t.state == TaskState.READY and t.task_spec.bpmn_id == "report")
    task = find_task(wf, str(task.id))
    task.set_data(progress_outcome="in_progress", progress_note="x")
    task.run()
    run_engine_steps(wf)
    compact(wf)
    workflow_to_json(wf)
    return time.perf_counter() - t0


def server_memory(url: str, section: Section, completions: int = LOAD_COMPLETIONS) -> tuple[float, float]:
    """VmRSS of a ``towerflow serve`` process (waitress, 8 threads, timer clock on, as deployed) on
    ``url``: idle after start (and its first request), then after ``completions`` task completions
    of five_tasks instances over one keep-alive connection (benchmarks/hot_path.py's driver)."""
    from .hot_path import USER, HttpDriver, five_tasks_flow

    flow = five_tasks_flow()
    platform, tokens, _definition_id = prepare(url, flow)
    platform.close()
    label = db_label(url)
    workspace = Workspace()
    server = Server(url, workspace, "growth-memory").wait_ready()
    client = HttpDriver(server.port, tokens[USER], flow)
    try:
        time.sleep(1.0)  # let the clock's first ticks and the first request's garbage settle
        idle = server.rss_mb()
        done = 0
        n = 0
        while done < completions:
            answer, _ = client.start(f"MEM-{n}")
            n += 1
            for step in flow.steps:
                answer, _ = client.complete(answer, step.element_id)
                done += 1
        time.sleep(1.0)
        after = server.rss_mb()
    finally:
        client.close()
        server.stop()
        workspace.cleanup()
    section.notes.append(f"{label}: a `towerflow serve` process (8 threads, timer clock on) holds {idle:.1f} MiB "
                         f"resident idle after start and {after:.1f} MiB after {done} task completions "
                         f"({n} five_tasks instances) over HTTP.")
    section.target(f"{label}: server RSS idle <= {RSS_GOAL_MIB:.0f} MiB", f"{idle:.1f} MiB",
                   f"<= {RSS_GOAL_MIB:.0f} MiB", idle <= RSS_GOAL_MIB)
    section.target(f"{label}: server RSS after {done} completions <= {RSS_GOAL_MIB:.0f} MiB", f"{after:.1f} MiB",
                   f"<= {RSS_GOAL_MIB:.0f} MiB", after <= RSS_GOAL_MIB,
                   headline=f"Server memory after {done} completions, {label}")
    log(f"server memory on {label}: {idle:.1f} MiB idle, {after:.1f} MiB after {done} completions")
    return idle, after

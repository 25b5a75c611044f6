"""Several people claim the same task at the same moment: exactly one wins, the rest get 409.

Threads share one app (SQLite and PostgreSQL); on PostgreSQL, separate OS processes each build
their own platform and app, as several server workers would, and are released together.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading

import pytest
from helpers import PG_URL, deploy

from engine import identity

DIRECTORS = [f"director{n}" for n in range(8)]


def start_review(platform, api) -> int:
    deploy(platform, "tasks_inbox.bpmn")
    admin = api("admin", ["admin"])
    r = admin.post("/api/v1/process-instances", json={"process_key": "tasks_inbox", "business_key": "SITE-1"})
    assert r.status_code == 201, r.json
    return r.json["active_tasks"][0]["id"]


def tokens_for(api, people: list[str]) -> dict[str, str]:
    """Each person's Authorization header, all of them candidates (city_director)."""
    return {name: api(name, ["city_director"]).headers["Authorization"] for name in people}


def assert_one_winner(outcomes: dict[str, tuple[int, dict]], task: dict) -> None:
    """``outcomes`` maps each claimant to its (status, body); ``task`` is the task afterwards."""
    statuses = sorted(status for status, _ in outcomes.values())
    assert statuses == [200] + [409] * (len(outcomes) - 1), outcomes
    (winner,) = [name for name, (status, _) in outcomes.items() if status == 200]
    assert task["assignee"] == winner
    for status, body in outcomes.values():
        if status == 409:
            assert body["error"]["code"] == "conflict", body
            assert "already claimed" in body["error"]["message"], body
            assert winner in body["error"]["message"], body


def task_after(api, task_id: int) -> dict:
    r = api("admin", ["admin"]).get(f"/api/v1/tasks/{task_id}")
    assert r.status_code == 200, r.json
    return r.json


def history_actions(api, instance_id: int) -> list[str]:
    r = api("admin", ["admin"]).get(f"/api/v1/process-instances/{instance_id}/history")
    return [e["action"] for e in r.json["items"]]


# --- threads -------------------------------------------------------------------------------------

@pytest.mark.parametrize("people", [2, 8])
def test_threads_claiming_at_once_have_exactly_one_winner(platform, app, api, people):
    task_id = start_review(platform, api)
    headers = tokens_for(api, DIRECTORS[:people])
    barrier = threading.Barrier(people)
    outcomes: dict[str, tuple[int, dict]] = {}

    def claim(name: str) -> None:
        client = app.test_client()
        barrier.wait(timeout=60)
        r = client.post(f"/api/v1/tasks/{task_id}/claim", headers={"Authorization": headers[name]})
        outcomes[name] = (r.status_code, r.json)

    threads = [threading.Thread(target=claim, args=(name,)) for name in headers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert len(outcomes) == people

    task = task_after(api, task_id)
    assert_one_winner(outcomes, task)
    assert history_actions(api, task["process_instance_id"]).count("task.claimed") == 1


# --- separate processes, PostgreSQL only ------------------------------------------------------------

def claim_in_own_process(url: str, mode: str, name: str, authorization: str, task_id: int,
                         ready, go, results) -> None:
    """A fresh interpreter: its own platform and engine pool, then claim when told to.

    It always answers on ``results``, with status -1 and the traceback when it broke."""
    import traceback

    from engine.errors import EngineError
    from engine.runtime import tasks
    from web.app import build_platform, create_app

    platform = build_platform(url)
    try:
        client = create_app({"TESTING": True}, platform=platform).test_client()
        with platform.Session() as session:  # open a connection before the race starts
            actor = identity.principal_for(identity.get_user(session, name))
        ready.set()
        go.wait(timeout=120)
        if mode == "api":
            r = client.post(f"/api/v1/tasks/{task_id}/claim", headers={"Authorization": authorization})
            results.put((name, r.status_code, r.json))
        else:
            try:
                tasks.claim(platform, actor, task_id)
                results.put((name, 200, {}))
            except EngineError as exc:
                results.put((name, exc.status, {"error": {"code": exc.code, "message": exc.message}}))
    except Exception:
        results.put((name, -1, {"traceback": traceback.format_exc()}))
    finally:
        ready.set()
        platform.engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="separate processes need PostgreSQL (TOWERFLOW_TEST_DATABASE_URL)")
@pytest.mark.parametrize("mode", ["api", "engine"])
def test_processes_claiming_at_once_have_exactly_one_winner(platform, api, database_url, mode):
    task_id = start_review(platform, api)
    headers = tokens_for(api, DIRECTORS[:6])
    ctx = multiprocessing.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    workers = []
    for name, authorization in headers.items():
        ready = ctx.Event()
        proc = ctx.Process(target=claim_in_own_process,
                           args=(database_url, mode, name, authorization, task_id, ready, go, results))
        proc.start()
        workers.append((proc, ready))
    try:
        for _, ready in workers:
            assert ready.wait(timeout=120), "a claimant process never got ready"
        go.set()
        outcomes = {}
        for _ in workers:
            name, status, body = results.get(timeout=120)
            outcomes[name] = (status, body)
    except queue.Empty:
        pytest.fail("a claimant process gave no answer")
    finally:
        for proc, _ in workers:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.terminate()

    assert [proc.exitcode for proc, _ in workers] == [0] * len(workers)
    task = task_after(api, task_id)
    assert_one_winner(outcomes, task)
    assert history_actions(api, task["process_instance_id"]).count("task.claimed") == 1

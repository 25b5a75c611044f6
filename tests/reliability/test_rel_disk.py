"""A full disk under the embedded SQLite database, with a real server process (and its job
clock) working on a database on a small tmpfs file system.

While the disk is full every request that must write is answered 503 ``storage_full`` with
Retry-After (a page in Chinese), nothing is half done, timers that fall due wait (no attempt
counted), ``PRAGMA integrity_check`` says ok, and once space is freed the same server carries
on with no restart: every completion done once, every timer fired once.
"""

from __future__ import annotations

import contextlib
import errno
import http.cookiejar
import os
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from faultwork import (
    check_timers_fired_once,
    complete,
    completion_state,
    open_reviews,
    post_page,
    start_timers,
    tokens,
)
from helpers import PG_URL
from relhelp import Server, call, rel_deploy
from sqlalchemy import func, select

from engine.models import HumanTask
from web.app import build_platform

pytestmark = pytest.mark.skipif(
    bool(PG_URL), reason="a full disk under the embedded SQLite database: it runs in the SQLite run "
                         "(PostgreSQL's disk belongs to its server; its faults are test_rel_database.py)")

DISK = "16m"


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A 16 MB tmpfs mounted for the test, unmounted at its end whatever happens."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here (needs root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the file system is full; the file, to delete when space is wanted back."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(chunk)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with contextlib.suppress(OSError):  # the last partial chunks too
        with open(filler, "ab") as out:
            while True:
                out.write(b"\0" * 512)
                out.flush()
    return filler


def draft_saver(server: Server, task_id: int):
    """Sign in as li0 on the pages; a function that saves a draft of the task's form (status,
    Retry-After, page)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def csrf(path: str) -> str:
        with opener.open(f"{server.base}{path}", timeout=60) as response:
            return re.search(r'<meta name="csrf-token" content="([^"]+)"', response.read().decode()).group(1)

    form = {"csrf_token": csrf("/login"), "username": "li0", "password": "password123"}
    opener.open(urllib.request.Request(f"{server.base}/login", data=urllib.parse.urlencode(form).encode()),
                timeout=60).close()

    def save(comment: str) -> tuple[int, str, str]:
        form = {"csrf_token": csrf(f"/tasks/{task_id}"), "action": "draft", "comment": comment}
        return post_page(opener, f"{server.base}/tasks/{task_id}", form)

    return save


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_a_full_disk_gets_clear_503s_keeps_the_database_whole_and_work_resumes_when_space_is_freed(
        small_disk, services, spawn_on):
    db_file = small_disk / "towerflow.db"
    url = f"sqlite:///{db_file}"
    platform = build_platform(url, services=services)
    platform.init_db()
    try:
        rel_deploy(platform, "rel_timer.bpmn")
        reviews = open_reviews(platform, 120)
        user_tokens = tokens(platform)
        server = spawn_on(url)
        print(f"database before: {os.path.getsize(db_file) // 1024} KB on a {DISK} tmpfs")

        todo = list(reviews.items())
        answers: list[tuple[int, int, int | None, object, str]] = []

        def complete_next() -> int | None:
            task_id, instance_id = todo.pop(0)
            answer = complete(server, user_tokens[len(answers) % len(user_tokens)], task_id, instance_id)
            answers.append((task_id, instance_id, *answer))
            return answer[0]

        assert {complete_next() for _ in range(20)} == {200}, "work goes on as usual"
        drafter_task = todo.pop()  # li0 claims it, and signs in on the pages, to save a draft later
        assert call("POST", f"{server.base}/api/v1/tasks/{drafter_task[0]}/claim", user_tokens[0])[0] == 200
        save_draft = draft_saver(server, drafter_task[0])
        timers = start_timers(server, user_tokens[0], [4 + n for n in range(8)])

        filler = fill(small_disk)
        refused = 0
        while todo and refused < 5:  # until the disk refuses 5 in a row
            refused = refused + 1 if complete_next() == 503 else 0
        assert refused == 5, "the disk never filled up"
        body, retry_after = answers[-1][3:]
        assert b'"storage_full"' in body and retry_after == "60", body
        status, retry_after, page = save_draft("备注" * 100_000)  # a large draft on the pages
        assert (status, retry_after) == (503, "60"), page
        assert "服务器磁盘已满" in page and "本次修改没有保存" in page and "Traceback" not in page
        time.sleep(12)  # the timers fall due while nothing can be written: they wait, nothing is counted
        assert integrity(db_file) == "ok"

        filler.unlink()  # space again: the same server goes on, no restart
        while todo:
            assert complete_next() == 200, answers[-1]

        counts = Counter(status for _, _, status, _, _ in answers)
        for task_id, instance_id, status, body, _ in answers:  # each done, or refused and not done at all
            assert (status, completion_state(platform, task_id, instance_id)) in ((200, "done"), (503, "not done")), \
                (task_id, status, body)
        assert save_draft("备注")[0] == 200
        for task_id, instance_id in reviews.items():  # the refused ones are submitted again
            if completion_state(platform, task_id, instance_id) == "not done":
                assert complete(server, user_tokens[0], task_id, instance_id)[0] == 200
        assert {completion_state(platform, t, i) for t, i in reviews.items()} == {"done"}
        with platform.Session() as session:
            assert session.scalar(select(func.count()).select_from(HumanTask).where(
                HumanTask.element_id == "file_decision")) == len(reviews)
        check_timers_fired_once(platform, timers)
        assert server.popen.poll() is None, "the server was not restarted"
        assert integrity(db_file) == "ok"
        print(f"answers: {dict(counts)}; database after: {os.path.getsize(db_file) // 1024} KB")
    finally:
        platform.close()


@pytest.fixture
def spawn_on(rel_dir, tmp_path):
    """``spawn_on(url)``: a server with its job clock on a database of the test's choosing."""
    started = []
    env = {**os.environ, "REL_DIR": str(rel_dir), "TOWERFLOW_SECRET_KEY": "reliability-tests",
           "PYTHONUNBUFFERED": "1"}

    def start(url: str) -> Server:
        proc = Server(url, env, tmp_path / f"server-{len(started)}.log", clock=True)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()

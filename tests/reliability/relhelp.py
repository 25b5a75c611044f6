"""Helpers of the reliability tests: real server and worker processes, data files, HTTP calls."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.platform import Platform
from engine.principal import SYSTEM
from engine.services import ServiceCall

HERE = Path(__file__).parent
DATA = HERE / "data"
PROC = HERE / "proc.py"
STARTUP_SECONDS = 120  # only a bound on the wait for a process to start (a few seconds here)


def rel_read(name: str) -> bytes:
    """A diagram of tests/reliability/data."""
    return (DATA / name).read_bytes()


def rel_deploy(platform: Platform, *names: str) -> dict:
    """Deploy diagrams of tests/reliability/data as the system."""
    from engine.definitions import deployments

    return deployments.deploy(platform, SYSTEM, {n: rel_read(n) for n in names})


def book_crane(params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """``rel.book`` in the test process (proc.py registers its own, with crash points)."""
    return {"crane": "C-12", "site": params.get("site")}


def free_port() -> int:
    """A port nobody listens on right now, for a server process to take."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """One ``towerflow`` process (through proc.py) that the test can kill -9 and start again."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.args, self.env, self.log = args, env, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen([sys.executable, str(PROC), *self.args], env=self.env,
                                          stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill9(self) -> None:
        """SIGKILL: no cleanup, no rollback by the process itself, exactly like a crash."""
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Server(Proc):
    def __init__(self, url: str, env: dict[str, str], log: Path, clock: bool):
        self.port = free_port()
        args = ["--database", url, "serve", "--port", str(self.port), "--workers", "24"]
        super().__init__(args + ([] if clock else ["--no-clock"]), env, log)
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        super().start()
        wait_until(self._answers, STARTUP_SECONDS, lambda: f"server never answered:\n{self.output()}")
        return self

    def _answers(self) -> bool:
        if self.popen.poll() is not None:
            raise AssertionError(f"server exited:\n{self.output()}")
        try:
            with urllib.request.urlopen(f"{self.base}/api/v1/openapi.json", timeout=30) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False


class Worker(Proc):
    def __init__(self, url: str, env: dict[str, str], log: Path):
        super().__init__(["--database", url, "worker", "--tick", "0.1"], env, log)

    def start(self) -> Worker:
        super().start()
        wait_until(lambda: self._running(), STARTUP_SECONDS, lambda: f"worker never started:\n{self.output()}")
        return self

    def _running(self) -> bool:
        if self.popen.poll() is not None:
            raise AssertionError(f"worker exited:\n{self.output()}")
        return "running" in self.output()


def wait_until(condition: Callable[[], bool], limit_seconds: float,
               describe: Callable[[], str] = lambda: "condition never held") -> None:
    """Poll ``condition`` (bounded); fail with ``describe()`` when it never holds."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(describe())




def call(method: str, url: str, token: str | None = None, body: Any = None,
         timeout: float = 120) -> tuple[int, Any]:
    """(status, parsed JSON or text) of one request; HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _parse(response.read())
    except urllib.error.HTTPError as err:
        return err.code, _parse(err.read())


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def all_at_once(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run each zero-argument callable in its own thread, released together; results in order."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i, job):
        barrier.wait(timeout=120)
        results[i] = job()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a request never came back"
    return results

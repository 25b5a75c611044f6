"""A real nginx running the repository's own ``deploy/nginx.conf`` in front of test servers.

The file is used as written except for what only a test may change: the upstream's server lines
(the test servers' ports), the listening addresses (free ports on 127.0.0.1) and the certificate
(a self-signed one made here). It is wrapped in the smallest main configuration that keeps pid,
logs and temporary files in the test's folder, so the machine's own nginx is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from relhelp import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_CONF = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def site_config(upstream_ports: list[int], http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """deploy/nginx.conf with the test's ports and certificate."""
    text = DEPLOY_CONF.read_text()
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in upstream_ports)
    text, found = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+ [^\n]*\n(?:    server 127\.0\.0\.1:\d+ [^\n]*\n)*",
                          servers, text, count=1)
    assert found == 1, "deploy/nginx.conf: the upstream's server lines were not found"
    for pattern, replacement in ((r"listen 80;", f"listen 127.0.0.1:{http_port};"),
                                 (r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
                                 (r"ssl_certificate \S+;", f"ssl_certificate {cert};"),
                                 (r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};")):
        text, found = re.subn(pattern, replacement, text)
        assert found == 1, f"deploy/nginx.conf: {pattern!r} not found once"
    return text


class Nginx:
    """``Nginx(folder, [port, ...]).start()``; ``https`` is its base URL; ``stop()`` at the end."""

    def __init__(self, folder: Path, upstream_ports: list[int]):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.http_port, self.https_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.https = f"https://127.0.0.1:{self.https_port}"
        cert, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
                       check=True, capture_output=True)
        (folder / "towerflow.conf").write_text(site_config(upstream_ports, self.http_port, self.https_port,
                                                           cert, key))
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers may read the test's private folder
        temp = " ".join(f"{kind}_temp_path {folder / kind};" for kind in
                        ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        self.conf = folder / "main.conf"
        self.conf.write_text(
            f"{user}worker_processes 2;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
            f"daemon off;\nevents {{ worker_connections 512; }}\n"
            f"http {{\n  access_log {folder / 'access.log'};\n  {temp}\n  include {folder / 'towerflow.conf'};\n}}\n")
        self.popen: subprocess.Popen | None = None

    def check(self) -> subprocess.CompletedProcess:
        """``nginx -t`` of the configuration."""
        return subprocess.run([NGINX, "-t", "-p", str(self.folder), "-c", str(self.conf)],
                              capture_output=True, text=True)

    def start(self) -> Nginx:
        checked = self.check()
        assert checked.returncode == 0, checked.stderr
        self.popen = subprocess.Popen([NGINX, "-p", str(self.folder), "-c", str(self.conf)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._answers, 30, lambda: f"nginx never answered:\n{self.errors()}")
        return self

    def _answers(self) -> bool:
        assert self.popen.poll() is None, f"nginx exited:\n{self.errors()}"
        try:
            with urllib.request.urlopen(f"{self.https}/healthz", timeout=5, context=insecure()) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def errors(self) -> str:
        log = self.folder / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGQUIT)  # graceful: finish the requests under way
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=15)


def insecure() -> ssl.SSLContext:
    """The test's self-signed certificate is not checked."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context

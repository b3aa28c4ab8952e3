"""A real CAS server for the tests (django-cas-server 3.1, in its own small Django project):
started as a subprocess on 127.0.0.1 on a port the system picks, with its own SQLite file in a
temporary folder, and stopped (folder removed) at the end. No protocol is mocked: Xinlian's
client talks HTTP to it, and the browser logs in on its page.

    server = CasServer({"S0001": "pw"}).start()   # server.url == "http://127.0.0.1:PORT/cas/"
    ...
    server.stop()
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import requests

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 90  # migrating its SQLite file on a busy 2-core machine


class CasServer:
    def __init__(self, users: dict[str, str | dict[str, str]]) -> None:
        self.users = {name: (value if isinstance(value, dict) else {"password": value})
                      for name, value in users.items()}
        self.process: subprocess.Popen[str] | None = None
        self.folder = ""
        self.url = ""

    def start(self) -> CasServer:
        self.folder = tempfile.mkdtemp(prefix="xinlian-cas-server-")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.cas_server.settings",
               "CAS_SERVER_DB": str(Path(self.folder) / "cas.sqlite3"),
               "CAS_SERVER_USERS": json.dumps(self.users)}
        env.pop("XINLIAN_DATABASE_URL", None)
        log = open(Path(self.folder) / "server.log", "w")  # noqa: SIM115 — closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.cas_server.serve"], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        assert self.process.stdout is not None
        ready, _w, _x = select.select([self.process.stdout], [], [], START_SECONDS)
        line = self.process.stdout.readline() if ready else ""
        found = re.match(r"port (\d+)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"the test CAS server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{found.group(1)}/cas/"
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = ""

    def log(self) -> str:
        path = Path(self.folder) / "server.log"
        return path.read_text() if path.exists() else ""

    # --- a person at the CAS server's login page, without a browser --------------------------

    def login(self, session: requests.Session, login_url: str, username: str, password: str) -> str:
        """Fill in the CAS login form reached from ``login_url`` (the address Xinlian sent the
        browser to); returns the service address with the ticket that CAS redirects back to."""
        page = session.get(login_url, allow_redirects=False, timeout=10)
        if page.status_code == 302 and "ticket=" in page.headers.get("Location", ""):
            return urljoin(login_url, page.headers["Location"])  # logged in at CAS already: SSO
        page.raise_for_status()
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
        fields.update({"username": username, "password": password})
        answer = session.post(login_url, data=fields, allow_redirects=False, timeout=10)
        location = answer.headers.get("Location", "")
        if answer.status_code != 302 or "ticket=" not in location:
            raise AssertionError(f"CAS login failed ({answer.status_code}): {location or answer.text[:300]}")
        return urljoin(login_url, location)


def ticket_of(url: str) -> str:
    return parse_qs(urlparse(url).query)["ticket"][0]


def wait_for(check: Any, seconds: float = 15) -> bool:
    """Poll ``check()`` until it is true (single logout is sent in the background)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return bool(check())

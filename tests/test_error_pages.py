"""The demo answers a wrong address with the product's own 404 page, never Django's debug page with
the URL list and settings, and still serves its static files (WhiteNoise, no DEBUG needed)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.test import SimpleTestCase

from .test_demo import PROJECT_DIR, _kill_session


def _get(url: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8", "replace")


class DemoErrorPageTests(SimpleTestCase):
    def start(self, args: list[str], extra_env: dict[str, str]) -> tuple[subprocess.Popen, int, Path]:
        data = Path(tempfile.mkdtemp(prefix="xinlian-404-test-"))
        self.addCleanup(shutil.rmtree, data, True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # As a developer starts it: no XINLIAN_* variable set, its own SQLite in a temporary folder.
        env = {k: v for k, v in os.environ.items() if not k.startswith("XINLIAN_")}
        env.update({"XINLIAN_DATA_DIR": str(data), **extra_env})
        log = (data / "server.log").open("w")
        self.addCleanup(log.close)
        proc = subprocess.Popen([sys.executable, "-m", "xinlian.cli", *args, "--port", str(port)],
                                cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.addCleanup(_kill_session, proc)  # the whole session, by its id
        deadline = time.monotonic() + 180
        while True:
            self.assertIsNone(proc.poll(), (data / "server.log").read_text())
            try:
                if _get(f"http://127.0.0.1:{port}/login/")[0] == 200:
                    return proc, port, data
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, (data / "server.log").read_text())
            time.sleep(0.5)

    def test_the_demo_shows_its_own_404_and_serves_static_files(self):
        _proc, port, data = self.start(["demo", "--students", "20"], {})
        status, _type, body = _get(f"http://127.0.0.1:{port}/no-such-page/")
        self.assertEqual(status, 404)
        self.assertIn("页面不存在", body)  # templates/404.html, bilingual
        self.assertIn("Not found.", body)
        for debug_only in ("URLconf", "DEBUG = True", "xinlian.urls", "Django tried these URL patterns"):
            self.assertNotIn(debug_only, body)
        status, content_type, css = _get(f"http://127.0.0.1:{port}/static/xinlian.css")
        self.assertEqual(status, 200)
        self.assertIn("text/css", content_type)
        self.assertIn(".xl-navbar", css)
        status, _type, _js = _get(f"http://127.0.0.1:{port}/static/vendor/htmx/htmx.min.js")
        self.assertEqual(status, 200)
        self.assertNotIn("No directory at", (data / "server.log").read_text())  # STATIC_ROOT made

    def test_a_developer_may_still_ask_for_debug_pages(self):
        # XINLIAN_DEBUG=1 said out loud wins: `xinlian serve` (what the demo runs) leaves it on.
        _proc, port, _data = self.start(["serve", "--workers", "1"], {"XINLIAN_DEBUG": "1"})
        status, _type, body = _get(f"http://127.0.0.1:{port}/no-such-page/")
        self.assertEqual(status, 404)
        self.assertIn("URLconf", body)  # Django's technical 404: asked for, so shown

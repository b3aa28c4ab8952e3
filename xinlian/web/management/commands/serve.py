from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Xinlian with the production WSGI server (granian), static files included."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("XINLIAN_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("XINLIAN_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("XINLIAN_WORKERS", "2")))

    def handle(self, *args, host: str, port: int, workers: int, **opts):
        # granian's own CLI does the serving; exec so that signals reach it directly.
        argv = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host,
                "--port", str(port), "--workers", str(workers), "--blocking-threads", "4",
                "--no-ws", "xinlian.wsgi:application"]
        self.stdout.write(f"serving on http://{host}:{port}/")
        sys.stdout.flush()
        os.execv(sys.executable, argv)

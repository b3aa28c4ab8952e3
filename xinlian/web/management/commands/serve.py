from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings
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
        # The demo and `make serve` show the product's own 404/500 pages, never Django's debug
        # pages with the URL list and settings: DEBUG stays off unless XINLIAN_DEBUG asks for it.
        # Static files need no DEBUG: WhiteNoise serves them from the finders (settings.py).
        if not os.environ.get("XINLIAN_DEBUG"):
            os.environ["XINLIAN_DEBUG"] = "0"
        # Off DEBUG, WhiteNoise scans STATIC_ROOT once at start and warns when it is missing
        # (collectstatic not run: the finders serve the files, see settings.py).
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"serving on http://{host}:{port}/")
        sys.stdout.flush()
        os.execv(sys.executable, argv)

from __future__ import annotations

import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from xinlian.notify.models import run_once


class Command(BaseCommand):
    help = "Run the background worker: send outbox deliveries (and, later, fire deadlines)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between idle polls")

    def handle(self, *args, once: bool = False, interval: float = 1.0, **opts):
        stopping = False

        def stop(signum, frame):  # finish the current pass, then leave
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if not once:
            self.stdout.write("worker: polling the outbox (Ctrl-C stops)")
        while True:
            close_old_connections()
            sent = run_once()
            if once or stopping:
                return
            if not sent:
                time.sleep(interval)

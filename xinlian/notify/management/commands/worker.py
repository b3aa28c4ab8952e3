from __future__ import annotations

import logging
import signal
import time

from django.core.management.base import BaseCommand

from xinlian.notify.jobs import run_all

log = logging.getLogger("xinlian.worker")


class Command(BaseCommand):
    help = "Run the background worker: fire due deadlines (escalations, follow-ups), send the outbox."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=0.5, help="seconds between idle polls")

    def handle(self, *args, once: bool = False, interval: float = 0.5, **opts):
        stopping = False

        def stop(signum, frame):  # finish the current pass, then leave
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if not once:
            self.stdout.write("worker: deadlines and outbox (Ctrl-C stops)")
            self.stdout.flush()
        while True:
            try:
                done = run_all()
            except Exception:  # noqa: BLE001 — a bad pass must not kill the loop; it is retried
                log.exception("worker pass failed")
                done = {}
            if once or stopping:
                return
            if not any(done.values()):
                time.sleep(interval)

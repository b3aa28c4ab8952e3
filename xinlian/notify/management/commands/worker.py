from __future__ import annotations

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import connection

from xinlian.notify.jobs import run_all

log = logging.getLogger("xinlian.worker")

# Seconds to sleep after a pass that found nothing to do. A busy pass loops at once; an idle
# one costs three indexed queries, so 0.2 s keeps an alert's path from submit to robot well
# under a second (bench/linkage.py) for about 15 small queries a second while idle.
IDLE_INTERVAL = 0.2


class Command(BaseCommand):
    help = ("Run the background worker: act on submitted screenings (alerts, interviews), fire due "
            "deadlines (escalations, follow-ups), send the outbox.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=IDLE_INTERVAL,
                            help=f"seconds to sleep after an idle pass (default {IDLE_INTERVAL})")

    def handle(self, *args, once: bool = False, interval: float = IDLE_INTERVAL, **opts):
        stopping = False

        def stop(signum, frame):  # finish the current pass, then leave
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if not once:
            self.stdout.write("worker: submissions, deadlines and outbox (Ctrl-C stops)")
            self.stdout.flush()
        while True:
            try:
                done = run_all()
            except Exception:  # noqa: BLE001 — a bad pass must not kill the loop; it is retried
                log.exception("worker pass failed")
                # Start the next pass on a fresh connection: this one may be mid-transaction
                # or broken (database restarted).
                connection.close()
                done = {}
            if once or stopping:
                return
            if not any(done.values()):
                time.sleep(interval)

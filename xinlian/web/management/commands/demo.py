from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

from django.core.management import call_command
from django.core.management.base import BaseCommand

from xinlian.network.models import Unit

# Signals that end the demo: Ctrl-C, `kill`, a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Seconds the server and the worker get to finish what they are doing before SIGKILL.
GRACE_SECONDS = 10


class Command(BaseCommand):
    help = "Migrate, seed the demo school if the database is empty, then serve with the worker."

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=2000)
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, students: int, port: int, **opts):
        call_command("migrate", interactive=False, verbosity=0)
        if not Unit.objects.exists():
            self.stdout.write(f"Seeding the demo school ({students} students)…")
            call_command("seed_demo", students=students)
        else:
            call_command("seed_demo", accounts_only=True)
        cli = [sys.executable, "-m", "xinlian.cli"]
        children: list[subprocess.Popen] = []
        stopping: list[int] = []

        def stop(signum: int, frame: FrameType | None) -> None:
            stopping.append(signum)  # a flag, not an exception: never half-way through Popen

        # Each child leads a process group of its own, so that the signal reaches what it starts
        # in turn (granian's worker processes). A `kill` of the demo alone, as a service manager
        # or a script sends, is forwarded too: the default action would orphan them, running.
        previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
        code = 0
        try:
            children.append(subprocess.Popen([*cli, "worker"], process_group=0))
            children.append(subprocess.Popen(
                [*cli, "serve", "--port", str(port), "--workers", "1"], process_group=0))
            worker, server = children
            self.stdout.write(f"demo: server pid {server.pid}, worker pid {worker.pid} "
                              f"(Ctrl-C or SIGTERM stops both)")
            self.stdout.flush()
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.2)
            if not stopping:  # one died on its own: stop the other, and say so
                dead = server if server.poll() is not None else worker
                self.stderr.write(f"demo: the {'server' if dead is server else 'worker'} stopped "
                                  f"(exit {dead.returncode}); stopping the rest")
                code = 1
        finally:
            for sig in STOP_SIGNALS:  # a second Ctrl-C must not interrupt the shutdown
                signal.signal(sig, signal.SIG_IGN)
            _stop_all(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if code:
            sys.exit(code)


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)  # the child's pid is its group's id (process_group=0)
    except ProcessLookupError:
        pass  # the whole group is gone already


def _stop_all(children: list[subprocess.Popen]) -> None:
    """SIGTERM to each child's group, wait, then SIGKILL to whatever is left."""
    for child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for child in children:
        # Also the group: a granian worker may outlive its parent by a moment.
        _signal_group(child, signal.SIGKILL)
        child.wait()

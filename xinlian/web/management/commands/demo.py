from __future__ import annotations

import subprocess
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

from xinlian.network.models import Unit


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
        worker = subprocess.Popen([*cli, "worker"])
        server = subprocess.Popen([*cli, "serve", "--port", str(port), "--workers", "1"])
        try:
            while worker.poll() is None and server.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for proc in (server, worker):
                if proc.poll() is None:
                    proc.terminate()
            for proc in (server, worker):
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()

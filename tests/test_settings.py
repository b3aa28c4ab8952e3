"""Production refuses dev defaults; a well-configured production passes `check --deploy`."""

import base64
import os
import subprocess
import sys
from io import StringIO

from django.core.management import call_command
from django.test import SimpleTestCase, TestCase

GOOD_KEY = base64.b64encode(bytes(range(32))).decode()


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("XINLIAN_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean.update(env)
    return subprocess.run([sys.executable, "-m", "xinlian.cli", *args], env=clean,
                          capture_output=True, text=True, timeout=120)


class ProductionSettingsTests(SimpleTestCase):
    def test_production_refuses_dev_defaults(self):
        result = run_cli("check", env={"XINLIAN_ENV": "production"})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Refusing to start in production", result.stderr)
        self.assertIn("XINLIAN_SECRET_KEY", result.stderr)
        self.assertIn("XINLIAN_FIELD_KEYS", result.stderr)

    def test_production_check_deploy_passes(self):
        env = {
            "XINLIAN_ENV": "production",
            "XINLIAN_SECRET_KEY": "k" * 20 + base64.b64encode(os.urandom(48)).decode(),
            "XINLIAN_FIELD_KEYS": f"k2026:{GOOD_KEY}",
            "XINLIAN_ALLOWED_HOSTS": "xinlian.example.edu.cn",
            "XINLIAN_DATA_DIR": os.environ.get("XINLIAN_DATA_DIR", "/tmp/xinlian-check"),
        }
        result = run_cli("check", "--deploy", "--fail-level", "WARNING", env=env)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


class MigrationsTests(TestCase):
    def test_no_pending_migrations(self):
        out = StringIO()
        try:
            call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
        except SystemExit as exc:  # --check exits 1 when a migration is missing
            self.fail(f"pending model changes without a migration:\n{out.getvalue()} ({exc})")

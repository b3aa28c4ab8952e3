"""Production refuses dev defaults; a well-configured production passes `check --deploy`."""

import base64
import datetime as dt
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


class EnvironmentNameTests(SimpleTestCase):
    """XINLIAN_ENV is development or production: a typo must not quietly mean development
    (DEBUG on, the dev keys) on a server that was meant to run production."""

    def test_unknown_environment_refuses_to_start(self):
        for value in ("prod", "Production", "staging", " production"):
            with self.subTest(value=value):
                result = run_cli("check", env={"XINLIAN_ENV": value})
                self.assertNotEqual(result.returncode, 0, result.stdout)
                self.assertIn(f"XINLIAN_ENV={value!r} is not an environment", result.stderr)
                self.assertIn("development, production", result.stderr)

    def test_known_environments_start(self):
        ok = run_cli("check", env={"XINLIAN_ENV": "development"})
        self.assertEqual(ok.returncode, 0, ok.stderr)
        unset = run_cli("check", env={"XINLIAN_ENV": ""})  # empty is unset, as for every XINLIAN_*
        self.assertEqual(unset.returncode, 0, unset.stderr)
        # production is known: it gets past the name to its own refusal of dev defaults
        production = run_cli("check", env={"XINLIAN_ENV": "production"})
        self.assertIn("Refusing to start in production", production.stderr)


class MigrationsTests(TestCase):
    def test_no_pending_migrations(self):
        out = StringIO()
        try:
            call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
        except SystemExit as exc:  # --check exits 1 when a migration is missing
            self.fail(f"pending model changes without a migration:\n{out.getvalue()} ({exc})")


class PreparedStatementsTests(SimpleTestCase):
    """PostgreSQL: statements bound by the server and prepared after 5 uses on their connection
    (Django leaves psycopg's preparing off unless told); XINLIAN_PG_PREPARE_THRESHOLD=off for a
    pooler in transaction mode."""

    databases = {"default"}

    def options(self, **env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("XINLIAN_")}
        clean.update({"XINLIAN_DATABASE_URL": "postgres://xinlian@127.0.0.1:1/xinlian", **env})
        code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'xinlian.settings'; "
                "from django.conf import settings; o = settings.DATABASES['default']['OPTIONS']; "
                "print(o['server_side_binding'], o['prepare_threshold'])")
        return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True,
                              timeout=60, check=True).stdout.strip()

    def test_the_threshold_and_off(self):
        self.assertEqual(self.options(), "True 5")
        self.assertEqual(self.options(XINLIAN_PG_PREPARE_THRESHOLD="2"), "True 2")
        self.assertEqual(self.options(XINLIAN_PG_PREPARE_THRESHOLD="off"), "True None")

    def test_the_connection_prepares_on_postgresql(self):
        from django.db import connection

        if connection.vendor != "postgresql":
            self.skipTest("a PostgreSQL connection's setting")
        connection.ensure_connection()
        self.assertEqual(connection.connection.prepare_threshold, 5)


class ChecksDoNotDependOnTheClockTests(SimpleTestCase):
    """Django warns of a "fixed default" (fields.W161) when ``check`` runs within ten seconds of a
    date or time default written as a value; ``check --deploy --fail-level WARNING`` then fails.
    Django compares the time in UTC: CI once ran at 18:00:00 UTC, the hour of the shipped end of
    office hours, and failed."""

    def test_model_checks_pass_at_every_hour_a_default_names(self):
        from unittest import mock

        from django.apps import apps
        from django.core import checks
        from django.utils import timezone

        from xinlian.notify.hours import DEFAULT_END, DEFAULT_START

        today = timezone.now().date()
        for at in (DEFAULT_START, DEFAULT_END):
            now = dt.datetime.combine(today, at, tzinfo=dt.UTC)
            with self.subTest(at=at), mock.patch("django.utils.timezone.now", return_value=now):
                found = [m for m in checks.run_checks(app_configs=apps.get_app_configs(),
                                                      tags=[checks.Tags.models])
                         if m.id == "fields.W161"]
                self.assertEqual(found, [])

    def test_the_check_in_this_test_would_see_a_fixed_time_default(self):
        # The guard above is only worth something if the patched clock reaches Django's check.
        from unittest import mock

        from django.db import models
        from django.utils import timezone

        now = dt.datetime.combine(timezone.now().date(), dt.time(18, 0), tzinfo=dt.UTC)
        field = models.TimeField(default=dt.time(18, 0))
        field.set_attributes_from_name("end")
        with mock.patch("django.utils.timezone.now", return_value=now):
            self.assertIn("fields.W161", [m.id for m in field._check_fix_default_value()])

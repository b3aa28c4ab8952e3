import io
from contextlib import redirect_stdout

from django.test import TestCase

from xinlian.cli import main


class CliTests(TestCase):
    def test_dashes_map_to_management_commands(self):
        out = io.StringIO()
        with redirect_stdout(out), self.assertRaises(SystemExit) as ctx:
            main(["xinlian", "seed-demo", "--help"])
        self.assertEqual(ctx.exception.code, 0)
        self.assertIn("--students", out.getvalue())

    def test_any_django_command_runs(self):
        out = io.StringIO()
        with redirect_stdout(out):
            main(["xinlian", "showmigrations", "network"])
        self.assertIn("0001_initial", out.getvalue())

    def test_worker_once_exits(self):
        out = io.StringIO()
        with redirect_stdout(out):
            main(["xinlian", "worker", "--once"])

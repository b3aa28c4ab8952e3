"""`xinlian seed-demo`: the demo network, then its screening campaigns. It lives in the web
layer because it spans apps (network below, screening above)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from xinlian.access import twofactor
from xinlian.activities.demo import seed_demo_activities
from xinlian.care.demo import seed_demo_concern, seed_demo_rota
from xinlian.counseling.demo import seed_demo_counseling
from xinlian.duties.demo import seed_demo_reports
from xinlian.network.demo import (
    DEFAULT_SEED,
    DEFAULT_STUDENTS,
    DEMO_USERNAMES,
    DemoError,
    demo_accounts,
    seed_demo,
)
from xinlian.network.models import User
from xinlian.planning.demo import seed_demo_planning
from xinlian.screening.demo import seed_demo_screening
from xinlian.training.demo import seed_demo_training


class Command(BaseCommand):
    help = _("Seed a deterministic demo university into an empty database and print the demo logins.")

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=DEFAULT_STUDENTS,
                            help=_("Number of students (default %(default)s)."))
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                            help=_("Random seed: the same seed gives the same people (default %(default)s)."))
        parser.add_argument("--json", action="store_true",
                            help=_("Print only a JSON list of the demo accounts."))
        parser.add_argument("--accounts-only", action="store_true",
                            help=_("Seed nothing; print the demo accounts of an already seeded database."))

    def handle(self, *args, students: int, seed: int, json: bool, accounts_only: bool, **opts):
        verbose = not json and opts.get("verbosity", 1) >= 1
        if not accounts_only:
            if students < 1:
                raise CommandError(_("--students must be at least 1."))
            progress = (lambda msg: self.stderr.write(f"  {msg}")) if verbose and students >= 20000 else None
            try:
                result = seed_demo(students, seed, progress=progress)
            except DemoError as exc:
                raise CommandError(_("The database already holds units: seed-demo only seeds an "
                                     "empty database. Use --accounts-only to print the logins.")) from exc
            if verbose:
                self.stdout.write(_(
                    "Seeded %(students)d students, %(staff)d staff, %(units)d units, %(posts)d posts, "
                    "%(guardians)d guardians and %(duties)d duties in %(seconds).1f s."
                ) % result.__dict__)
            screening = seed_demo_screening(seed)
            if verbose and screening is not None:
                self.stdout.write(_(
                    "Seeded %(campaigns)d open screening campaigns (%(invited)d invited, %(submitted)d "
                    "submitted, %(alerts)d red alerts, %(interviews)d interviews) in %(seconds).1f s."
                ) % {**screening.__dict__, "campaigns": len(screening.campaigns)})
            # After the screening demo, so that its alerts do not depend on the hour of seeding.
            shifts = seed_demo_rota()
            if verbose and shifts:
                self.stdout.write(_("Seeded %(shifts)d night duty shifts for the next two weeks.")
                                  % {"shifts": shifts})
            reports = seed_demo_reports()
            if verbose and reports:
                self.stdout.write(_("Seeded %(reports)d weekly peer reports of the last weeks.") % {"reports": reports})
            trainings = seed_demo_training()
            if verbose and trainings:
                self.stdout.write(_("Seeded %(sessions)d training sessions.") % {"sessions": trainings})
            planned = seed_demo_planning()
            if verbose and planned:
                self.stdout.write(_("Seeded this term's approved work plan and a leadership-group meeting "
                                    "(%(items)d tasks and action items).") % {"items": planned})
            activities = seed_demo_activities()
            if verbose and activities:
                self.stdout.write(_("Seeded a 5·25 campaign, a class meeting and a course (%(n)d activity assignments).")
                                  % {"n": activities})
            bookings = seed_demo_counseling()
            if verbose and bookings:
                self.stdout.write(_("Seeded the counselling rota and %(bookings)d bookings for the coming week.")
                                  % {"bookings": bookings})
            # Last, so that its red alert is raised now and the 辅导员's home opens on it.
            seed_demo_concern()
            # The director, the psychology teacher and the administrator give a second step:
            # an authenticator with the published demo key (access/twofactor.py, README).
            twofactor.seed_demo_devices(User.objects.filter(username__in=DEMO_USERNAMES))
        self._print_accounts(as_json=json)

    def _print_accounts(self, *, as_json: bool) -> None:
        accounts = demo_accounts()
        if as_json:
            self.stdout.write(json_dumps([a.as_dict() for a in accounts]))
            return
        if not accounts:
            self.stdout.write(_("No demo accounts in this database."))
            return
        headers = (_("username"), _("password"), _("role"), _("unit"))
        rows = [(a.username, a.password, a.role_label, a.unit) for a in accounts]
        widths = [max(_width(str(r[i])) for r in (headers, *rows)) for i in range(4)]
        self.stdout.write(_("Demo accounts:"))
        for row in (headers, *rows):
            self.stdout.write("  " + "  ".join(_pad(str(cell), w) for cell, w in zip(row, widths, strict=True)))
        holders = twofactor.demo_device_holders(User.objects.filter(username__in=DEMO_USERNAMES))
        if holders:
            self.stdout.write(_("Two-step verification for %(names)s: add the demo key %(key)s to an "
                                "authenticator app (time-based, 6 digits), or run: oathtool --totp -b %(key)s")
                              % {"names": ", ".join(holders), "key": twofactor.DEMO_KEY})


def json_dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))

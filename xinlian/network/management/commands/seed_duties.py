"""``xinlian seed-duties``: give every school without a duty catalogue its copy of it.

Schools added in admin and by the demo are seeded at once; this is for the rest (a school a
script created, a database from before the catalogue). A role the school already has duties
for is never touched, so running it again changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from xinlian.network.catalogue import seed_duties
from xinlian.network.models import Unit, UnitKind


class Command(BaseCommand):
    help = "Seed the duty catalogue into every school (or one, by its code) that lacks it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--school", metavar="CODE", help="only this school (its unit code)")

    def handle(self, *args: Any, **options: Any) -> None:
        schools = Unit.objects.filter(kind=UnitKind.SCHOOL)
        if options.get("school"):
            schools = schools.filter(code=options["school"])
            if not schools.exists():
                raise CommandError(f"No school has the code {options['school']!r}.")
        total = 0
        for school in schools:
            created = seed_duties(school)
            total += created
            if created:
                self.stdout.write(f"{school.code}: {created} duties")
        self.stdout.write(f"{total} duties created.")

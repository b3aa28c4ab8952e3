"""``xinlian import-roster FILE [--dry-run] [--user NUMBER]`` — the web import, from a shell."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from xinlian.lib.actions import Invalid, NotAllowed
from xinlian.network.actions import import_roster
from xinlian.network.models import User


class Command(BaseCommand):
    help = "Import students, staff, posts and guardians from an .xlsx or .csv roster (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="an .xlsx or .csv roster file")
        parser.add_argument("--dry-run", action="store_true",
                            help="validate and count, write nothing")
        parser.add_argument("--user", metavar="NUMBER",
                            help="import as this person: limits units to their scope and audits under their name")

    def handle(self, *args: object, **opts: object) -> None:
        path = Path(str(opts["file"]))
        if not path.is_file():
            raise CommandError(_("No such file: %(path)s") % {"path": path})
        actor = None
        if opts.get("user"):
            actor = User.objects.filter(username=opts["user"]).first()
            if actor is None:
                raise CommandError(_("No user has the number “%(number)s”.") % {"number": opts["user"]})
        try:
            report = import_roster(actor, path, path.name, dry_run=bool(opts["dry_run"]))
        except NotAllowed as exc:
            raise CommandError(exc.text, returncode=1) from exc
        except Invalid as exc:
            # Counts mean nothing once a row failed: validation stops before planning the writes.
            for err in exc.obj.errors:
                self.stderr.write(str(err))
            raise CommandError(_("%(count)d errors; nothing was written.") % {"count": len(exc.obj.errors)},
                               returncode=1) from exc
        for _kind, label, c in report.rows():
            self.stdout.write(_("%(kind)s: %(created)d new, %(updated)d updated, %(unchanged)d unchanged") % {
                "kind": label, "created": c.created, "updated": c.updated, "unchanged": c.unchanged})
        if report.dry_run:
            self.stdout.write(_("Dry run: nothing was written."))
        elif report.written:
            self.stdout.write(self.style.SUCCESS(_("Imported.")))
        else:
            self.stdout.write(_("Nothing to change."))

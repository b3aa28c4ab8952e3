"""``xinlian import-roster FILE [--dry-run] [--user NUMBER]`` — the web import, from a shell."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from xinlian.access.models import AuditEvent
from xinlian.access.policy import Cap, scope_units
from xinlian.network.models import User
from xinlian.network.roster import import_roster


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
        scope = None if actor is None else scope_units(actor, Cap.IMPORT_ROSTER)
        report = import_roster(path, path.name, dry_run=bool(opts["dry_run"]), scope=scope)
        if report.errors:
            # Counts mean nothing once a row failed: validation stops before planning the writes.
            for err in report.errors:
                self.stderr.write(str(err))
            raise CommandError(_("%(count)d errors; nothing was written.") % {"count": len(report.errors)},
                               returncode=1)
        for _kind, label, c in report.rows():
            self.stdout.write(_("%(kind)s: %(created)d new, %(updated)d updated, %(unchanged)d unchanged") % {
                "kind": label, "created": c.created, "updated": c.updated, "unchanged": c.unchanged})
        if report.written and actor is not None:
            AuditEvent.objects.record(actor=actor, action="roster.import", object_type="network.roster",
                                      object_id=path.name[:64], detail=report.audit_detail())
        if report.dry_run:
            self.stdout.write(_("Dry run: nothing was written."))
        elif report.written:
            self.stdout.write(self.style.SUCCESS(_("Imported.")))
        else:
            self.stdout.write(_("Nothing to change."))

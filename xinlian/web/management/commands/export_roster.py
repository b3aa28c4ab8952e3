"""``xinlian export-roster --user NUMBER -o FILE`` — the students in that person's export scope."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from xinlian.lib.actions import NotAllowed
from xinlian.network.actions import export_roster
from xinlian.network.models import User


class Command(BaseCommand):
    help = "Export the roster visible to a person as .xlsx (audited under that person)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", metavar="NUMBER", required=True,
                            help="staff number of the person exporting; their scope applies")
        parser.add_argument("-o", "--output", metavar="FILE", required=True, help="the .xlsx file to write")

    def handle(self, *args: object, **opts: object) -> None:
        user = User.objects.filter(username=opts["user"], is_active=True).first()
        if user is None:
            raise CommandError(_("No user has the number “%(number)s”.") % {"number": opts["user"]})
        try:
            data, count = export_roster(user)
        except NotAllowed:
            raise CommandError(_("%(number)s may not export the roster.") % {"number": user.username}) from None
        Path(str(opts["output"])).write_bytes(data)
        self.stdout.write(_("%(count)d students written to %(path)s.") % {"count": count, "path": opts["output"]})


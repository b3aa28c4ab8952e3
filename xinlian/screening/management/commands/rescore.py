"""``xinlian rescore --campaign ID [--rules VERSION] [--apply]`` — score a campaign's submitted
responses again under a rule version and print what changes; ``--apply`` writes it (see
:mod:`xinlian.screening.rescore`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from xinlian.screening.models import Campaign, ScreeningError
from xinlian.screening.rescore import rescore

from ._common import USAGE_ERROR, find_user


class Command(BaseCommand):
    help = _("Re-score a campaign's submitted responses under a rule version; print the changes "
             "(and write them with --apply).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", type=int, required=True, help=_("Campaign id."))
        parser.add_argument("--rules", metavar="VERSION",
                            help=_("Rule version (a rule set) to score with, or CODE=VERSION "
                                   "(repeat with commas for several instruments). Default: each "
                                   "instrument's active rule set, else the file's defaults."))
        parser.add_argument("--apply", action="store_true",
                            help=_("Write the new results and put newly positive students on the "
                                   "interview list. Without it nothing is changed."))
        parser.add_argument("--as", dest="username",
                            help=_("Who runs it, for the audit trail (default: the campaign's creator)."))

    def handle(self, *args: Any, campaign: int, rules: str | None, apply: bool, username: str | None,
               **opts: Any) -> None:
        found = Campaign.objects.select_related("school", "created_by").filter(pk=campaign).first()
        if found is None:
            raise CommandError(_("No campaign %(id)s.") % {"id": campaign}, returncode=USAGE_ERROR)
        actor = find_user(username) if username else None
        try:
            report = rescore(found, rules=parse_rules(rules), apply=apply, actor=actor)
        except ScreeningError as exc:
            raise CommandError(" ".join(exc.messages), returncode=USAGE_ERROR) from exc
        for line in report.lines():
            self.stdout.write(line)


def parse_rules(text: str | None) -> str | dict[str, str] | None:
    """``VERSION`` or ``CODE=VERSION[,CODE=VERSION...]``."""
    if not text:
        return None
    if "=" not in text:
        return text.strip()
    out = {}
    for part in text.split(","):
        code, _sep, version = part.partition("=")
        if not code.strip() or not version.strip():
            raise CommandError(_("--rules: write VERSION or CODE=VERSION."), returncode=USAGE_ERROR)
        out[code.strip().upper()] = version.strip()
    return out

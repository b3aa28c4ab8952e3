"""The network's verbs: each action once, for the page, the API and the command line alike.

A verb takes the acting user and does the capability check through the access policy, the rule
(in :mod:`xinlian.network.roster`) and the audit row, in one transaction. The models and rules
of ``network`` sit below ``access`` and never import it; this module, like the app's API and
admin, is the place where they meet."""

from __future__ import annotations

import os
from typing import IO

from django.conf import settings
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from xinlian.access.policy import Cap, audit, has_cap, scope_label, scope_units, visible_students
from xinlian.lib.actions import Invalid, NotAllowed

from .models import User
from .roster import ImportReport, import_file
from .roster import export_roster as build_export

# Multipart framing around the file: a request larger than the limit plus this cannot hold a valid file.
UPLOAD_OVERHEAD = 64 * 1024


def may_import_roster(actor: User) -> bool:
    """Whether ``actor`` may import (and so download the template and see the import page)."""
    return has_cap(actor, Cap.IMPORT_ROSTER)


def check_may_import_roster(actor: User) -> None:
    """NotAllowed unless ``actor`` may import: the verb's first step, which an adapter may also
    take before it reads an upload at all."""
    if not may_import_roster(actor):
        raise NotAllowed(_("You may not import the roster."))


def upload_too_large(request: HttpRequest) -> str:
    """The message for a request whose Content-Length already rules out a file within the limit
    ("" when it does not), for the adapters to answer 413 before the body is parsed to disk."""
    if int(request.META.get("CONTENT_LENGTH") or 0) <= settings.ROSTER_MAX_UPLOAD_BYTES + UPLOAD_OVERHEAD:
        return ""
    return _("The file is larger than %(limit)s; split it into smaller files.") % {
        "limit": filesizeformat(settings.ROSTER_MAX_UPLOAD_BYTES)}


def import_roster(actor: User | None, source: str | os.PathLike[str] | IO[bytes], filename: str | None = None,
                  *, dry_run: bool, request: HttpRequest | None = None) -> ImportReport:
    """Import a roster file (.xlsx or CSV, told apart by content) as ``actor``, all or nothing.

    - NotAllowed without ``Cap.IMPORT_ROSTER``;
    - units and people are limited to the actor's IMPORT_ROSTER scope;
    - Invalid (``obj`` is the report, with every error by sheet, row and column) when any row
      is wrong: nothing is written;
    - a written import leaves one ``roster.import`` audit row (counts only) in the transaction
      that writes the rows; a dry run or an import that changes nothing leaves none.

    ``actor`` None is the operator at the shell (``xinlian import-roster`` without ``--user``):
    no scope limit and no audit row — there is nobody to name, and the shell holds the database
    anyway. ``request`` only gives the audit row its IP address."""
    if actor is not None:
        check_may_import_roster(actor)
    scope = None if actor is None else scope_units(actor, Cap.IMPORT_ROSTER)

    def record(report: ImportReport) -> None:
        audit(request, "roster.import", object_type="network.roster", object_id=report.filename[:64],
              detail=report.audit_detail(), user=actor)

    report = import_file(source, filename, dry_run=dry_run, scope=scope,
                         on_write=record if actor is not None else None)
    if not report.ok:
        raise Invalid(report.error_summary(), obj=report)
    return report


def export_roster(actor: User, *, request: HttpRequest | None = None) -> tuple[bytes, int]:
    """The students in ``actor``'s export scope as .xlsx bytes (formula-safe), and how many.

    NotAllowed without ``Cap.EXPORT_ROSTER``; every export leaves a ``roster.export`` audit row
    naming the scope and the count (never the names). The page and ``xinlian export-roster``
    both call this."""
    if not has_cap(actor, Cap.EXPORT_ROSTER):
        raise NotAllowed(_("You may not export the roster."))
    data, count = build_export(visible_students(actor, Cap.EXPORT_ROSTER))
    audit(request, "roster.export", object_type="network.roster",
          object_id=scope_label(actor, Cap.EXPORT_ROSTER), detail=str(count), user=actor)
    return data, count

"""Shared by the screening commands: finding an instrument or a user and parsing ``--set``
values."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError
from django.db import DatabaseError
from django.utils.translation import gettext as _

from xinlian.network.models import User
from xinlian.screening.models import Instrument

USAGE_ERROR = 2  # bad input on the command line (as argparse itself exits)


def find_instrument(code: str, version: str | None = None) -> Instrument:
    """The instrument row (the latest version unless one is named); a clear error otherwise."""
    sync_builtin()
    code = code.strip()
    rows = Instrument.objects.filter(code__iexact=code)
    if version:
        found = rows.filter(version=version).first()
        if found is None:
            have = ", ".join(sorted(rows.values_list("version", flat=True))) or "—"
            raise CommandError(_("%(code)s has no version %(v)s (loaded: %(have)s).")
                               % {"code": code, "v": version, "have": have}, returncode=USAGE_ERROR)
        return found
    exact = rows.first()
    found = Instrument.latest(exact.code) if exact is not None else None
    if found is None:
        known = ", ".join(sorted(set(Instrument.objects.values_list("code", flat=True))))
        raise CommandError(_("Unknown instrument %(code)s. Known codes: %(known)s.")
                           % {"code": code, "known": known}, returncode=USAGE_ERROR)
    return found


def find_user(username: str) -> User:
    """The user named by ``--as``; a usage error (exit code 2) when there is none."""
    found = User.objects.filter(username=username).first()
    if found is None:
        raise CommandError(_("No user %(name)s.") % {"name": username}, returncode=USAGE_ERROR)
    return found


def sync_builtin() -> None:
    """Shipped files become rows (a file shipped since the last migrate is usable at once)."""
    try:
        Instrument.sync_builtin()
    except DatabaseError as exc:
        raise CommandError(_("The database is not ready (%(error)s): run `xinlian migrate` first.")
                           % {"error": str(exc).splitlines()[0]}) from exc


def parse_setting(text: str) -> tuple[str, Any]:
    """``key=value``: the value read as JSON when it is (10, 2.5, true), else as text (ge)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(text)
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value

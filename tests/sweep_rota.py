"""Sweep rows for the duty rota pages (see tests/test_sweep.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import LOGIN, only, row

# Who keeps a rota: the centre director (the school and every college), the 辅导员 of a college
# (their own). College A's rota is swept: its 辅导员 and the director open it, anyone else 404.
KEEPERS = ("director", "counsellor_a", "outsider_b")
POST_ONLY = row(405, 405)

EXPECT: dict[str, dict[str, Any]] = {
    "rota": only(KEEPERS, 200, 404, LOGIN),
    "rota-template": only(KEEPERS, 200, 404, LOGIN),
    "rota-unit": only(("director", "counsellor_a"), 200, 404, LOGIN),
    "rota-add": POST_ONLY,
    "rota-remove": POST_ONLY,
    "rota-import": POST_ONLY,
    "rota-line": POST_ONLY,
}


def _college_a(t: Any) -> dict[str, Any]:
    return {"pk": t.college_a.pk}


def _none(t: Any) -> dict[str, Any]:
    return {}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "rota-unit": _college_a,
    "rota-add": _college_a,
    "rota-import": _college_a,
    "rota-line": lambda t: {"pk": t.school.pk},
    "rota-remove": lambda t: {"pk": t.college_a.pk, "shift": t.rota_shift.pk},
}

WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "rota": (_none, ["post", "put", "delete"]),
    "rota-template": (_none, ["post", "delete"]),
    "rota-unit": (_college_a, ["post", "put", "delete"]),
    "rota-add": (_college_a, ["get", "put", "delete"]),
    "rota-remove": (KWARGS["rota-remove"], ["get", "put", "delete"]),
    "rota-import": (_college_a, ["get", "put", "delete"]),
    "rota-line": (KWARGS["rota-line"], ["get", "put", "delete"]),
}


def setup(cls: Any) -> None:
    """A night shift of college A's 辅导员 next week."""
    import datetime as dt

    from django.utils import timezone

    from xinlian.care.models import DutyRole, DutyShift, ShiftKind

    cls.rota_shift = DutyShift.objects.create(
        unit=cls.college_a, date=timezone.localdate() + dt.timedelta(days=3), kind=ShiftKind.NIGHT,
        role=DutyRole.FIRST_LINE, person=cls.counsellor_a)

"""Sweep rows for the duty rota pages (see tests/test_sweep.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import API, LOGIN, only, row

# Who keeps a rota: the centre director (the school and every college), the 辅导员 of a college
# (their own). College A's rota is swept: its 辅导员 and the director open it, anyone else 404.
KEEPERS = ("director", "counsellor_a", "outsider_b")
POST_ONLY = row(405, 405)
API_ACTION = row(405, API)  # GET on an endpoint that only changes: 405 once logged in


def _college_a_rota(anonymous: Any) -> dict[str, Any]:
    # The leader (组长) sees college A in their roster scope but keeps no rota: 403, not 404.
    return {**only(("director", "counsellor_a"), 200, 404, anonymous), "leader": 403}


EXPECT: dict[str, dict[str, Any]] = {
    "rota": only(KEEPERS, 200, 404, LOGIN),
    "rota-template": only(KEEPERS, 200, 404, LOGIN),
    "rota-unit": _college_a_rota(LOGIN),
    "rota-add": POST_ONLY,
    "rota-remove": POST_ONLY,
    "rota-import": POST_ONLY,
    "rota-line": POST_ONLY,
    # the API (/api/v1/care/rota/), over the same verbs
    "care-api:rota-list": row(200, API),
    "care-api:rota-shifts": _college_a_rota(API),
    "care-api:rota-shift": API_ACTION,
    "care-api:rota-line": API_ACTION,
    "care-api:rota-import": API_ACTION,
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
    "care-api:rota-shifts": _college_a,
    "care-api:rota-shift": lambda t: {"pk": t.college_a.pk, "shift": t.rota_shift.pk},
    "care-api:rota-line": lambda t: {"pk": t.school.pk},
    "care-api:rota-import": _college_a,
}

WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "rota": (_none, ["post", "put", "delete"]),
    "rota-template": (_none, ["post", "delete"]),
    "rota-unit": (_college_a, ["post", "put", "delete"]),
    "rota-add": (_college_a, ["get", "put", "delete"]),
    "rota-remove": (KWARGS["rota-remove"], ["get", "put", "delete"]),
    "rota-import": (_college_a, ["get", "put", "delete"]),
    "rota-line": (KWARGS["rota-line"], ["get", "put", "delete"]),
    "care-api:rota-list": (_none, ["post", "put", "patch", "delete"]),
    "care-api:rota-shifts": (_college_a, ["put", "patch", "delete"]),
    "care-api:rota-shift": (KWARGS["care-api:rota-shift"], ["get", "post", "put", "patch"]),
    "care-api:rota-line": (KWARGS["care-api:rota-line"], ["get", "post", "patch", "delete"]),
    "care-api:rota-import": (_college_a, ["get", "put", "patch", "delete"]),
}


def setup(cls: Any) -> None:
    """A night shift of college A's 辅导员 next week."""
    import datetime as dt

    from django.utils import timezone

    from xinlian.care.models import DutyRole, DutyShift, ShiftKind

    cls.rota_shift = DutyShift.objects.create(
        unit=cls.college_a, date=timezone.localdate() + dt.timedelta(days=3), kind=ShiftKind.NIGHT,
        role=DutyRole.FIRST_LINE, person=cls.counsellor_a)

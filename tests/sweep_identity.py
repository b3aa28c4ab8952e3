"""Sweep rows for first login with a one-time code, the slips and the teachers' resets (see
tests/test_sweep.py). A GET of the slips or reset page shows options and issues nothing; the
POSTs that issue codes are tested in tests/test_first_login.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import LOGIN, row

# Who sees class A1's page (tests/test_sweep.py SEES_CLASS_A1) and who of them may print its
# slips: its 班主任, the college's 辅导员 and the centre director; the others who see it: 403.
SLIPS = {**row(404, LOGIN), "counsellor_a": 200, "head_teacher_a1": 200, "director": 200,
         "committee_a1": 403, "leader": 403}
# Who sees S0001's page and who may reset their password; S0001 themselves never (not self-service).
RESET = {**row(404, LOGIN), "counsellor_a": 200, "head_teacher_a1": 200, "director": 200,
         "committee_a1": 403, "liaison_a1": 403, "student_a1_user": 403, "leader": 403}

EXPECT: dict[str, dict[str, Any]] = {
    "first-login": row(200, 200),
    # Without a code checked in this session, step 2 sends you back to step 1.
    "first-login-password": row((302, "first-login"), (302, "first-login")),
    "unit-first-login-slips": SLIPS,
    "student-reset-password": RESET,
    "api:unit-first-login-slips": row(405, 403),  # POST only
    "api:user-reset": row(405, 403),  # POST only
}

KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "unit-first-login-slips": lambda t: {"pk": t.class_a1.pk},
    "student-reset-password": lambda t: {"pk": t.student_a1.pk},
    "api:unit-first-login-slips": lambda t: {"pk": t.class_a1.pk},
    "api:user-reset": lambda t: {"pk": t.student_a1.user_id},
}


def _none(t: Any) -> dict[str, Any]:
    return {}


WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "first-login": (_none, ["put", "delete"]),
    "first-login-password": (_none, ["put", "delete"]),
    "unit-first-login-slips": (KWARGS["unit-first-login-slips"], ["put", "delete"]),
    "student-reset-password": (KWARGS["student-reset-password"], ["put", "delete"]),
    "api:unit-first-login-slips": (KWARGS["api:unit-first-login-slips"], ["get", "put", "delete"]),
    "api:user-reset": (KWARGS["api:user-reset"], ["get", "put", "delete"]),
}


def setup(cls: Any) -> None:
    """No fixtures: the personas' class and student are enough."""

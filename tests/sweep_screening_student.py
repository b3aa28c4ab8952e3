"""Sweep rows for the respondent pages of screening (see tests/test_sweep.py); ``WRONG_METHODS``
for tests/test_access_trio.py.

The objects are tests/screening_base.ensure_sweep_objects: student_a1 has submitted the sweep
campaign, so their questionnaire page sends them on to the thank-you page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .screening_base import ensure_sweep_objects
from .test_sweep import ANY_REDIRECT, LOGIN, only, row

OWNER = ("student_a1_user",)
POST_ONLY = row(405, 405)  # the method check comes before the login check

EXPECT: dict[str, dict[str, Any]] = {
    # Everybody signed in has a list, even an empty one (staff take screenings too).
    "screening:mine": row(200, LOGIN),
    # Only the respondent reaches an assignment; anybody else's is missing. Submitted: on to
    # the thank-you page.
    "screening:take": only(OWNER, ANY_REDIRECT, 404, LOGIN),
    "screening:consent": POST_ONLY,
    "screening:answer": POST_ONLY,
    "screening:submit": POST_ONLY,
    "screening:thanks": only(OWNER, 200, 404, LOGIN),
}


def _assignment(t: Any) -> dict[str, Any]:
    return {"pk": t.scr_assignment_a1.pk}


def _none(t: Any) -> dict[str, Any]:
    return {}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "screening:take": _assignment,
    "screening:consent": _assignment,
    "screening:answer": _assignment,
    "screening:submit": _assignment,
    "screening:thanks": _assignment,
}

ACTION = ["get", "put", "delete"]
PAGE = ["post", "put", "delete"]
# Sent as the director, whose assignment this is not: the 405 comes before the 404.
WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "screening:mine": (_none, PAGE),
    "screening:take": (_assignment, PAGE),
    "screening:consent": (_assignment, ACTION),
    "screening:answer": (_assignment, ACTION),
    "screening:submit": (_assignment, ACTION),
    "screening:thanks": (_assignment, PAGE),
}


def setup(cls: Any) -> None:
    ensure_sweep_objects(cls)

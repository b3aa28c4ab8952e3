"""Sweep rows for the screening REST API (``/api/v1/screening/``, see tests/test_sweep.py);
``WRONG_METHODS`` for tests/test_access_trio.py.

The objects are tests/screening_base.ensure_sweep_objects: student_a1 has submitted the sweep
campaign (a critical item), student_b1 has consented and answered one item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .screening_base import ensure_sweep_objects
from .test_sweep import API, only, row

POST_ONLY = row(405, API)  # a GET on an action: 405 once logged in, 403 before

EXPECT: dict[str, dict[str, Any]] = {
    # Lists are scoped, never forbidden: students get an empty campaign and result list.
    "screening-api:campaign-list": row(200, API),
    "screening-api:my-assignments": row(200, API),
    # Only the respondent reaches their own assignment; anybody else's is missing.
    "screening-api:assignment-detail": only(("student_a1_user",), 200, 404, API),
    "screening-api:consent": POST_ONLY,
    "screening-api:save-answer": POST_ONLY,
    "screening-api:submit": POST_ONLY,
    "screening-api:result-list": row(200, API),
    # Staff: one respondent's results for tier-3 readers of college A (the centre, its 辅导员).
    "screening-api:assignment-results": only(("counsellor_a", "director"), 200, 404, API),
    "screening-api:guardian-consent": POST_ONLY,
    "screening-api:interview-outcome": POST_ONLY,
}


def _assignment(t: Any) -> dict[str, Any]:
    return {"pk": t.scr_assignment_a1.pk}


def _interview(t: Any) -> dict[str, Any]:
    return {"pk": t.scr_interview.pk}


def _none(t: Any) -> dict[str, Any]:
    return {}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "screening-api:assignment-detail": _assignment,
    "screening-api:consent": _assignment,
    "screening-api:save-answer": _assignment,
    "screening-api:submit": _assignment,
    "screening-api:assignment-results": _assignment,
    "screening-api:guardian-consent": _assignment,
    "screening-api:interview-outcome": _interview,
}

LIST = ["post", "put", "patch", "delete"]
ACTION = ["get", "put", "patch", "delete"]
# Sent as the director, whose assignment this is not: the 405 comes before the 404.
WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "screening-api:campaign-list": (_none, LIST),
    "screening-api:my-assignments": (_none, LIST),
    "screening-api:assignment-detail": (_assignment, LIST),
    "screening-api:consent": (_assignment, ACTION),
    "screening-api:save-answer": (_assignment, ACTION),
    "screening-api:submit": (_assignment, ACTION),
    "screening-api:result-list": (_none, LIST),
    "screening-api:assignment-results": (_assignment, LIST),
    "screening-api:guardian-consent": (_assignment, ACTION),
    "screening-api:interview-outcome": (_interview, ACTION),
}


def setup(cls: Any) -> None:
    ensure_sweep_objects(cls)

"""Sweep rows for the care REST API (``/api/v1/care/``) and the care back office (see
tests/test_sweep.py). ``WRONG_METHODS`` has the same shape as tests/test_access_trio.py's table,
for merging there."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from xinlian.care.models import Alert, AlertSource, Case, Concern, Level, RiskEntry

from .sweep_care import EXPECT as PAGE_EXPECT
from .test_sweep import ADMIN_LOGIN, ANON, API, SEES_STUDENT_A1, only, row

# Who may open the alert: its responsible first rung (辅导员, head teacher) and the centre.
SEES_ALERT = ("counsellor_a", "head_teacher_a1", "director")
POST_ONLY = row(405, API)  # GET on an action endpoint: 405 once logged in, 403 before


def _as_page(name: str) -> dict[str, Any]:
    """The same answers as the page of the same list (one action behind both), API-anonymous."""
    return {**PAGE_EXPECT[name], ANON: API}


def _case_detail() -> dict[str, Any]:
    # The director (case tier) reads it; staff with the risk tier get the break-glass 403.
    expected = only(("director",), 200, 404, API)
    expected.update({"counsellor_a": 403, "head_teacher_a1": 403})
    return expected


def _guardians() -> dict[str, Any]:
    # The 辅导员, the head teacher and the director read them; the rest of the roster scope: 403.
    expected = only(("counsellor_a", "head_teacher_a1", "director"), 200, 404, API)
    expected.update({p: 403 for p in SEES_STUDENT_A1
                     if p not in ("counsellor_a", "head_teacher_a1", "director")})
    return expected


EXPECT: dict[str, dict[str, Any]] = {
    "care-api:concern-list": row(200, API),
    "care-api:alert-list": _as_page("alert-inbox"),
    "care-api:alert-detail": only(SEES_ALERT, 200, 404, API),
    "care-api:alert-acknowledge": POST_ONLY,
    "care-api:alert-triage": POST_ONLY,
    "care-api:alert-resolve": POST_ONLY,
    "care-api:register-list": _as_page("register"),
    "care-api:follow-up-list": POST_ONLY,
    "care-api:case-list": _as_page("case-list"),
    "care-api:case-detail": _case_detail(),
    "care-api:case-records": POST_ONLY,
    "care-api:case-team": POST_ONLY,
    "care-api:case-break-glass": POST_ONLY,
    "care-api:case-request-closure": POST_ONLY,
    "care-api:case-close": POST_ONLY,
    "care-api:case-send-back": POST_ONLY,
    "care-api:case-reopen": POST_ONLY,
    "care-api:student-timeline": only(SEES_STUDENT_A1, 200, 404, API),
    "care-api:student-guardians": _guardians(),
    # back office (the director is the only persona who may enter it)
    "admin:care_levelsetting_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
    "admin:care_alert_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
    "admin:care_concern_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
    "admin:care_case_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
    "admin:notify_robot_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
}


def _alert(t: Any) -> dict[str, Any]:
    return {"pk": t.care_api_alert.pk}


def _case(t: Any) -> dict[str, Any]:
    return {"pk": t.care_api_case.pk}


def _student(t: Any) -> dict[str, Any]:
    return {"pk": t.student_a1.pk}


def _none(t: Any) -> dict[str, Any]:
    return {}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "care-api:alert-detail": _alert,
    "care-api:alert-acknowledge": _alert,
    "care-api:alert-triage": _alert,
    "care-api:alert-resolve": _alert,
    "care-api:case-detail": _case,
    "care-api:case-records": _case,
    "care-api:case-team": _case,
    "care-api:case-break-glass": _case,
    "care-api:case-request-closure": _case,
    "care-api:case-close": _case,
    "care-api:case-send-back": _case,
    "care-api:case-reopen": _case,
    "care-api:student-timeline": _student,
    "care-api:student-guardians": _student,
}

# url name → (kwargs, methods that must answer 405), sent as the director.
ACTION = ["get", "put", "patch", "delete"]
WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "care-api:concern-list": (_none, ["put", "patch", "delete"]),
    "care-api:alert-list": (_none, ["post", "put", "patch", "delete"]),
    "care-api:alert-detail": (_alert, ["post", "put", "patch", "delete"]),
    "care-api:alert-acknowledge": (_alert, ACTION),
    "care-api:alert-triage": (_alert, ACTION),
    "care-api:alert-resolve": (_alert, ACTION),
    "care-api:register-list": (_none, ["put", "patch", "delete"]),
    "care-api:follow-up-list": (_none, ACTION),
    "care-api:case-list": (_none, ["put", "patch", "delete"]),
    "care-api:case-detail": (_case, ["post", "put", "patch", "delete"]),
    "care-api:case-records": (_case, ACTION),
    "care-api:case-team": (_case, ACTION),
    "care-api:case-break-glass": (_case, ACTION),
    "care-api:case-request-closure": (_case, ACTION),
    "care-api:case-close": (_case, ACTION),
    "care-api:case-send-back": (_case, ACTION),
    "care-api:case-reopen": (_case, ACTION),
    "care-api:student-timeline": (_student, ["post", "put", "patch", "delete"]),
    "care-api:student-guardians": (_student, ["post", "put", "patch", "delete"]),
}


def setup(cls: Any) -> None:
    """An alert, a case, a concern and a register line on student_a1, of this module's own."""
    cls.care_api_alert = Alert.raise_for(cls.student_a1, Level.YELLOW, AlertSource.COUNSELLOR)
    # One open case per student: share the page sweep's case when it is already open.
    cls.care_api_case = Case.open_case_of(cls.student_a1) or Case.open_for(cls.student_a1, by=cls.director)
    Concern.submit(key=uuid.uuid4(), reporter=cls.liaison_a1, student=cls.student_a1,
                   category="emotional", urgency="routine", seen="sweep: 情绪低落")
    RiskEntry.set_level(cls.student_a1, "yellow", by=cls.director, reason="sweep: 观察")

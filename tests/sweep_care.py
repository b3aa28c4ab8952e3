"""Sweep rows for the care pages (see tests/test_sweep.py). ``WRONG_METHODS`` has the shape of
tests/test_access_trio.py's table, for merging there."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from xinlian.care.models import Case, Concern, RiskEntry

from .test_sweep import LOGIN, only, row

# The staff who read the risk tier somewhere (counsellor_a and outsider_b are 辅导员).
RISK_READERS = ("counsellor_a", "head_teacher_a1", "outsider_b", "director")
# Who may open the alert on student_a1: its first rung (辅导员, head teacher) and the centre.
SEES_ALERT = ("counsellor_a", "head_teacher_a1", "director")
POST_ONLY = row(405, 405)  # the method check comes before the login check


def _case_detail() -> dict[str, Any]:
    # The director reads it (case tier); staff with the risk tier get the break-glass page (403).
    expected = only(("director",), 200, 404, LOGIN)
    expected.update({"counsellor_a": 403, "head_teacher_a1": 403})
    return expected


EXPECT: dict[str, dict[str, Any]] = {
    # Everyone in the network may report (the leadership too); the bureau viewer reports about nobody.
    "concern-new": only(("counsellor_a", "head_teacher_a1", "committee_a1", "liaison_a1",
                         "student_a1_user", "outsider_b", "director", "leader"), 200, 403, LOGIN),
    "concern-mine": row(200, LOGIN),
    "alert-inbox": only((*RISK_READERS, "leader"), 200, 403, LOGIN),  # the leader: top rung
    "alert-detail": only(SEES_ALERT, 200, 404, LOGIN),
    "alert-acknowledge": POST_ONLY,
    "alert-triage": POST_ONLY,
    "alert-resolve": POST_ONLY,
    "register": only(RISK_READERS, 200, 403, LOGIN),
    "register-set": POST_ONLY,
    "follow-up-new": POST_ONLY,
    "case-list": only(RISK_READERS, 200, 403, LOGIN),
    "case-new": POST_ONLY,
    "case-detail": _case_detail(),
    "case-break-glass": POST_ONLY,
    "case-record": POST_ONLY,
    "case-team": POST_ONLY,
    "case-request-closure": POST_ONLY,
    "case-close": POST_ONLY,
    "case-send-back": POST_ONLY,
    "case-reopen": POST_ONLY,
}


def _alert(t: Any) -> dict[str, Any]:
    return {"pk": t.care_alert.pk}


def _case(t: Any) -> dict[str, Any]:
    return {"pk": t.care_case.pk}


def _student(t: Any) -> dict[str, Any]:
    return {"pk": t.student_a1.pk}


def _none(t: Any) -> dict[str, Any]:
    return {}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "alert-detail": _alert,
    "alert-acknowledge": _alert,
    "alert-triage": _alert,
    "alert-resolve": _alert,
    "register-set": _student,
    "follow-up-new": _student,
    "case-detail": _case,
    "case-break-glass": _case,
    "case-record": lambda t: {"pk": t.care_case.pk, "kind": "note"},
    "case-team": _case,
    "case-request-closure": _case,
    "case-close": _case,
    "case-send-back": _case,
    "case-reopen": _case,
}

ACTION = ["get", "put", "delete"]
PAGE = ["put", "delete"]
WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "concern-new": (_none, ["put", "patch", "delete"]),
    "concern-mine": (_none, ["post", "delete"]),
    "alert-inbox": (_none, ["post", "delete"]),
    "alert-detail": (_alert, ["post", "put", "delete"]),
    "alert-acknowledge": (_alert, ACTION),
    "alert-triage": (_alert, ACTION),
    "alert-resolve": (_alert, ACTION),
    "register": (_none, ["post", "delete"]),
    "register-set": (_student, ACTION),
    "follow-up-new": (_student, ACTION),
    "case-list": (_none, ["post", "delete"]),
    "case-new": (_none, ACTION),
    "case-detail": (_case, ["post", "put", "delete"]),
    "case-break-glass": (_case, ACTION),
    "case-record": (KWARGS["case-record"], ACTION),
    "case-team": (_case, ACTION),
    "case-request-closure": (_case, ACTION),
    "case-close": (_case, ACTION),
    "case-send-back": (_case, ACTION),
    "case-reopen": (_case, ACTION),
}


def setup(cls: Any) -> None:
    """A red alert from a dorm liaison's report, a case opened from it by the director, and a
    register line — all on student_a1."""
    concern, _ = Concern.submit(key=uuid.uuid4(), reporter=cls.liaison_a1, student=cls.student_a1,
                                category="self_harm", urgency="soon", seen="sweep: 说不想活了")
    cls.care_alert = concern.alerts.get()
    cls.care_case = Case.open_for(cls.student_a1, by=cls.director, alert=cls.care_alert)
    RiskEntry.set_level(cls.student_a1, "orange", by=cls.director, reason="sweep: 访谈后评估")

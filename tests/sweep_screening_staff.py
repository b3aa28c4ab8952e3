"""Sweep rows for the staff screening pages (see tests/test_sweep.py), and their
``WRONG_METHODS`` rows for tests/test_access_trio.py. Objects: tests/screening_base.ensure_sweep_objects
(an open PHQ-9 campaign at SCH; student_a1 submitted with a critical item — an urgent interview;
student_b1 started)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .screening_base import ensure_sweep_objects
from .test_sweep import ADMIN_LOGIN, LOGIN, only, row

# Everyone who follows students up somewhere in the school (the risk tier) sees its campaigns.
RISK_STAFF = ("counsellor_a", "head_teacher_a1", "outsider_b", "director")
# Who reads results in college A (tier 3): the centre and college A's 辅导员.
READS_A = ("counsellor_a", "director")
POST_ONLY = row(405, 405)  # the method check comes before the login check


def _campaign_edit() -> dict[str, Any]:
    expected = only(("director",), 200, 404, LOGIN)
    expected.update({"counsellor_a": 403, "head_teacher_a1": 403, "outsider_b": 403})  # see, not manage
    return expected


def _report() -> dict[str, Any]:
    # outsider_b is 辅导员 of college B: their own college's report (nothing of college A on it).
    expected = only(("counsellor_a", "outsider_b", "director"), 200, 404, LOGIN)
    expected["head_teacher_a1"] = 403  # sees the campaign's progress, never its results
    return expected


def _interview_list() -> dict[str, Any]:
    # Tier-3 readers get the full list, head teachers a status-only one; peers nothing.
    return only(RISK_STAFF, 200, 403, LOGIN)


EXPECT: dict[str, dict[str, Any]] = {
    "screening:campaign-list": only(RISK_STAFF, 200, 403, LOGIN),
    "screening:campaign-new": only(("director",), 200, 403, LOGIN),
    "screening:campaign-detail": only(RISK_STAFF, 200, 404, LOGIN),
    "screening:campaign-edit": _campaign_edit(),
    "screening:campaign-launch": POST_ONLY,
    "screening:campaign-unit": only(("counsellor_a", "head_teacher_a1", "director"), 200, 404, LOGIN),
    "screening:campaign-report": _report(),
    "screening:campaign-export": _report(),
    "screening:guardian-consent": POST_ONLY,
    "screening:result-detail": only(READS_A, 200, 404, LOGIN),
    "screening:interview-list": _interview_list(),
    "screening:interview-detail": only(READS_A, 200, 404, LOGIN),
    "screening:instrument-list": only(("director",), 200, 403, LOGIN),
    "screening:instrument-upload": only(("director",), 200, 403, LOGIN),
    "screening:instrument-detail": only(("director",), 200, 403, LOGIN),
    # the back office (one sample per model)
    "admin:screening_instrument_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
    "admin:screening_ruleset_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
    "admin:screening_centresettings_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
}


def _campaign(t: Any) -> dict[str, Any]:
    return {"pk": t.scr_campaign.pk}


def _none(t: Any) -> dict[str, Any]:
    return {}


def _class_a1(t: Any) -> dict[str, Any]:
    return {"pk": t.scr_campaign.pk, "unit": t.class_a1.pk}


def _assignment_a1(t: Any) -> dict[str, Any]:
    return {"pk": t.scr_assignment_a1.pk}


def _interview(t: Any) -> dict[str, Any]:
    return {"pk": t.scr_interview.pk}


def _instrument(t: Any) -> dict[str, Any]:
    return {"pk": t.scr_instrument.pk}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "screening:campaign-detail": _campaign,
    "screening:campaign-edit": _campaign,
    "screening:campaign-launch": _campaign,
    "screening:campaign-unit": _class_a1,
    "screening:campaign-report": _campaign,
    "screening:campaign-export": _campaign,
    "screening:guardian-consent": _assignment_a1,
    "screening:result-detail": _assignment_a1,
    "screening:interview-detail": _interview,
    "screening:instrument-detail": _instrument,
}

ACTION = ["get", "put", "delete"]
PAGE = ["put", "patch", "delete"]
READ = ["post", "put", "delete"]
WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "screening:campaign-list": (_none, READ),
    "screening:campaign-new": (_none, PAGE),
    "screening:campaign-detail": (_campaign, READ),
    "screening:campaign-edit": (_campaign, PAGE),
    "screening:campaign-launch": (_campaign, ACTION),
    "screening:campaign-unit": (_class_a1, READ),
    "screening:campaign-report": (_campaign, READ),
    "screening:campaign-export": (_campaign, READ),
    "screening:guardian-consent": (_assignment_a1, ACTION),
    "screening:result-detail": (_assignment_a1, READ),
    "screening:interview-list": (_none, READ),
    "screening:interview-detail": (_interview, PAGE),
    "screening:instrument-list": (_none, READ),
    "screening:instrument-upload": (_none, PAGE),
    "screening:instrument-detail": (_instrument, READ),
}


def setup(cls: Any) -> None:
    ensure_sweep_objects(cls)

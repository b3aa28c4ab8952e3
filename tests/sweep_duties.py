"""Sweep rows for the periodic report pages and API (see tests/test_sweep.py and
tests/test_access_trio.py). The swept report is class A1's, filed by its 心理委员 with one
student flagged: its author, the 辅导员 of college A and the centre open it; anyone else 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import API, LOGIN, only, row

REPORTS_HOME = ("counsellor_a", "committee_a1", "liaison_a1", "outsider_b", "director", "leader")
OPENS_REPORT = ("committee_a1", "counsellor_a", "director")
REVIEWERS = ("counsellor_a", "outsider_b")
COMPLETENESS = ("counsellor_a", "outsider_b", "director", "leader")
POST_ONLY = row(405, 405)
API_ACTION = row(405, API)

EXPECT: dict[str, dict[str, Any]] = {
    "duties:home": only(REPORTS_HOME, 200, 403, LOGIN),
    "duties:report-form": only(("committee_a1",), 200, 404, LOGIN),
    "duties:report-detail": only(OPENS_REPORT, 200, 404, LOGIN),
    "duties:report-sign-off": POST_ONLY,
    "duties:report-send-back": POST_ONLY,
    "duties:review": only(REVIEWERS, 200, 403, LOGIN),
    "duties:completeness": only(COMPLETENESS, 200, 403, LOGIN),
    "duties:cycle-set": POST_ONLY,
    "duties-api:report-list": row(200, API),
    "duties-api:report-detail": only(OPENS_REPORT, 200, 404, API),
    "duties-api:report-sign-off": API_ACTION,
    "duties-api:report-send-back": API_ACTION,
    "duties-api:completeness": only(COMPLETENESS, 200, 403, API),
}


def _report(t: Any) -> dict[str, Any]:
    return {"pk": t.duty_report.pk}


def _none(t: Any) -> dict[str, Any]:
    return {}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "duties:report-form": lambda t: {"post": t.duty_report.post_id, "period": t.duty_report.period_id},
    "duties:report-detail": _report,
    "duties:report-sign-off": _report,
    "duties:report-send-back": _report,
    "duties:cycle-set": lambda t: {"pk": t.duty_report.period.cycle_id},
    "duties-api:report-detail": _report,
    "duties-api:report-sign-off": _report,
    "duties-api:report-send-back": _report,
}

WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "duties:home": (_none, ["post", "put", "delete"]),
    "duties:report-form": (KWARGS["duties:report-form"], ["put", "delete"]),
    "duties:report-detail": (_report, ["post", "put", "delete"]),
    "duties:report-sign-off": (_report, ["get", "put", "delete"]),
    "duties:report-send-back": (_report, ["get", "put", "delete"]),
    "duties:review": (_none, ["post", "put", "delete"]),
    "duties:completeness": (_none, ["post", "put", "delete"]),
    "duties:cycle-set": (KWARGS["duties:cycle-set"], ["get", "put", "delete"]),
    "duties-api:report-list": (_none, ["put", "patch", "delete"]),
    "duties-api:report-detail": (_report, ["post", "put", "patch", "delete"]),
    "duties-api:report-sign-off": (_report, ["get", "put", "patch", "delete"]),
    "duties-api:report-send-back": (_report, ["get", "put", "patch", "delete"]),
    "duties-api:completeness": (_none, ["post", "put", "patch", "delete"]),
}


def setup(cls: Any) -> None:
    """The school's report cycles and class A1's report for the open week, one student flagged."""
    from xinlian.duties import cycles
    from xinlian.duties.models import Flag, Report, ReportStatus
    from xinlian.network.models import Post, Role

    cycle = {c.role: c for c in cycles.ensure_default_cycles(cls.school)}[Role.COMMITTEE_MEMBER]
    period = cycles.open_periods([cycle])[cycle.pk][0]
    post = Post.objects.get(person=cls.committee_a1, role=Role.COMMITTEE_MEMBER)
    report = Report.objects.create(period=period, post=post, unit=cls.class_a1, reporter=cls.committee_a1,
                                   state="concerns", status=ReportStatus.SUBMITTED, note="-",
                                   submitted_at=period.deadline)
    Flag.objects.create(report=report, student=cls.student_a1, seen="-", category="emotional", urgency="soon")
    cls.duty_report = report

"""Sweep rows for the training pages and API (see tests/test_sweep.py). The swept session is
college A's upcoming pre-service session for new 心理委员, with the 心理委员 of class A1
invited: its organisers (college A's 辅导员, the centre) and its invitee open it; anyone else
404. Training holds no sensitive field (titles, places, names of post holders: tier 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import API, LOGIN, only, row

WITH_POST = ("counsellor_a", "head_teacher_a1", "committee_a1", "liaison_a1", "outsider_b", "director",
             "bureau_viewer", "leader")
ORGANISERS = ("counsellor_a", "outsider_b", "director")
OPENS_SESSION = ("counsellor_a", "director", "committee_a1")
POST_ONLY = row(405, 405)
API_ACTION = row(405, API)

EXPECT: dict[str, dict[str, Any]] = {
    "training:home": only(WITH_POST, 200, 403, LOGIN),
    "training:session-new": only(ORGANISERS, 200, 403, LOGIN),
    "training:session": only(OPENS_SESSION, 200, 404, LOGIN),
    "training:session-invite": POST_ONLY,
    "training:attendance": POST_ONLY,
    "training:parents": POST_ONLY,
    "training:untrained": only(ORGANISERS, 200, 403, LOGIN),
    "training:requirement-set": POST_ONLY,
    "training:hours": only(ORGANISERS, 200, 403, LOGIN),
    "training-api:session-list": row(200, API),
    "training-api:session-detail": only(OPENS_SESSION, 200, 404, API),
    "training-api:session-invite": API_ACTION,
    "training-api:attendance": API_ACTION,
    "training-api:untrained": only(ORGANISERS, 200, 403, API),
    "training-api:hours": only(ORGANISERS, 200, 403, API),
}


def _session(t: Any) -> dict[str, Any]:
    return {"pk": t.training_session.pk}


def _none(t: Any) -> dict[str, Any]:
    return {}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    name: _session for name in ("training:session", "training:session-invite", "training:attendance",
                                "training:parents", "training-api:session-detail", "training-api:session-invite",
                                "training-api:attendance")
}

WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "training:home": (_none, ["post", "put", "delete"]),
    "training:session-new": (_none, ["put", "delete"]),
    "training:session": (_session, ["post", "put", "delete"]),
    "training:session-invite": (_session, ["get", "put", "delete"]),
    "training:attendance": (_session, ["get", "put", "delete"]),
    "training:parents": (_session, ["get", "put", "delete"]),
    "training:untrained": (_none, ["post", "put", "delete"]),
    "training:requirement-set": (_none, ["get", "put", "delete"]),
    "training:hours": (_none, ["post", "put", "delete"]),
    "training-api:session-list": (_none, ["put", "patch", "delete"]),
    "training-api:session-detail": (_session, ["post", "put", "patch", "delete"]),
    "training-api:session-invite": (_session, ["get", "put", "patch", "delete"]),
    "training-api:attendance": (_session, ["get", "put", "patch", "delete"]),
    "training-api:untrained": (_none, ["post", "put", "patch", "delete"]),
    "training-api:hours": (_none, ["post", "put", "patch", "delete"]),
}


def setup(cls: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from xinlian.network.models import Role
    from xinlian.training.models import Attendance, Audience, Requirement, TrainingSession

    Requirement.objects.create(school=cls.school, role=Role.COMMITTEE_MEMBER, valid_from=dt.date(2024, 1, 1))
    cls.training_session = TrainingSession.objects.create(
        organiser=cls.college_a, title="岗前培训", audience=Audience.COMMITTEE, is_pre_service=True,
        starts_at=timezone.now() + dt.timedelta(days=3), hours=2, place="A101", created_by=cls.counsellor_a)
    Attendance.objects.create(session=cls.training_session, person=cls.committee_a1)

"""Sweep rows for the activity pages and API (see tests/test_sweep.py and tests/test_access_trio.py).

The swept activity is the centre's lecture assigned to class A1, in a 5·25 campaign: A1's
心理委员 recorded it with one photo and student S0001 signed in. Class A1's people (its
心理委员, 班主任, the 辅导员 of college A) and the centre open it and its photo; the organisers
among them (not the 心理委员) show its sign-in code and read who signed in; anyone else 404.
The course (class A1, taught by college A's 辅导员) is on the courses page of its teacher, the
班主任 of A1 and the centre.

Photos are written under a temporary private root for the rest of the test process (never
into ``var/private``)."""

from __future__ import annotations

import atexit
import datetime as dt
import io
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core import signing
from django.test import override_settings

from tests.test_sweep import API, LOGIN, WEB_PAGE, only, row

OPENS = ("counsellor_a", "head_teacher_a1", "committee_a1", "director")
ORGANISERS = ("counsellor_a", "head_teacher_a1", "director")
SEES_ACTIVITIES = ("counsellor_a", "head_teacher_a1", "committee_a1", "liaison_a1", "outsider_b", "director")
PLANNERS = ("counsellor_a", "outsider_b", "director")
COURSES = ("counsellor_a", "head_teacher_a1", "director")
POST_ONLY = row(405, 405)
API_ACTION = row(405, API)


def _organiser_row() -> dict[str, Any]:
    out = only(ORGANISERS, 200, 404, LOGIN)
    out["committee_a1"] = 403  # sees the activity; the sign-in code is the organisers'
    return out


EXPECT: dict[str, dict[str, Any]] = {
    "activities:home": only(SEES_ACTIVITIES, 200, 403, LOGIN),
    "activities:plan": only(PLANNERS, 200, 403, LOGIN),
    "activities:activity": only(OPENS, 200, 404, LOGIN),
    "activities:assignment": only(OPENS, 200, 404, LOGIN),
    "activities:sign-in-screen": _organiser_row(),
    "activities:sign-in-qr": _organiser_row(),
    "activities:sign-in": WEB_PAGE,  # the landing page names the activity; signing in checks the audience
    "activities:photo": only(OPENS, 200, 404, LOGIN),
    "activities:photo-thumb": only(OPENS, 200, 404, LOGIN),
    "activities:photo-remove": POST_ONLY,
    "activities:campaign-create": POST_ONLY,
    "activities:campaign": only(OPENS, 200, 404, LOGIN),
    "activities:courses": only(COURSES, 200, 403, LOGIN),
    "activities:course-hours": POST_ONLY,
    "activities-api:activity-list": row(200, API),
    "activities-api:activity-detail": only(OPENS, 200, 404, API),
    "activities-api:activity-assign": API_ACTION,
    "activities-api:assignment-list": row(200, API),
    "activities-api:assignment-detail": only(OPENS, 200, 404, API),
    "activities-api:assignment-record": API_ACTION,
    "activities-api:assignment-photos": API_ACTION,
    "activities-api:assignment-sign-in-code": API_ACTION,
    "activities-api:photo-detail": API_ACTION,
    "activities-api:sign-in": API_ACTION,
    "activities-api:campaign-list": row(200, API),
    "activities-api:campaign-progress": only(OPENS, 200, 404, API),
    "activities-api:course-list": row(200, API),
    "activities-api:course-hours": API_ACTION,
}


def _assignment(t: Any) -> dict[str, Any]:
    return {"pk": t.activity_assignment.pk}


def _activity(t: Any) -> dict[str, Any]:
    return {"pk": t.activity_assignment.activity_id}


def _photo(t: Any) -> dict[str, Any]:
    return {"pk": t.activity_photo.pk}


def _campaign(t: Any) -> dict[str, Any]:
    return {"pk": t.activity_campaign.pk}


def _course(t: Any) -> dict[str, Any]:
    return {"pk": t.activity_course.pk}


def _code(t: Any) -> dict[str, Any]:
    from xinlian.activities.actions import SIGN_IN_SALT

    return {"code": signing.dumps({"a": t.activity_assignment.activity_id}, salt=SIGN_IN_SALT)}


def _none(t: Any) -> dict[str, Any]:
    return {}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "activities:activity": _activity,
    "activities:assignment": _assignment,
    "activities:sign-in-screen": _assignment,
    "activities:sign-in-qr": _assignment,
    "activities:sign-in": _code,
    "activities:photo": _photo,
    "activities:photo-thumb": _photo,
    "activities:photo-remove": _photo,
    "activities:campaign": _campaign,
    "activities:course-hours": _course,
    "activities-api:activity-detail": _activity,
    "activities-api:activity-assign": _activity,
    "activities-api:assignment-detail": _assignment,
    "activities-api:assignment-record": _assignment,
    "activities-api:assignment-photos": _assignment,
    "activities-api:assignment-sign-in-code": _assignment,
    "activities-api:photo-detail": _photo,
    "activities-api:campaign-progress": _campaign,
    "activities-api:course-hours": _course,
}

WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "activities:home": (_none, ["post", "put", "delete"]),
    "activities:plan": (_none, ["put", "delete"]),
    "activities:activity": (_activity, ["post", "put", "delete"]),
    "activities:assignment": (_assignment, ["put", "delete"]),
    "activities:sign-in-screen": (_assignment, ["post", "put", "delete"]),
    "activities:sign-in-qr": (_assignment, ["post", "put", "delete"]),
    "activities:sign-in": (_code, ["put", "delete"]),
    "activities:photo": (_photo, ["post", "put", "delete"]),
    "activities:photo-thumb": (_photo, ["post", "put", "delete"]),
    "activities:photo-remove": (_photo, ["get", "put", "delete"]),
    "activities:campaign-create": (_none, ["get", "put", "delete"]),
    "activities:campaign": (_campaign, ["post", "put", "delete"]),
    "activities:courses": (_none, ["put", "delete"]),
    "activities:course-hours": (_course, ["get", "put", "delete"]),
    "activities-api:activity-list": (_none, ["put", "patch", "delete"]),
    "activities-api:activity-detail": (_activity, ["post", "put", "patch", "delete"]),
    "activities-api:activity-assign": (_activity, ["get", "put", "patch", "delete"]),
    "activities-api:assignment-list": (_none, ["post", "put", "patch", "delete"]),
    "activities-api:assignment-detail": (_assignment, ["post", "put", "patch", "delete"]),
    "activities-api:assignment-record": (_assignment, ["get", "put", "patch", "delete"]),
    "activities-api:assignment-photos": (_assignment, ["get", "put", "patch", "delete"]),
    "activities-api:assignment-sign-in-code": (_assignment, ["get", "put", "patch", "delete"]),
    "activities-api:photo-detail": (_photo, ["get", "post", "put", "patch"]),
    "activities-api:sign-in": (_none, ["get", "put", "patch", "delete"]),
    "activities-api:campaign-list": (_none, ["put", "patch", "delete"]),
    "activities-api:campaign-progress": (_campaign, ["post", "put", "patch", "delete"]),
    "activities-api:course-list": (_none, ["put", "patch", "delete"]),
    "activities-api:course-hours": (_course, ["get", "put", "patch", "delete"]),
}

_ROOT: Path | None = None


def _private_root() -> None:
    """Photos of the test process go to a temporary directory, removed when it exits."""
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="xl-sweep-private-"))
        override_settings(PRIVATE_MEDIA_ROOT=_ROOT).enable()
        atexit.register(shutil.rmtree, _ROOT, True)


def setup(cls: Any) -> None:
    from PIL import Image

    from xinlian.activities import photos
    from xinlian.activities.models import (
        Activity,
        Assignment,
        AssignmentStatus,
        Campaign,
        Course,
        Photo,
        Record,
        SignIn,
    )

    _private_root()
    today = dt.date.today()
    campaign = Campaign.objects.create(school=cls.school, name="5·25 心理健康月", starts_on=today,
                                       ends_on=today + dt.timedelta(days=30), created_by=cls.director)
    activity = Activity.objects.create(kind="event_525", title="心理情景剧展演", planner_unit=cls.school,
                                       planned_by=cls.director, campaign=campaign)
    assignment = Assignment.objects.create(activity=activity, unit=cls.class_a1, due_on=today,
                                           status=AssignmentStatus.DONE, assigned_by=cls.director)
    record = Record.objects.create(assignment=assignment, key="00000000-0000-4000-8000-000000000001",
                                   held_on=today, place="报告厅", audience="全班", attendance=30,
                                   summary="-", recorded_by=cls.committee_a1)
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 90)).save(out, "PNG")
    clean = photos.clean(io.BytesIO(out.getvalue()))
    name = photos.new_name(clean.suffix)
    photos.write(name, clean)
    cls.activity_photo = Photo.objects.create(record=record, name=name, content_type=clean.content_type,
                                              width=clean.width, height=clean.height, size=len(clean.data),
                                              uploaded_by=cls.committee_a1)
    SignIn.objects.create(activity=activity, assignment=assignment, person=cls.student_a1.user)
    course = Course.objects.create(school=cls.school, title="大学生心理健康教育", term="2026-2027-1",
                                   teacher=cls.counsellor_a, hours_planned=32)
    course.classes.set([cls.class_a1])
    cls.activity_assignment = assignment
    cls.activity_campaign = campaign
    cls.activity_course = course

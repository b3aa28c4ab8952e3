"""Sweep rows for the planning pages and API (issue 12 §4; see tests/test_sweep.py and
tests/test_access_trio.py). The swept plan is the school's draft term plan with one task owned by
counsellor_a (辅导员 of college A); the swept meeting was attended by head_teacher_a1, who owns its
action item. Plans are read by the leadership group and the centre (the leader, the director) and
by the owners of their tasks; the meeting by the leader, the director and its attendee; anyone
else 404. Who reads the minutes is checked with marker strings by tests/test_planning_access.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from tests.test_sweep import API, LOGIN, only, row

POST_ONLY = row(405, 405)
API_ACTION = row(405, API)
PLANNERS = ("director", "leader", "counsellor_a", "head_teacher_a1")  # uses_planning
OPENS_PLAN = ("director", "leader", "counsellor_a")
OPENS_MEETING = ("director", "leader", "head_teacher_a1")

EXPECT: dict[str, dict[str, Any]] = {
    "planning:plans": only(PLANNERS, 200, 403, LOGIN),
    "planning:plan-new": only(("director",), 200, 403, LOGIN),
    "planning:plan": only(OPENS_PLAN, 200, 404, LOGIN),
    # The draft is the director's to edit; the others who open it may not (403).
    "planning:plan-edit": {**only(OPENS_PLAN, 403, 404, LOGIN), "director": 200},
    "planning:task-add": POST_ONLY,
    "planning:plan-submit": POST_ONLY,
    "planning:plan-approve": POST_ONLY,
    "planning:plan-return": POST_ONLY,
    "planning:task-done": POST_ONLY,
    "planning:meetings": only(PLANNERS, 200, 403, LOGIN),
    "planning:meeting-new": only(("director", "leader"), 200, 403, LOGIN),
    "planning:meeting": only(OPENS_MEETING, 200, 404, LOGIN),
    "planning:item-add": POST_ONLY,
    "planning:item-done": POST_ONLY,
    "planning:mine": row(200, LOGIN),
    "planning-api:plan-list": row(200, API),
    "planning-api:plan-detail": only(OPENS_PLAN, 200, 404, API),
    "planning-api:task-add": API_ACTION,
    "planning-api:plan-submit": API_ACTION,
    "planning-api:plan-approve": API_ACTION,
    "planning-api:plan-return": API_ACTION,
    "planning-api:task-list": row(200, API),
    "planning-api:task-done": API_ACTION,
    "planning-api:meeting-list": row(200, API),
    "planning-api:meeting-detail": only(OPENS_MEETING, 200, 404, API),
    "planning-api:item-add": API_ACTION,
    "planning-api:item-list": row(200, API),
    "planning-api:item-done": API_ACTION,
}


def _plan(t: Any) -> dict[str, Any]:
    return {"pk": t.work_plan.pk}


def _task(t: Any) -> dict[str, Any]:
    return {"pk": t.plan_task.pk}


def _meeting(t: Any) -> dict[str, Any]:
    return {"pk": t.lg_meeting.pk}


def _item(t: Any) -> dict[str, Any]:
    return {"pk": t.action_item.pk}


def _none(t: Any) -> dict[str, Any]:
    return {}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "planning:plan": _plan, "planning:plan-edit": _plan, "planning:task-add": _plan,
    "planning:plan-submit": _plan, "planning:plan-approve": _plan, "planning:plan-return": _plan,
    "planning:task-done": _task, "planning:meeting": _meeting, "planning:item-add": _meeting,
    "planning:item-done": _item,
    "planning-api:plan-detail": _plan, "planning-api:task-add": _plan, "planning-api:plan-submit": _plan,
    "planning-api:plan-approve": _plan, "planning-api:plan-return": _plan, "planning-api:task-done": _task,
    "planning-api:meeting-detail": _meeting, "planning-api:item-add": _meeting, "planning-api:item-done": _item,
}

WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "planning:plans": (_none, ["post", "put", "delete"]),
    "planning:plan-new": (_none, ["put", "delete"]),
    "planning:plan": (_plan, ["post", "put", "delete"]),
    "planning:plan-edit": (_plan, ["put", "delete"]),
    "planning:task-add": (_plan, ["get", "put", "delete"]),
    "planning:plan-submit": (_plan, ["get", "put", "delete"]),
    "planning:plan-approve": (_plan, ["get", "put", "delete"]),
    "planning:plan-return": (_plan, ["get", "put", "delete"]),
    "planning:task-done": (_task, ["get", "put", "delete"]),
    "planning:meetings": (_none, ["post", "put", "delete"]),
    "planning:meeting-new": (_none, ["put", "delete"]),
    "planning:meeting": (_meeting, ["post", "put", "delete"]),
    "planning:item-add": (_meeting, ["get", "put", "delete"]),
    "planning:item-done": (_item, ["get", "put", "delete"]),
    "planning:mine": (_none, ["post", "put", "delete"]),
    "planning-api:plan-list": (_none, ["put", "patch", "delete"]),
    "planning-api:plan-detail": (_plan, ["post", "put", "delete"]),
    "planning-api:task-add": (_plan, ["get", "put", "patch", "delete"]),
    "planning-api:plan-submit": (_plan, ["get", "put", "patch", "delete"]),
    "planning-api:plan-approve": (_plan, ["get", "put", "patch", "delete"]),
    "planning-api:plan-return": (_plan, ["get", "put", "patch", "delete"]),
    "planning-api:task-list": (_none, ["post", "put", "patch", "delete"]),
    "planning-api:task-done": (_task, ["get", "put", "patch", "delete"]),
    "planning-api:meeting-list": (_none, ["put", "patch", "delete"]),
    "planning-api:meeting-detail": (_meeting, ["post", "put", "patch", "delete"]),
    "planning-api:item-add": (_meeting, ["get", "put", "patch", "delete"]),
    "planning-api:item-list": (_none, ["post", "put", "patch", "delete"]),
    "planning-api:item-done": (_item, ["get", "put", "patch", "delete"]),
}

MINUTES = "MKR-T4-minutes-PLAN"
DECISIONS = "MKR-T4-decisions-PLAN"


def setup(cls: Any) -> None:
    """The school's draft term plan with counsellor_a's task, and a meeting attended by the
    director and head_teacher_a1 with an action item for head_teacher_a1. Minutes and decisions
    carry the planning markers."""
    from django.utils import timezone

    from xinlian.planning.models import ActionItem, Meeting, PlanTask, WorkPlan

    today = timezone.localdate()
    plan = WorkPlan.objects.create(school=cls.school, kind="term", label="2026–2027 学年第一学期",
                                   starts_on=today - dt.timedelta(days=30), ends_on=today + dt.timedelta(days=90),
                                   title="心理健康教育工作计划", goals="-", drafted_by=cls.director)
    cls.work_plan = plan
    cls.plan_task = PlanTask.objects.create(plan=plan, title="月报汇总", owner=cls.counsellor_a,
                                            due_on=today + dt.timedelta(days=7))
    meeting = Meeting.objects.create(school=cls.school, held_on=today, title="领导小组例会", minutes=MINUTES,
                                     decisions=DECISIONS, recorded_by=cls.director)
    meeting.attendees.set([cls.director, cls.head_teacher_a1])
    cls.lg_meeting = meeting
    cls.action_item = ActionItem.objects.create(meeting=meeting, text="提交名单", owner=cls.head_teacher_a1,
                                                due_on=today + dt.timedelta(days=7))

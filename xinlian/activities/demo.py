"""Activities for the demo school: the last 5·25 mental-health month as a campaign whose two
activities are assigned to every college (most recorded, some with a generated photo, a few
still open), a themed class meeting the demo 辅导员's classes must hold in the coming days, and
the mental-health course taught by the demo psychology teacher with a few lessons recorded.
Deterministic for a given database; photos are drawn with Pillow (no files shipped)."""

from __future__ import annotations

import datetime as dt
import functools
import io
import uuid
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from xinlian.network.models import Post, Role, Unit, UnitKind, User

from . import photos
from .models import Activity, Assignment, AssignmentStatus, Campaign, Course, Lesson, Photo, Record

DEMO_NAMESPACE = uuid.UUID("2b0c5a57-8d7e-4f59-9a51-5e25c0de0525")


def _photo(seed: int) -> photos.Clean:
    image = Image.new("RGB", (960, 640), (40 + seed * 23 % 160, 110, 150))
    draw = ImageDraw.Draw(image)
    for i in range(8):
        draw.ellipse((60 + i * 100, 200 + (seed * 37 + i * 53) % 200, 160 + i * 100, 300 + (seed * 37 + i * 53) % 200),
                     fill=(240, 200 - i * 12, 120))
    draw.rectangle((0, 560, 960, 640), fill=(230, 230, 220))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return photos.clean(io.BytesIO(out.getvalue()), "demo.jpg")


def seed_demo_activities(today: dt.date | None = None) -> int:
    """Returns how many assignments were written (0 when the demo already has them)."""
    today = today or timezone.localdate()
    written = 0
    for school in Unit.objects.filter(kind=UnitKind.SCHOOL).order_by("path"):
        if Activity.objects.filter(planner_unit__path__startswith=school.path).exists():
            continue
        director = (Post.objects.active().filter(role=Role.CENTRE_DIRECTOR, unit=school)
                    .select_related("person").order_by("pk").first())
        if director is None:
            continue
        centre = director.person
        year = today.year if today >= dt.date(today.year, 5, 31) else today.year - 1
        campaign = Campaign.objects.create(school=school, name=f"{year} 年 5·25 心理健康月", starts_on=dt.date(year, 5, 1),
                                           ends_on=dt.date(year, 5, 31), created_by=centre)
        colleges = list(Unit.objects.filter(kind=UnitKind.COLLEGE, path__startswith=school.path).order_by("path"))
        plans = [("lecture", "5·25 心理健康讲座：认识压力", dt.date(year, 5, 20)),
                 ("psychodrama", "心理情景剧展演", dt.date(year, 5, 28))]
        recorder = {p.unit_id: p.person for p in Post.objects.active().filter(
            role=Role.FUDAOYUAN, unit__in=colleges).select_related("person").order_by("pk")}
        for n, (kind, title, due) in enumerate(plans):
            activity = Activity.objects.create(kind=kind, title=title, planner_unit=school, planned_by=centre,
                                               campaign=campaign, description="由心理辅导中心统一布置，各学院组织开展。")
            for i, college in enumerate(colleges):
                assignment = Assignment.objects.create(activity=activity, unit=college, due_on=due, assigned_by=centre)
                written += 1
                if (i + 2 * n) % 4 == 3 or college.pk not in recorder:
                    continue  # still open
                assignment.status = AssignmentStatus.DONE
                assignment.save(update_fields=["status"])
                record = Record.objects.create(
                    assignment=assignment, key=uuid.uuid5(DEMO_NAMESPACE, f"{assignment.pk}"),
                    held_on=due - dt.timedelta(days=2), place="学生活动中心报告厅", audience="本学院学生",
                    attendance=80 + (i * 17 + n * 29) % 120, summary="活动按计划开展，同学们参与积极。",
                    recorded_by=recorder[college.pk])
                if i < 4:
                    clean = _photo(i + n * 5)
                    name = photos.new_name(clean.suffix)
                    # Written once the rows are committed: a seeding that rolls back (a test)
                    # leaves no file behind.
                    transaction.on_commit(functools.partial(photos.write, name, clean))
                    Photo.objects.create(record=record, name=name, content_type=clean.content_type, width=clean.width,
                                         height=clean.height, size=len(clean.data), uploaded_by=recorder[college.pk])
        # The demo 辅导员's college plans a themed class meeting for its classes, due soon.
        demo_fudaoyuan = Post.objects.active().filter(role=Role.FUDAOYUAN, person__username="fudaoyuan",
                                                      unit__path__startswith=school.path).select_related("unit").first()
        if demo_fudaoyuan is not None:
            meeting = Activity.objects.create(kind="class_meeting", title="主题班会：学会求助", planner_unit=demo_fudaoyuan.unit,
                                              planned_by=demo_fudaoyuan.person)
            for klass in Unit.objects.filter(kind=UnitKind.CLASS, path__startswith=demo_fudaoyuan.unit.path).order_by("path")[:20]:
                Assignment.objects.create(activity=meeting, unit=klass, due_on=today + dt.timedelta(days=10),
                                          assigned_by=demo_fudaoyuan.person)
                written += 1
        teacher = User.objects.filter(username="counsellor").first() or centre
        classes = list(Unit.objects.filter(kind=UnitKind.CLASS, path__startswith=school.path).order_by("path")[:4])
        if classes:
            course = Course.objects.create(school=school, title="大学生心理健康教育", term=f"{year}-{year + 1}-1",
                                           teacher=teacher, hours_planned=Decimal("32"))
            course.classes.set(classes)
            Lesson.objects.bulk_create([Lesson(course=course, held_on=today - dt.timedelta(days=7 * w + 1),
                                               hours=Decimal("2"), recorded_by=teacher) for w in range(1, 6)])
    return written

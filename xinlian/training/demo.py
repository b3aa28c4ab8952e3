"""Training for the demo school, so that ``xinlian demo`` shows it: the school requires
pre-service training of its 心理委员 and 宿舍联络员; the centre held a pre-service session
for new 心理委员 three weeks ago (the demo 心理委员 and half the 心理委员 of the demo
辅导员's college attended: the others are "not yet trained"); the demo 辅导员's college
plans a pre-service session for its 联络员 in ten days (the demo 联络员 is invited); the
centre held a parents' lecture last month. Deterministic for a given database."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from xinlian.network.models import Post, Role, Unit, UnitKind, User

from .models import Attendance, AttendanceStatus, Audience, Requirement, TrainingSession


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def seed_demo_training(today: dt.date | None = None) -> int:
    """Sessions, invitations and attendance for the demo school; returns how many sessions."""
    today = today or timezone.localdate()
    school = Unit.objects.filter(kind=UnitKind.SCHOOL).order_by("path").first()
    if school is None or TrainingSession.objects.filter(organiser__path__startswith=school.path).exists():
        return 0
    director = User.objects.filter(username="director").first() or User.objects.filter(
        pk__in=Post.objects.filter(role=Role.CENTRE_DIRECTOR, unit=school).values("person_id")).first()
    fudaoyuan_post = (Post.objects.active().filter(person__username="fudaoyuan", role=Role.FUDAOYUAN)
                      .select_related("unit", "person").first())
    if director is None or fudaoyuan_post is None:
        return 0
    college = fudaoyuan_post.unit
    term_start = dt.date(today.year, 1 if today.month <= 6 else 7, 1)
    for role in (Role.COMMITTEE_MEMBER, Role.DORM_LIAISON):
        Requirement.objects.get_or_create(school=school, role=role, defaults={"valid_from": term_start})

    held = max(today - dt.timedelta(days=21), term_start)
    pre = TrainingSession.objects.create(
        organiser=school, title="新任心理委员岗前培训", audience=Audience.COMMITTEE, is_pre_service=True,
        starts_at=_at(held, 14), hours=3, place="心理健康教育中心 报告厅", created_by=director)
    committee = list(Post.objects.active().filter(role=Role.COMMITTEE_MEMBER, unit__path__startswith=college.path)
                     .select_related("person").order_by("unit__path", "pk"))
    rows = []
    for i, post in enumerate(committee):
        attended = post.person.username == "committee" or i % 2 == 0
        rows.append(Attendance(session=pre, person_id=post.person_id,
                               status=AttendanceStatus.ATTENDED if attended else AttendanceStatus.ABSENT,
                               hours=pre.hours if attended else 0, recorded_by=director,
                               recorded_at=pre.starts_at + dt.timedelta(hours=3)))
    Attendance.objects.bulk_create(rows, ignore_conflicts=True)

    upcoming = TrainingSession.objects.create(
        organiser=college, title="宿舍心理联络员岗前培训", audience=Audience.DORM_LIAISON, is_pre_service=True,
        starts_at=_at(today + dt.timedelta(days=10), 15), hours=2, place="学院会议室",
        created_by=fudaoyuan_post.person)
    liaisons = Post.objects.active().filter(role=Role.DORM_LIAISON, unit__path__startswith=college.path)
    Attendance.objects.bulk_create([Attendance(session=upcoming, person_id=p)
                                    for p in sorted(set(liaisons.values_list("person_id", flat=True)))],
                                   ignore_conflicts=True)

    lecture_day = max(today - dt.timedelta(days=35), term_start)
    TrainingSession.objects.create(
        organiser=school, title="家长讲座：如何与青春期孩子沟通", audience=Audience.PARENTS,
        starts_at=_at(lecture_day, 19), hours=1.5, place="线上（腾讯会议）", parents_count=86, created_by=director)
    return 3

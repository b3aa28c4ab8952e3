"""The demo school's counselling service, so that a new user of ``xinlian demo`` sees it at
work: two rooms, each counsellor's weekly times (and the director's), the slots of the booking
window, and a week of bookings — the demo student ("student") among the clients, with an
appointment in the coming days. Deterministic; does nothing where a rota exists.

The intake texts are made up and plain (no one says yes to the risk question here: the demo's
red alert is care's, ``care.demo.seed_demo_concern``)."""

from __future__ import annotations

import datetime as dt
from itertools import cycle

from django.db import transaction
from django.utils import timezone

from xinlian.network.models import Role, Student, Unit, UnitKind, User

from . import rules
from .models import Booking, Mode, Previous, Room, Slot, WeeklyAvailability

DEMO_DAYS = 7
TOPICS = (
    "最近总是睡不好，白天没精神。",
    "和室友相处有些矛盾，不知道怎么开口。",
    "考试临近，压力很大，静不下心来。",
    "对专业没有兴趣，不知道以后该怎么办。",
    "家里最近发生了一些事，心里很乱。",
    "总觉得自己不如别人，想聊聊。",
)
# (weekday, start, end, mode) blocks, dealt to the counsellors in turn.
BLOCKS = ((0, "09:00", "12:00"), (1, "14:00", "17:00"), (2, "09:00", "12:00"), (3, "14:00", "17:00"),
          (4, "09:00", "12:00"), (2, "14:00", "17:00"), (0, "14:00", "17:00"), (3, "09:00", "12:00"))


def seed_demo_counseling(today: dt.date | None = None) -> int:
    """Rooms, weekly times and a week of bookings at each school with counsellors; returns the
    number of bookings written."""
    made = 0
    for school in Unit.objects.filter(kind=UnitKind.SCHOOL).order_by("path"):
        if WeeklyAvailability.objects.filter(school=school).exists():
            continue
        counsellors = rules.counsellors_of(school)
        if not counsellors:
            continue
        with transaction.atomic():
            made += _seed_school(school, counsellors, today)
    return made


def _seed_school(school: Unit, counsellors: list[User], today: dt.date | None) -> int:
    rooms = [Room.objects.get_or_create(school=school, name=name, defaults={"place": place})[0]
             for name, place in (("咨询室一", "大学生活动中心 3 楼 301"), ("咨询室二", "大学生活动中心 3 楼 302"))]
    today = today or rules.local_day(timezone.now())
    blocks = cycle(BLOCKS)
    room_of = cycle(rooms)
    for person in counsellors:
        for _ in range(2):
            weekday, start, end = next(blocks)
            online = person == counsellors[-1] and weekday == 4
            WeeklyAvailability.objects.create(
                counsellor=person, school=school, weekday=weekday, start_time=dt.time.fromisoformat(start),
                end_time=dt.time.fromisoformat(end), slot_minutes=50, mode=Mode.ONLINE if online else Mode.ROOM,
                room=None if online else next(room_of), valid_from=today, created_by=person)
    win = rules.window(school.pk)
    for person in counsellors:
        rules.materialise(person.pk, school.pk, win.first, win.last)
    WeeklyAvailability.objects.filter(school=school).update(generated_until=win.last)
    return _seed_bookings(school, today)


def _seed_bookings(school: Unit, today: dt.date) -> int:
    """About half the slots of the coming week booked by students of the school, one each."""
    until = rules.at_local(today + dt.timedelta(days=DEMO_DAYS), dt.time.min)
    slots = list(Slot.objects.filter(school=school, cancelled=False, starts_at__gt=timezone.now(),
                                     starts_at__lt=until).order_by("starts_at", "counsellor_id"))
    if not slots:
        return 0
    taken = slots[::2]
    demo = Student.objects.filter(user__username="student").select_related("user").first()
    others = (Student.objects.filter(klass__path__startswith=school.path).exclude(user__username="student")
              .select_related("user").order_by("user__username")[:len(taken)])
    clients = ([demo] if demo is not None and demo.klass.path.startswith(school.path) else []) + list(others)
    topics = cycle(TOPICS)
    previous = cycle((Previous.NONE, Previous.NONE, Previous.HERE, Previous.ELSEWHERE))
    rows = [Booking(slot=slot, client=student.user, student=student, starts_at=slot.starts_at,
                    topic=next(topics), previous=next(previous))
            for slot, student in zip(taken, clients, strict=False)]
    Booking.objects.bulk_create(rows)
    # A staff client too: the first teacher of the school without a counselling post.
    teacher = (User.objects.filter(kind="staff", is_active=True, posts__unit__path__startswith=school.path)
               .exclude(posts__role__in=(Role.COUNSELLOR, Role.CENTRE_DIRECTOR)).order_by("username").first())
    free = slots[1::2]
    if teacher is not None and free:
        Booking.objects.create(slot=free[-1], client=teacher, starts_at=free[-1].starts_at,
                               topic="工作压力大，想找人聊聊。", previous=Previous.NONE)
        return len(rows) + 1
    return len(rows)


"""Personas and fixtures of the counselling tests (issue 11): two counsellors of the school's
centre (the director counsels too), a room, a staff client in college A and that college's
lead, and slots made the way a counsellor makes them (availability published for chosen days).

No tests here: the base is shared by tests/test_counseling_*.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from xinlian.counseling import rules
from xinlian.counseling.models import (
    AvailabilityChange,
    Booking,
    BookingStatus,
    ChangeKind,
    Mode,
    Room,
    Slot,
)
from xinlian.network.models import Role, Staff, User

from .base import NetworkTestCase, make_staff


def local_day(days: int) -> dt.date:
    return rules.local_day(timezone.now()) + dt.timedelta(days=days)


def setup_counseling(cls: Any) -> None:
    """Add the counselling personas to a NetworkTestCase-like class."""
    cls.psy = make_staff("T1020", "沈咨询", Role.COUNSELLOR, cls.school)
    cls.psy2 = make_staff("T1021", "韩咨询", Role.COUNSELLOR, cls.school)
    cls.college_lead_a = make_staff("T1022", "郭院长", Role.COLLEGE_LEAD, cls.college_a)
    # A teacher of college A without a post: a staff client whose manager is the college lead.
    cls.teacher_a = make_staff("T1023", "林老师")
    Staff.objects.filter(user=cls.teacher_a).update(department=cls.college_a)
    cls.room = Room.objects.create(school=cls.school, name="咨询室一", place="学生中心 201")


def add_time(counsellor: User, school: Any, days: int, start: str = "09:00", end: str = "12:00",
             minutes: int = 60, room: Room | None = None, by: User | None = None) -> list[Slot]:
    """Extra time on a day ``days`` ahead, as the availability editor saves it; its slots."""
    day = local_day(days)
    change = AvailabilityChange.objects.create(
        counsellor=counsellor, school=school, date=day, kind=ChangeKind.EXTRA,
        start_time=dt.time.fromisoformat(start), end_time=dt.time.fromisoformat(end), slot_minutes=minutes,
        mode=Mode.ROOM if room else Mode.ONLINE, room=room, created_by=by or counsellor)
    rules.materialise(counsellor.pk, school.pk, day, day)
    return list(Slot.objects.filter(change=change).order_by("starts_at"))


def past_slot(counsellor: User, school: Any) -> Slot:
    start = timezone.now() - dt.timedelta(hours=3)
    return Slot.objects.create(counsellor=counsellor, school=school, starts_at=start,
                               ends_at=start + dt.timedelta(hours=1), mode=Mode.PHONE)


def slot_in(counsellor: User, school: Any, hours: float, room: Room | None = None) -> Slot:
    start = (timezone.now() + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)
    return Slot.objects.create(counsellor=counsellor, school=school, starts_at=start,
                               ends_at=start + dt.timedelta(minutes=50), mode=Mode.ROOM if room else Mode.PHONE,
                               room=room)


def active(slot: Slot) -> list[Booking]:
    return list(Booking.objects.filter(slot=slot, status=BookingStatus.ACTIVE))


INTAKE = {"topic": "最近睡不好，学习压力大", "previous": "none", "risk_now": "no"}


class CounselingTestCase(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        setup_counseling(cls)
        cls.slots = add_time(cls.psy, cls.school, 2, room=cls.room)  # 09:00, 10:00, 11:00

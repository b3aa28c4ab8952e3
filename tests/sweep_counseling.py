"""Sweep rows for the counselling pages and API (issue 11; see tests/test_sweep.py).

A booking and its intake are read by the client and the centre's counselling staff only: of
the sweep's personas, S0001 (the client) and the centre director. Everyone else gets 404 —
the 辅导员, the 班主任, the 心理委员, the leader; nobody learns that the booking exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import API, LOGIN, only, row

POST_ONLY = row(405, 405)
API_ACTION = row(405, API)
CLIENT_AND_CENTRE = ("student_a1_user", "director")

EXPECT: dict[str, dict[str, Any]] = {
    # Anyone of a school books; the bureau's viewer is no client of a school's centre.
    "counseling:slots": row(200, LOGIN, bureau_viewer=403),
    "counseling:book": row(200, LOGIN, bureau_viewer=403),
    "counseling:appointments": row(200, LOGIN),
    "counseling:booking": only(CLIENT_AND_CENTRE, 200, 404, LOGIN),
    "counseling:ics": only(CLIENT_AND_CENTRE, 200, 404, LOGIN),
    "counseling:cancel": POST_ONLY,
    "counseling:waitlist": POST_ONLY,
    "counseling:waitlist-leave": POST_ONLY,
    "counseling:staff": only(("director",), 200, 404, LOGIN),
    "counseling:rota": only(("director",), 200, 404, LOGIN),
    "counseling:rota-counsellor": only(("director",), 200, 404, LOGIN),
    "counseling:rota-weekly": POST_ONLY,
    "counseling:rota-end": POST_ONLY,
    "counseling:rota-change": POST_ONLY,
    "counseling-api:slots": row(200, API, bureau_viewer=403),
    "counseling-api:bookings": row(200, API),
    "counseling-api:booking": only(CLIENT_AND_CENTRE, 200, 404, API),
    "counseling-api:booking-cancel": API_ACTION,
    "counseling-api:waitlist": API_ACTION,
    "counseling-api:availability": only(("director",), 200, 404, API),
    "counseling-api:availability-weekly": API_ACTION,
    "counseling-api:availability-end": API_ACTION,
    "counseling-api:availability-change": API_ACTION,
}


def _booking(t: Any) -> dict[str, Any]:
    return {"pk": t.cs_booking.pk}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "counseling:booking": _booking,
    "counseling:ics": _booking,
    "counseling:cancel": _booking,
    "counseling:waitlist-leave": lambda t: {"pk": t.cs_wait.pk},
    "counseling:rota-counsellor": lambda t: {"pk": t.psy.pk},
    "counseling:rota-weekly": lambda t: {"pk": t.psy.pk},
    "counseling:rota-end": lambda t: {"pk": t.cs_weekly.pk},
    "counseling:rota-change": lambda t: {"pk": t.psy.pk},
    "counseling-api:booking": _booking,
    "counseling-api:booking-cancel": _booking,
    "counseling-api:availability-end": lambda t: {"pk": t.cs_weekly.pk},
}


def setup(cls: Any) -> None:
    """The counselling personas, a weekly time of the counsellor, S0001's booking (its intake and
    its room carry tier-5 markers, checked by tests/test_counseling_access.py), a staff client's
    booking, and someone on the waiting list."""
    import datetime as dt

    from xinlian.counseling.models import Booking, Room, WaitlistEntry, WeeklyAvailability

    from .test_counseling_base import add_time, local_day, setup_counseling

    setup_counseling(cls)
    cls.cs_weekly = WeeklyAvailability.objects.create(
        counsellor=cls.psy, school=cls.school, weekday=local_day(8).weekday(), start_time=dt.time(9),
        end_time=dt.time(10), slot_minutes=50, mode="online", valid_from=local_day(8), created_by=cls.psy)
    room = Room.objects.create(school=cls.school, name="MKR-T5-room-S0001")
    slot = add_time(cls.psy, cls.school, 2, start="14:00", end="15:00", room=room)[0]
    cls.cs_booking = Booking.objects.create(slot=slot, client=cls.student_a1.user, student=cls.student_a1,
                                            starts_at=slot.starts_at, topic="MKR-T5-intake-S0001")
    room_t = Room.objects.create(school=cls.school, name="MKR-T5-room-T1023")
    slot_t = add_time(cls.psy2, cls.school, 3, start="14:00", end="15:00", room=room_t)[0]
    cls.cs_teacher_booking = Booking.objects.create(slot=slot_t, client=cls.teacher_a, starts_at=slot_t.starts_at,
                                                    topic="MKR-T5-intake-T1023")
    cls.cs_wait = WaitlistEntry.objects.create(client=cls.student_a2.user, school=cls.school,
                                               day_from=local_day(5), day_to=local_day(6))


def _none(t: Any) -> dict[str, Any]:
    return {}


_PAGE_GET = ["post", "put", "delete"]
_PAGE_POST = ["get", "put", "delete"]
_API_GET = ["post", "put", "patch", "delete"]
_API_POST = ["get", "put", "patch", "delete"]

WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "counseling:slots": (_none, _PAGE_GET),
    "counseling:book": (_none, ["put", "delete"]),
    "counseling:appointments": (_none, _PAGE_GET),
    "counseling:booking": (_booking, _PAGE_GET),
    "counseling:ics": (_booking, ["post", "delete"]),
    "counseling:cancel": (_booking, _PAGE_POST),
    "counseling:waitlist": (_none, _PAGE_POST),
    "counseling:waitlist-leave": (KWARGS["counseling:waitlist-leave"], _PAGE_POST),
    "counseling:staff": (_none, _PAGE_GET),
    "counseling:rota": (_none, _PAGE_GET),
    "counseling:rota-counsellor": (KWARGS["counseling:rota-counsellor"], _PAGE_GET),
    "counseling:rota-weekly": (KWARGS["counseling:rota-weekly"], _PAGE_POST),
    "counseling:rota-end": (KWARGS["counseling:rota-end"], _PAGE_POST),
    "counseling:rota-change": (KWARGS["counseling:rota-change"], _PAGE_POST),
    "counseling-api:slots": (_none, _API_GET),
    "counseling-api:bookings": (_none, ["put", "patch", "delete"]),
    "counseling-api:booking": (_booking, _API_GET),
    "counseling-api:booking-cancel": (_booking, _API_POST),
    "counseling-api:waitlist": (_none, _API_POST),
    "counseling-api:availability": (_none, _API_GET),
    "counseling-api:availability-weekly": (_none, _API_POST),
    "counseling-api:availability-end": (KWARGS["counseling-api:availability-end"], _API_POST),
    "counseling-api:availability-change": (_none, _API_POST),
}

"""The counselling service's rules that are not one person's action: which school's centre a
client belongs to, who is counselling staff, turning availability into slots, the booking
window, the duty counsellor, and the worker's jobs (reminders the day before, slots for the
window as it moves on)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from xinlian.care.models import DutyRole
from xinlian.care.rota import on_duty
from xinlian.network.models import Post, Role, Student, Unit, UnitKind, User
from xinlian.notify.hours import calendar
from xinlian.notify.services import notify_users

from .models import (
    AvailabilityChange,
    Booking,
    BookingStatus,
    CentreRules,
    ChangeKind,
    Slot,
    WeeklyAvailability,
)

STAFF_ROLES = (Role.COUNSELLOR, Role.CENTRE_DIRECTOR)
# A reminder goes out from this local hour on the day before (at once for a later booking).
REMINDER_HOUR = 9
REMINDER = gettext_noop("Reminder: you have a counselling appointment on %(when)s. "
                        "Open Xinlian for the place, or to cancel.")


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def when_text(at: dt.datetime) -> str:
    """A booking's time as every notification says it, in the school's zone."""
    return timezone.localtime(at, zone()).strftime("%Y-%m-%d %H:%M")


def local_day(at: dt.datetime) -> dt.date:
    return timezone.localtime(at, zone()).date()


def at_local(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=zone()).astimezone(dt.UTC)


# --- who is who -----------------------------------------------------------------------------------


def staff_posts(user: User) -> list[Post]:
    """The user's counselling posts in force (a counsellor or the centre director, at a school)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [p for p in Post.objects.active().filter(person=user, role__in=STAFF_ROLES).select_related("unit")]


def student_of(user: User) -> Student | None:
    """The user's student record (read once per request: kept on the user object)."""
    if not hasattr(user, "_counseling_student"):
        user._counseling_student = (Student.objects.filter(user_id=user.pk).select_related("klass").first()  # type: ignore[attr-defined]
                                    if getattr(user, "kind", None) == "student" else None)
    return user._counseling_student  # type: ignore[attr-defined]


def school_of(unit: Unit) -> Unit | None:
    """The school above ``unit`` in one indexed query (its path's prefixes), not the ancestors."""
    step = Unit.steplen
    prefixes = [unit.path[:i] for i in range(step, len(unit.path) + 1, step)]
    return Unit.objects.filter(path__in=prefixes, kind=UnitKind.SCHOOL).first()


def client_school(user: User) -> Unit | None:
    """The school whose centre ``user`` books with: a student's class's school; a member of
    staff's department's school, else the school of one of their posts, else (staff without
    any post) the only school of the installation."""
    if getattr(user, "kind", None) == "student":
        student = student_of(user)
        return school_of(student.klass) if student is not None and student.klass_id else None
    staff = getattr(user, "staff", None) if hasattr(user, "staff") else None
    if staff is not None and staff.department_id:
        school = staff.department.school()
        if school is not None:
            return school
    posts = list(Post.objects.active().filter(person=user).select_related("unit"))
    for post in posts:
        school = post.unit.school()
        if school is not None:
            return school
    if posts or getattr(user, "kind", None) != "staff":
        return None  # a post above the schools (the bureau's viewer) is no client of a centre
    schools = list(Unit.objects.filter(kind=UnitKind.SCHOOL)[:2])
    return schools[0] if len(schools) == 1 else None


def counsellors_of(school: Unit) -> list[User]:
    posts = (Post.objects.active().filter(unit=school, role__in=STAFF_ROLES, person__is_active=True)
             .select_related("person").order_by("person__full_name", "person_id"))
    seen: dict[int, User] = {}
    for post in posts:
        seen.setdefault(post.person_id, post.person)
    return list(seen.values())


def duty_counsellors(school: Unit, at: dt.datetime | None = None) -> list[User]:
    """Care's rota: the centre counsellor on duty at the school now (the daytime duty
    counsellor in office hours, the centre rung at night); else the centre director(s)."""
    people = on_duty([school], at)[DutyRole.CENTRE]
    if people:
        return people
    return [p.person for p in Post.objects.active().filter(unit=school, role=Role.CENTRE_DIRECTOR,
                                                           person__is_active=True).select_related("person")]


# --- the booking window -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    first: dt.date
    last: dt.date
    cutoff_hours: int

    def holds(self, at: dt.datetime) -> bool:
        return self.first <= local_day(at) <= self.last


def window(school_id: int, now: dt.datetime | None = None) -> Window:
    rules = CentreRules.for_school(school_id)
    today = local_day(now or timezone.now())
    return Window(today, today + dt.timedelta(days=rules.book_ahead_days), rules.cancel_cutoff_hours)


def holidays(first: dt.date, last: dt.date) -> set[dt.date]:
    return {d for d, kind in calendar(first, last).items() if kind == "holiday"}


# --- availability → slots ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Wanted:
    starts_at: dt.datetime
    ends_at: dt.datetime
    mode: str
    room_id: int | None
    weekly_id: int | None
    change_id: int | None


def _cut(day: dt.date, start: dt.time, end: dt.time, minutes: int) -> list[tuple[dt.datetime, dt.datetime]]:
    out = []
    t = dt.datetime.combine(day, start)
    stop = dt.datetime.combine(day, end)
    step = dt.timedelta(minutes=minutes)
    while t + step <= stop:
        out.append((at_local(day, t.time()), at_local(day, (t + step).time()) if (t + step).date() == day
                    else at_local(day + dt.timedelta(days=1), (t + step).time())))
        t += step
    return out


def wanted_slots(counsellor_id: int, school_id: int, first: dt.date, last: dt.date) -> dict[dt.datetime, Wanted]:
    """The slots the counsellor's availability asks for from ``first`` to ``last`` (local dates):
    the weekly pattern (not on holidays), plus extra time, minus time marked not available."""
    weekly = list(WeeklyAvailability.objects.filter(counsellor_id=counsellor_id, school_id=school_id,
                                                    valid_from__lte=last)
                  .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=first)))
    changes = list(AvailabilityChange.objects.filter(counsellor_id=counsellor_id, school_id=school_id,
                                                     date__gte=first, date__lte=last))
    off = holidays(first, last)
    wanted: dict[dt.datetime, Wanted] = {}
    day = first
    while day <= last:
        if day not in off:
            for w in weekly:
                if w.weekday == day.weekday() and w.valid_from <= day and (w.ended_on is None or day < w.ended_on):
                    for s, e in _cut(day, w.start_time, w.end_time, w.slot_minutes):
                        wanted[s] = Wanted(s, e, w.mode, w.room_id, w.pk, None)
        for c in changes:
            if c.date == day and c.kind == ChangeKind.EXTRA:
                for s, e in _cut(day, c.start_time, c.end_time, c.slot_minutes):
                    wanted[s] = Wanted(s, e, c.mode, c.room_id, None, c.pk)
        for c in changes:
            if c.date == day and c.kind == ChangeKind.CANCELLED:
                gone_from, gone_to = at_local(day, c.start_time), at_local(day, c.end_time)
                for s in [s for s, w in wanted.items() if s < gone_to and w.ends_at > gone_from]:
                    del wanted[s]
        day += dt.timedelta(days=1)
    return wanted


@dataclass
class Materialised:
    created: int = 0
    withdrawn: int = 0
    booked_in_the_way: list[Booking] | None = None


def booked_outside(counsellor_id: int, school_id: int, first: dt.date, last: dt.date,
                   now: dt.datetime) -> list[Booking]:
    """Active future bookings in slots the availability no longer asks for."""
    wanted = wanted_slots(counsellor_id, school_id, first, last)
    return [b for b in Booking.objects.filter(
        status=BookingStatus.ACTIVE, slot__counsellor_id=counsellor_id, slot__school_id=school_id,
        starts_at__gt=now, starts_at__gte=at_local(first, dt.time.min),
        starts_at__lt=at_local(last + dt.timedelta(days=1), dt.time.min)).select_related("slot")
        if b.slot.starts_at not in wanted]


def materialise(counsellor_id: int, school_id: int, first: dt.date, last: dt.date,
                now: dt.datetime | None = None) -> Materialised:
    """Make the future slots from ``first`` to ``last`` match the availability: create the
    missing ones, reopen withdrawn ones asked for again, withdraw the unbooked ones no longer
    asked for. A booked slot is never withdrawn here (the caller refuses the change first)."""
    now = now or timezone.now()
    wanted = {s: w for s, w in wanted_slots(counsellor_id, school_id, first, last).items() if s > now}
    lo, hi = at_local(first, dt.time.min), at_local(last + dt.timedelta(days=1), dt.time.min)
    existing = {s.starts_at: s for s in Slot.objects.filter(counsellor_id=counsellor_id,
                                                            starts_at__gte=lo, starts_at__lt=hi,
                                                            starts_at__gt=now)}
    done = Materialised()
    new = [Slot(counsellor_id=counsellor_id, school_id=school_id, starts_at=w.starts_at, ends_at=w.ends_at,
                mode=w.mode, room_id=w.room_id, weekly_id=w.weekly_id, change_id=w.change_id)
           for s, w in wanted.items() if s not in existing]
    Slot.objects.bulk_create(new, ignore_conflicts=True)
    done.created = len(new)
    reopen = [existing[s].pk for s in wanted if s in existing and existing[s].cancelled]
    if reopen:
        Slot.objects.filter(pk__in=reopen).update(cancelled=False)
    for s, w in wanted.items():  # the place or length may have changed
        slot = existing.get(s)
        if slot is not None and (slot.mode, slot.room_id, slot.ends_at) != (w.mode, w.room_id, w.ends_at):
            Slot.objects.filter(pk=slot.pk).exclude(bookings__status=BookingStatus.ACTIVE).update(
                mode=w.mode, room_id=w.room_id, ends_at=w.ends_at, weekly_id=w.weekly_id, change_id=w.change_id)
    gone = [s.pk for start, s in existing.items() if start not in wanted and not s.cancelled]
    if gone:
        done.withdrawn = (Slot.objects.filter(pk__in=gone).exclude(bookings__status=BookingStatus.ACTIVE)
                          .update(cancelled=True))
    return done


def extend_slots(now: dt.datetime | None = None) -> int:
    """The worker's job: as days pass, make the slots of each weekly pattern for the booking
    window (a handful of rows a day per counsellor; nothing when all are up to date)."""
    now = now or timezone.now()
    made = 0
    windows: dict[int, Window] = {}  # one read of each school's rules a pass
    for w in WeeklyAvailability.objects.filter(ended_on__isnull=True):
        win = windows.get(w.school_id) or windows.setdefault(w.school_id, window(w.school_id, now))
        if w.generated_until is not None and w.generated_until >= win.last:
            continue
        with transaction.atomic():
            made += materialise(w.counsellor_id, w.school_id, win.first, win.last, now).created
            WeeklyAvailability.objects.filter(pk=w.pk).update(generated_until=win.last)
    return made


# --- reminders --------------------------------------------------------------------------------------


def reminder_due(booking: Booking, now: dt.datetime) -> bool:
    start_day = local_day(booking.starts_at)
    due = at_local(start_day - dt.timedelta(days=1), dt.time(REMINDER_HOUR))
    return booking.starts_at > now and now >= due


def send_reminders(now: dt.datetime | None = None) -> int:
    """The worker's job: each active booking is reminded once, the day before (inbox, and
    e-mail where the client has one). The message names the time, never the intake; each
    booking is claimed by a conditional update, so two workers never remind twice."""
    now = now or timezone.now()
    candidates = (Booking.objects.filter(status=BookingStatus.ACTIVE, reminded_at__isnull=True,
                                         starts_at__gt=now, starts_at__lt=now + dt.timedelta(days=2))
                  .select_related("client", "slot"))
    sent = 0
    for booking in candidates:
        if not reminder_due(booking, now):
            continue
        with transaction.atomic():
            if not Booking.objects.filter(pk=booking.pk, reminded_at__isnull=True).update(reminded_at=now):
                continue
            notify_users([booking.client], REMINDER, {"when": when_text(booking.starts_at)},
                         reverse("counseling:appointments"))
            sent += 1
    return sent

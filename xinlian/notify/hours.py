"""Office hours: when the centre is at work, in Asia/Shanghai local time.

By default Monday to Friday, 08:00 to 18:00 are office hours; everything else (nights, weekends)
is "out of hours". The centre can change the days and times in the channel policy
(:class:`xinlian.notify.models.OfficeHours`); the functions here read it, and fall back to the
defaults when nothing is stored.

Holidays and make-up workdays (调休) break the weekly pattern: a holiday has no office hours, a
make-up workday has them on a day that is otherwise off (:class:`xinlian.notify.models.Holiday`,
kept on the centre's settings page).

Other apps build on :func:`is_out_of_hours` (the duty rota routes alerts to the person on duty
out of hours) — its signature stays as it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

OFFICE_TIME_ZONE = ZoneInfo("Asia/Shanghai")

DEFAULT_START = time(8, 0)
DEFAULT_END = time(18, 0)
DEFAULT_WEEKDAYS = frozenset({0, 1, 2, 3, 4})  # Monday = 0 … Friday = 4


@dataclass(frozen=True)
class Hours:
    start: time = DEFAULT_START
    end: time = DEFAULT_END
    weekdays: frozenset[int] = DEFAULT_WEEKDAYS

    def contains(self, local: datetime) -> bool:
        return local.weekday() in self.weekdays and self.start <= local.time() < self.end


def office_hours() -> Hours:
    """The centre's office hours: the stored ones if any, else Monday–Friday 08:00–18:00."""
    try:
        from .models import OfficeHours
    except ImportError:  # the model is not there (yet): the defaults
        return Hours()
    return OfficeHours.current()


def local(at: datetime | None = None) -> datetime:
    """``at`` (default: now) in Asia/Shanghai local time; a naive ``at`` is taken as local."""
    at = at or timezone.now()
    if timezone.is_naive(at):
        return at.replace(tzinfo=OFFICE_TIME_ZONE)
    return at.astimezone(OFFICE_TIME_ZONE)


def calendar(start: date, end: date) -> dict[date, str]:
    """The holidays and make-up workdays from ``start`` to ``end`` (inclusive): date → kind."""
    try:
        from .models import Holiday
    except ImportError:  # the model is not there (yet): no exceptions to the week
        return {}
    return dict(Holiday.objects.filter(date__gte=start, date__lte=end).values_list("date", "kind"))


def is_holiday(day: date) -> bool:
    """True on a date the centre marked as a holiday (no office hours that day)."""
    return calendar(day, day).get(day) == "holiday"


def _office_day(day: date, hours: Hours, exceptions: dict[date, str]) -> bool:
    kind = exceptions.get(day)
    if kind == "holiday":
        return False
    if kind == "workday":
        return True
    return day.weekday() in hours.weekdays


def _inside(now: datetime, hours: Hours, exceptions: dict[date, str]) -> bool:
    return _office_day(now.date(), hours, exceptions) and hours.start <= now.time() < hours.end


def is_out_of_hours(at: datetime | None = None) -> bool:
    """True outside office hours (nights, weekends, holidays), in Asia/Shanghai local time; a
    make-up workday has office hours."""
    now = local(at)
    return not _inside(now, office_hours(), calendar(now.date(), now.date()))


# Long enough for the Spring Festival (up to nine days off) next to a weekend, with room to spare.
LOOKAHEAD_DAYS = 40


def next_office_hours_start(at: datetime | None = None) -> datetime:
    """When office hours next begin at or after ``at`` (``at`` itself when inside them), as an
    aware datetime, skipping holidays and counting make-up workdays. With no office day in
    sight, ``at`` (nothing is held forever)."""
    hours = office_hours()
    now = local(at)
    exceptions = calendar(now.date(), now.date() + timedelta(days=LOOKAHEAD_DAYS))
    if _inside(now, hours, exceptions) or hours.start >= hours.end:
        return now
    if not hours.weekdays and "workday" not in exceptions.values():
        return now
    for days in range(LOOKAHEAD_DAYS + 1):
        day = (now + timedelta(days=days)).date()
        if not _office_day(day, hours, exceptions):
            continue
        start = datetime.combine(day, hours.start, tzinfo=OFFICE_TIME_ZONE)
        if start >= now:
            return start
    return now

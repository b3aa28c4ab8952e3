"""Office hours: when the centre is at work, in Asia/Shanghai local time.

By default Monday to Friday, 08:00 to 18:00 are office hours; everything else (nights, weekends)
is "out of hours". The centre can change the days and times in the channel policy
(:class:`xinlian.notify.models.OfficeHours`); the functions here read it, and fall back to the
defaults when nothing is stored.

Other apps build on :func:`is_out_of_hours` (the duty rota routes alerts to the person on duty
out of hours) — its signature stays as it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
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


def is_out_of_hours(at: datetime | None = None) -> bool:
    """True outside office hours (nights, weekends), in Asia/Shanghai local time."""
    return not office_hours().contains(local(at))


def next_office_hours_start(at: datetime | None = None) -> datetime:
    """When office hours next begin at or after ``at`` (``at`` itself when inside them), as an
    aware datetime. With no office day configured, ``at`` (nothing is held forever)."""
    hours = office_hours()
    now = local(at)
    if hours.contains(now) or not hours.weekdays or hours.start >= hours.end:
        return now
    for days in range(8):
        day = (now + timedelta(days=days)).date()
        if day.weekday() not in hours.weekdays:
            continue
        start = datetime.combine(day, hours.start, tzinfo=OFFICE_TIME_ZONE)
        if start >= now:
            return start
    return now

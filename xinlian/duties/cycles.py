"""Cycles and their periods: the defaults a school starts with, and the periods open on a day.

A period row is made the first time it is needed (by the worker ahead of time, or by the first
reporter) with one select and one ``bulk_create(ignore_conflicts=True)`` for all the cycles
asked about, so that a Monday rush of thousands of reporters never races on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from xinlian.network.models import Post, Role, Unit, UnitKind

from .models import REPORT_ROLES, Cadence, ReportCycle, ReportPeriod, Weekday

# The policies' defaults: peer reporters weekly, due the Monday after the week; the 辅导员's
# college summary monthly, due on the 5th of the next month.
DEFAULTS: dict[str, dict[str, object]] = {
    Role.COMMITTEE_MEMBER: {"cadence": Cadence.WEEKLY, "due_weekday": Weekday.MONDAY, "grace_days": 2},
    Role.DORM_LIAISON: {"cadence": Cadence.WEEKLY, "due_weekday": Weekday.MONDAY, "grace_days": 2},
    Role.FUDAOYUAN: {"cadence": Cadence.MONTHLY, "due_day": 5, "grace_days": 3},
}
# How far back a period may still be open (the longest grace a cycle can have, in periods).
LOOK_BACK = 6


def ensure_default_cycles(school: Unit) -> list[ReportCycle]:
    """The school's cycles, the policies' defaults for any role that has none yet."""
    have = {c.role: c for c in ReportCycle.objects.filter(school=school)}
    for role in REPORT_ROLES:
        if role not in have:
            have[role], _ = ReportCycle.objects.get_or_create(school=school, role=role, defaults=DEFAULTS[role])
    return [have[r] for r in REPORT_ROLES]


def school_prefix(path: str) -> list[str]:
    """Every ancestor path of ``path`` (itself included): one of them is the school's."""
    step = Unit.steplen
    return [path[:i] for i in range(step, len(path) + 1, step)]


def cycles_for_posts(posts: Iterable[Post]) -> dict[int, ReportCycle]:
    """Post id → the active cycle of its role at its school (one query for all the posts)."""
    posts = [p for p in posts if p.role in REPORT_ROLES]
    if not posts:
        return {}
    prefixes = {pre for p in posts for pre in school_prefix(p.unit.path)}
    cycles = list(ReportCycle.objects.filter(active=True, school__path__in=prefixes,
                                             school__kind=UnitKind.SCHOOL).select_related("school"))
    found: dict[int, ReportCycle] = {}
    for post in posts:
        for cycle in cycles:
            if cycle.role == post.role and post.unit.path.startswith(cycle.school.path):
                found[post.pk] = cycle
    return found


def wanted_bounds(cycle: ReportCycle, today: dt.date) -> list[tuple[dt.date, dt.date, dt.date, dt.date]]:
    """The bounds of the periods open on ``today`` (started, not closed), the current last."""
    out = []
    day = today
    for _i in range(LOOK_BACK):
        bounds = cycle.bounds(day)
        if bounds[3] < today:
            break
        out.append(bounds)
        day = bounds[0] - dt.timedelta(days=1)
    return list(reversed(out))


def ensure_periods(wanted: dict[int, list[tuple[dt.date, dt.date, dt.date, dt.date]]],
                   cycles: dict[int, ReportCycle]) -> dict[tuple[int, dt.date], ReportPeriod]:
    """(cycle id, starts_on) → period for every wanted period, made when missing (≤ 3 queries)."""
    keys = {(cid, b[0]) for cid, bounds in wanted.items() for b in bounds}
    if not keys:
        return {}

    def fetch() -> dict[tuple[int, dt.date], ReportPeriod]:
        q = Q()
        for cid, start in keys:
            q |= Q(cycle_id=cid, starts_on=start)
        return {(p.cycle_id, p.starts_on): p for p in ReportPeriod.objects.filter(q)}

    have = fetch()
    missing = [ReportPeriod(cycle_id=cid, starts_on=b[0], ends_on=b[1], due_on=b[2], closes_on=b[3])
               for cid, bounds in wanted.items() for b in bounds if (cid, b[0]) not in have]
    if missing:
        ReportPeriod.objects.bulk_create(missing, ignore_conflicts=True)
        have = fetch()
    for period in have.values():
        period.cycle = cycles[period.cycle_id]
    return have


def open_periods(cycles: Iterable[ReportCycle], today: dt.date | None = None) -> dict[int, list[ReportPeriod]]:
    """Cycle id → its periods open on ``today``, the earliest due first."""
    today = today or timezone.localdate()
    cycles = {c.pk: c for c in cycles}
    wanted = {cid: wanted_bounds(c, today) for cid, c in cycles.items()}
    have = ensure_periods(wanted, cycles)
    return {cid: [have[(cid, b[0])] for b in bounds if (cid, b[0]) in have] for cid, bounds in wanted.items()}


def period_on(cycle: ReportCycle, day: dt.date) -> ReportPeriod:
    """The period of ``cycle`` that holds ``day`` (made when missing)."""
    bounds = cycle.bounds(day)
    return ensure_periods({cycle.pk: [bounds]}, {cycle.pk: cycle})[(cycle.pk, bounds[0])]


def latest_due(cycle: ReportCycle, today: dt.date | None = None) -> ReportPeriod:
    """The period most recently due (the week the centre's table shows by default): the one
    whose due day is today or passed last; the current one when none has been due yet."""
    today = today or timezone.localdate()
    day = today
    for _i in range(LOOK_BACK):
        start, _end, due, _closes = cycle.bounds(day)
        if due <= today:
            return period_on(cycle, day)
        day = start - dt.timedelta(days=1)
    return period_on(cycle, today)


def term_covers(post: Post, period: ReportPeriod) -> bool:
    """The reporter's term on the post overlaps the period."""
    return post.starts_on <= period.ends_on and (post.ends_on is None or post.ends_on >= period.starts_on)


def expected_q(period: ReportPeriod) -> Q:
    """Posts expected to report for ``period``: in post when it is due (one who left before is no
    longer expected; one who starts after it ends never was)."""
    return (Q(starts_on__lte=period.ends_on) & (Q(ends_on__isnull=True) | Q(ends_on__gte=period.due_on)))

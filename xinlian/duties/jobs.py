"""The worker's report jobs (registered in ``DutiesConfig.ready``): a reminder to each reporter
who has not filed the day before the report is due (and on the due day), and after the grace
days one message to each 辅导员 (the college lead, for college summaries) counting the reports
missing under them. Each is sent once per period and person (``Reminder`` rows); a period is
handled under a row lock taken with ``skip_locked``, so several workers share the work."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from xinlian.network.models import Post, User
from xinlian.notify.services import notify_users

from . import cycles
from .models import REVIEWER_ROLE, Reminder, ReminderKind, Report, ReportCycle, ReportPeriod

DUE_SOON = gettext_noop("Your report for %(period)s is due on %(due)s.")
MISSING = gettext_noop("%(n)s reports for %(period)s are missing in your units.")
REMIND_DAYS_BEFORE = 1
# Reminders are a matter of days: a worker looks again at most this often (its loop runs every
# fraction of a second, and the expected reporters of a school are thousands of rows).
EVERY = dt.timedelta(minutes=10)
_last_pass: dict[str, float] = {}


def _due(name: str, today: dt.date | None) -> bool:
    """Whether the job runs now: always when given a day (tests, a command), else once per EVERY."""
    if today is not None:
        return True
    now = time.monotonic()
    if now - _last_pass.get(name, -1e9) < EVERY.total_seconds():
        return False
    _last_pass[name] = now
    return True
# Missing reports are counted for periods closed at most this long ago (not forever).
MISSING_WINDOW = dt.timedelta(days=7)


def _missing_posts(period: ReportPeriod) -> list[Post]:
    cycle = period.cycle
    filed = Report.objects.filter(period=period, submitted_at__isnull=False).values("post_id")
    return list(Post.objects.filter(cycles.expected_q(period), role=cycle.role,
                                    unit__path__startswith=cycle.school.path)
                .exclude(pk__in=filed).select_related("unit"))


def _ensure_current(today: dt.date) -> None:
    active = list(ReportCycle.objects.filter(active=True).select_related("school"))
    if active:
        cycles.open_periods(active, today)


def _ensure_recently_closed(today: dt.date) -> None:
    """Periods closed within the window exist even when nobody filed for them."""
    active = {c.pk: c for c in ReportCycle.objects.filter(active=True)}
    wanted: dict[int, list[tuple[dt.date, dt.date, dt.date, dt.date]]] = {}
    for cid, cycle in active.items():
        day = today
        for _i in range(cycles.LOOK_BACK + 2):
            bounds = cycle.bounds(day)
            if bounds[3] < today - MISSING_WINDOW:
                break
            if bounds[3] < today:
                wanted.setdefault(cid, []).append(bounds)
            day = bounds[0] - dt.timedelta(days=1)
    cycles.ensure_periods(wanted, active)


def _periods(q: Q) -> list[int]:
    return list(ReportPeriod.objects.filter(q, cycle__active=True).values_list("pk", flat=True))


def _locked(pk: int) -> ReportPeriod | None:
    return (ReportPeriod.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("cycle__school").filter(pk=pk).first())


def _new_reminders(period: ReportPeriod, users: set[int], kind: str) -> list[int]:
    done = set(Reminder.objects.filter(period=period, kind=kind, user_id__in=users)
               .values_list("user_id", flat=True))
    fresh = sorted(users - done)
    Reminder.objects.bulk_create([Reminder(period=period, user_id=u, kind=kind) for u in fresh],
                                 ignore_conflicts=True)
    return fresh


def remind_reporters(today: dt.date | None = None) -> int:
    """Reporters who have not filed, from the day before the due day until it passes."""
    if not _due("remind_reporters", today):
        return 0
    today = today or timezone.localdate()
    _ensure_current(today)
    sent = 0
    for pk in _periods(Q(due_on__gte=today, due_on__lte=today + dt.timedelta(days=REMIND_DAYS_BEFORE))):
        with transaction.atomic():
            period = _locked(pk)
            if period is None:
                continue
            users = {p.person_id for p in _missing_posts(period)}
            fresh = _new_reminders(period, users, ReminderKind.DUE)
            notify_users(User.objects.filter(pk__in=fresh), DUE_SOON,
                         {"period": period.label, "due": f"{period.due_on:%m-%d}"}, reverse("duties:home"))
            sent += len(fresh)
    return sent


def remind_missing(today: dt.date | None = None) -> int:
    """After the grace days, each 辅导员 (college lead for summaries) hears how many reports
    are missing under their posts: a count and a link to the completeness table."""
    if not _due("remind_missing", today):
        return 0
    today = today or timezone.localdate()
    _ensure_recently_closed(today)
    sent = 0
    for pk in _periods(Q(closes_on__lt=today, closes_on__gte=today - MISSING_WINDOW)):
        with transaction.atomic():
            period = _locked(pk)
            if period is None:
                continue
            missing = _missing_posts(period)
            if not missing:
                continue
            reviewer_role = REVIEWER_ROLE[period.cycle.role]
            reviewers = list(Post.objects.active(today).filter(
                role=reviewer_role, unit__path__startswith=period.cycle.school.path).select_related("unit"))
            counts: Counter[int] = Counter()
            for post in missing:
                for reviewer in reviewers:
                    if post.unit.path.startswith(reviewer.unit.path) and reviewer.person_id != post.person_id:
                        counts[reviewer.person_id] += 1
            fresh = _new_reminders(period, set(counts), ReminderKind.MISSING)
            link = f"{reverse('duties:completeness')}?cycle={period.cycle_id}&period={period.pk}"
            for user in User.objects.filter(pk__in=fresh):
                notify_users([user], MISSING, {"n": str(counts[user.pk]), "period": period.label}, link)
            sent += len(fresh)
    return sent

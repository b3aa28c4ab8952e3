"""What the home page shows from counselling: a client's next appointment, and for a
counsellor the bookings with them today and the referrals waiting (counts, links). Three
queries at most; nothing of the intake or of a referral's reason. Items are care's
:class:`~xinlian.care.work.WorkItem` (counseling sits above care)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from xinlian.care.work import BAND_STANDING, Work, WorkItem
from xinlian.network.models import User

from . import access, rules
from .models import Booking, BookingStatus, ReferralIn, ReferralStatus


def work_for(request: HttpRequest, now: dt.datetime | None = None) -> Work:
    user: User = request.user  # type: ignore[assignment]
    work = Work()
    if not getattr(user, "is_authenticated", False):
        return work
    now = now or timezone.now()
    upcoming = (Booking.objects.filter(client=user, status=BookingStatus.ACTIVE, starts_at__gt=now)
                .select_related("slot", "slot__room", "slot__counsellor").order_by("starts_at").first())
    if upcoming is not None:
        when = timezone.localtime(upcoming.starts_at, rules.zone())
        work.items.append(WorkItem(
            kind="counseling", title=gettext("Next counselling appointment"),
            url=reverse("counseling:booking", args=[upcoming.pk]), band=BAND_STANDING,
            label=gettext("Counselling"), detail=f"{when:%Y-%m-%d %H:%M} · {upcoming.slot.where()}"))
    if access.is_counselling_staff(user):
        today = rules.local_day(now)
        n = Booking.objects.filter(slot__counsellor=user, status=BookingStatus.ACTIVE,
                                   starts_at__gte=rules.at_local(today, dt.time.min),
                                   starts_at__lt=rules.at_local(today + dt.timedelta(days=1), dt.time.min)).count()
        if n:
            work.items.append(WorkItem(
                kind="counseling", title=ngettext("%(n)d booking with you today", "%(n)d bookings with you today",
                                                  n) % {"n": n},
                url=reverse("counseling:staff"), band=BAND_STANDING, label=gettext("Counselling")))
        # Referrals in waiting for a decision: those to this counsellor and the centre's queue
        # (a count and a link; the reasons are read on the queue page, audited there).
        waiting = ReferralIn.objects.filter(
            school_id__in=[u.pk for u in access.staff_schools(user)], status=ReferralStatus.NEW,
        ).filter(Q(to_counsellor__isnull=True) | Q(to_counsellor=user)).count()
        if waiting:
            work.items.append(WorkItem(
                kind="counseling", title=ngettext("%(n)d referral waiting", "%(n)d referrals waiting",
                                                  waiting) % {"n": waiting},
                url=reverse("counseling:referrals"), band=BAND_STANDING, label=gettext("Counselling"),
                severity=1))
    return work

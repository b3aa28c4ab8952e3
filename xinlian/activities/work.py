"""What a person owes now, from activities: the activities assigned to their units and not yet
recorded (due first), their college's open 5·25 tasks, and the courses they teach with hours
still to deliver. A fixed number of queries whatever the size of the school."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Q, Sum
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from xinlian.care.work import BAND_DUE, More, Work, WorkItem, end_of_day, set_due
from xinlian.network.models import UnitKind, User

from . import actions
from .models import AssignmentStatus, Campaign, Course

SHOWN = 5


def work_for(request: HttpRequest, now: dt.datetime | None = None) -> Work:
    user: User = request.user  # type: ignore[assignment]
    if not getattr(user, "is_authenticated", False):
        return Work()
    now = now or timezone.now()
    today = timezone.localdate(now)
    work = Work()
    if actions._posts(user, actions.RECORDER_ROLES):
        todo = actions.my_assignments(user).filter(status=AssignmentStatus.ASSIGNED)
        rows = list(todo[:SHOWN + 1])
        for a in rows[:SHOWN]:
            item = WorkItem(kind="activity", title=f"{a.activity.title} · {a.unit.display_name}",
                            url=reverse("activities:assignment", args=[a.pk]), band=BAND_DUE,
                            label=gettext("Activity to hold and record"), severity=0)
            work.items.append(set_due(item, end_of_day(a.due_on), now))
        if len(rows) > SHOWN:
            work.more.append(More(gettext("More activities to record"), reverse("activities:home")))
    colleges = [p.unit for p in actions._posts(user, actions.COLLEGE_ROLES) if p.unit.kind == UnitKind.COLLEGE]
    if colleges:
        q = Q(pk__in=[])
        for college in colleges:
            q |= Q(activities__assignments__unit__path__startswith=college.path)
        open_tasks = (Campaign.objects.filter(ends_on__gte=today - dt.timedelta(days=30))
                      .annotate(open=Count("activities__assignments", distinct=True,
                                           filter=q & Q(activities__assignments__status=AssignmentStatus.ASSIGNED)))
                      .filter(open__gt=0).order_by("ends_on")[:SHOWN])
        for campaign in open_tasks:
            item = WorkItem(kind="campaign_task", title=campaign.name,
                            url=reverse("activities:campaign", args=[campaign.pk]), band=BAND_DUE,
                            label=ngettext("%(n)d task of your college still open", "%(n)d tasks of your college still open",
                                           campaign.open) % {"n": campaign.open}, severity=0)
            work.items.append(set_due(item, end_of_day(campaign.ends_on), now))
    # Only courses with hours still to deliver, filtered before the cut: finished courses of
    # earlier terms must not crowd out the current one.
    courses = (Course.objects.filter(teacher=user).annotate(delivered=Sum("lessons__hours"))
               .filter(Q(delivered__isnull=True) | Q(delivered__lt=F("hours_planned")))
               .order_by("term", "pk")[:SHOWN])
    for course in courses:
        work.items.append(WorkItem(
            kind="course", title=f"{course.title} · {course.term}", url=reverse("activities:courses"),
            label=gettext("%(done)s of %(planned)s hours delivered: record a lesson")
            % {"done": course.delivered or 0, "planned": course.hours_planned}, severity=0))
    return work


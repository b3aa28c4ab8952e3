"""What a person owes now, from training: for an organiser, the sessions under way or just held
whose attendance is still to record ("training_record"); for anyone, the upcoming sessions they
are invited to and the pre-service training their post lacks ("training"); for the 辅导员 and
the centre, how many in their units are not yet trained. A fixed number of queries whatever the
size of the school, and none for a person without a post or an invitation."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from xinlian.care.work import BAND_STANDING, Work, WorkItem, end_of_day, set_due
from xinlian.network.models import User

from . import actions
from .models import Attendance, AttendanceStatus, TrainingSession

SHOWN = 5
# Attendance is asked for until a week after the session.
RECORD_WINDOW = dt.timedelta(days=7)


def work_for(request: HttpRequest, now: dt.datetime | None = None) -> Work:
    user: User = request.user  # type: ignore[assignment]
    if not getattr(user, "is_authenticated", False):
        return Work()
    now = now or timezone.now()
    items: list[WorkItem] = []
    roots = actions.overseen_units(user)
    if roots:
        pending = (TrainingSession.objects.filter(actions.paths_q("organiser__path", roots),
                                                  starts_at__lte=now, starts_at__gte=now - RECORD_WINDOW)
                   .annotate(n=Count("attendances", filter=Q(attendances__status=AttendanceStatus.INVITED)))
                   .filter(n__gt=0).order_by("starts_at")[:SHOWN])
        for session in pending:
            item = WorkItem(kind="training_record", title=session.title, url=session.get_absolute_url(),
                            label=gettext("Attendance to record"),
                            detail=ngettext("%(n)d person not recorded yet", "%(n)d people not recorded yet",
                                            session.n) % {"n": session.n})
            items.append(set_due(item, end_of_day(timezone.localdate(session.starts_at + RECORD_WINDOW)), now))
    for row in (Attendance.objects.filter(person=user, status=AttendanceStatus.INVITED, session__starts_at__gt=now)
                .select_related("session").order_by("session__starts_at")[:SHOWN]):
        session = row.session
        item = WorkItem(kind="training", title=session.title, url=session.get_absolute_url(),
                        label=gettext("Training to attend"),
                        place=session.place, detail=timezone.localtime(session.starts_at).strftime("%Y-%m-%d %H:%M"))
        items.append(set_due(item, session.starts_at, now))
    for post in actions.missing_own(user):
        items.append(WorkItem(kind="training", title=post.unit.display_name, url=reverse("training:home"),
                              band=BAND_STANDING, label=gettext("Pre-service training missing"),
                              detail=post.get_role_display()))
    if roots:
        count = actions.untrained_count(user)
        if count:
            items.append(WorkItem(kind="training", band=BAND_STANDING, url=reverse("training:untrained"),
                                  title=ngettext("%(n)d person not yet trained", "%(n)d people not yet trained",
                                                 count) % {"n": count},
                                  label=gettext("Pre-service training")))
    return Work(items=items)

"""What a person owes now, from planning: the tasks they own in approved work plans (the due
date drives the band, as for reports), a plan waiting for the leader's approval, and the
action items a leadership-group meeting gave them, until each is done. A fixed number of
queries whatever the size of the school: the first few of each kind, the rest behind a link."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from xinlian.care.work import BAND_DUE, More, Work, WorkItem, end_of_day, set_due
from xinlian.network.models import User

from . import actions
from .models import APPROVER_ROLE, PlanStatus, TaskStatus, WorkPlan

SHOWN = 5


def work_for(request: HttpRequest, now: dt.datetime | None = None) -> Work:
    user: User = request.user  # type: ignore[assignment]
    if not getattr(user, "is_authenticated", False):
        return Work()
    now = now or timezone.now()
    work = Work()
    mine = reverse("planning:mine")
    tasks = list(actions.my_tasks(user).filter(status=TaskStatus.OPEN)[:SHOWN + 1])
    for task in tasks[:SHOWN]:
        item = WorkItem(kind="plan_task", title=task.title, url=task.plan.get_absolute_url(), band=BAND_DUE,
                        label=gettext("Work-plan task"), place=task.plan.label)
        work.items.append(set_due(item, end_of_day(task.due_on), now))
    if len(tasks) > SHOWN:
        work.more.append(More(gettext("All my work-plan tasks"), mine))
    items = list(actions.my_items(user).filter(done=False)[:SHOWN + 1])
    for action in items[:SHOWN]:
        item = WorkItem(kind="action_item", title=action.text, url=mine, band=BAND_DUE,
                        label=gettext("Action item"), place=f"{action.meeting.held_on:%m-%d} {action.meeting.title}")
        work.items.append(set_due(item, end_of_day(action.due_on), now))
    if len(items) > SHOWN:
        work.more.append(More(gettext("All my action items"), mine))
    schools = actions.schools_of(user, {APPROVER_ROLE})
    if schools:
        waiting = list(WorkPlan.objects.filter(school_id__in=schools, status=PlanStatus.SUBMITTED)
                       .order_by("submitted_at", "pk")[:SHOWN + 1])
        for plan in waiting[:SHOWN]:
            work.items.append(WorkItem(kind="plan_approval", title=f"{plan.label} · {plan.title}",
                                       url=plan.get_absolute_url(), label=gettext("Work plan to approve"),
                                       severity=1))
        if len(waiting) > SHOWN:
            work.more.append(More(ngettext("Work plan waiting", "Work plans waiting", SHOWN),
                                  reverse("planning:plans")))
    return work

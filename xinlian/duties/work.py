"""What a person owes now, from duties: the reports due from their posts (the one due first on
top: a 心理委员's weekly report is two taps from home), and for a reviewer the reports waiting
for their sign-off. A fixed number of queries whatever the size of the school."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from xinlian.care.work import BAND_DUE, Work, WorkItem, end_of_day, set_due
from xinlian.network.models import User

from . import actions
from .models import ReportStatus


def work_for(request: HttpRequest, now: dt.datetime | None = None) -> Work:
    user: User = request.user  # type: ignore[assignment]
    if not getattr(user, "is_authenticated", False):
        return Work()
    now = now or timezone.now()
    items: list[WorkItem] = []
    for due in actions.reports_due(user, timezone.localdate(now)):
        if due.done:
            continue
        sent_back = due.report is not None and due.report.status == ReportStatus.SENT_BACK
        label = gettext("Report sent back: please file it again") if sent_back else gettext("Report due")
        item = WorkItem(kind="report", title=f"{due.post.unit.display_name} · {due.period.label}",
                        url=reverse("duties:report-form", args=[due.post.pk, due.period.pk]),
                        band=BAND_DUE, label=label, severity=1, post_id=due.post.pk)
        items.append(set_due(item, end_of_day(due.period.due_on), now))
    if actions.reviews_anything(user):
        waiting = actions.list_reports(request, to_review=True).count()
        if waiting:
            items.append(WorkItem(kind="report_review", title=ngettext(
                "%(n)d report to sign off", "%(n)d reports to sign off", waiting) % {"n": waiting},
                url=reverse("duties:review"), label=gettext("Weekly and monthly reports"), severity=0))
    return Work(items=items)

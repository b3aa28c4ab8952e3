"""What a person owes now, from screening: the interviews assigned to them, and the units of an
open campaign that are behind (for the 辅导员, the college and the centre: whoever follows a
campaign up over more than one class).

Items are care's :class:`~xinlian.care.work.WorkItem` (screening sits above care), so that the
home page sorts them with the alerts. Each function runs a fixed number of queries whatever
the size of the school: interviews are counted once and the first few read; a campaign's
progress is one grouped query (as its own page), for at most ``CAMPAIGNS`` open campaigns."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from xinlian.care.work import SHOWN, More, Work, WorkItem, end_of_day, set_due
from xinlian.network.models import UnitKind, User

from . import access, reports
from .actions import first_table
from .models import Campaign, Interview, InterviewStatus

# Open campaigns looked at, soonest closing first, and units listed for each.
CAMPAIGNS = 3
UNITS_BEHIND = 3


def interviews_due(user: User, now: dt.datetime) -> tuple[list[WorkItem], int]:
    """Pending interviews assigned to ``user``, the earliest due first (critical items first
    on the same day)."""
    pending = Interview.objects.filter(assigned_to=user, status=InterviewStatus.PENDING)
    total = pending.count()
    if not total:
        return [], 0
    items = []
    for interview in (pending.select_related("student__user", "student__klass", "campaign")
                      .order_by("due_on", "-urgent", "pk")[:SHOWN]):
        detail = interview.campaign.name
        if interview.urgent:
            detail = f"{gettext('Critical item')} · {detail}"
        item = WorkItem(kind="interview", title=interview.student.user.full_name,
                        url=interview.get_absolute_url(), label=gettext("Screening interview"),
                        detail=detail, place=interview.student.klass.display_name,
                        severity=3 if interview.urgent else 1)
        items.append(set_due(item, end_of_day(interview.due_on), now))
    return items, total


def open_campaigns(user: User, now: dt.datetime) -> list[Campaign]:
    return list(access.visible_campaigns(user)
                .filter(launched_at__isnull=False, opens_at__lte=now, closes_at__gt=now)
                .select_related("school").order_by("closes_at", "pk")[:CAMPAIGNS])


def units_behind(user: User, now: dt.datetime) -> list[WorkItem]:
    """For each open campaign the user follows up over more than one class, one item due when
    it closes: the units with the lowest completion that still have students who have not
    finished (each a link to the unit's progress), and how many more units are behind."""
    items: list[WorkItem] = []
    for campaign in open_campaigns(user, now):
        roots = access.progress_roots(user, campaign, access.may_manage(user, campaign))
        if not roots or all(r.kind in (UnitKind.CLASS, UnitKind.DORMITORY) for r in roots):
            continue  # a head teacher's class: the campaign's own page shows who is missing
        _level, units = first_table(roots)
        by = reports.new_tallies()
        reports.collect_progress(by, access.progress_assignments(user, campaign))
        rows, total = reports.roll_up(by, units)
        behind = sorted((r for r in rows if r.unit is not None and r.tally.unfinished),
                        key=lambda r: (r.tally.completion, -r.tally.unfinished, r.unit.path))
        if not behind:
            continue
        lines = [(gettext("%(unit)s: %(done)d%% completed, %(left)d not finished")
                  % {"unit": r.label, "done": r.tally.completion, "left": r.tally.unfinished},
                  reverse("screening:campaign-unit", args=[campaign.pk, r.unit.pk]))
                 for r in behind[:UNITS_BEHIND]]
        hidden = len(behind) - len(lines)
        if hidden:
            lines.append((ngettext("%(n)d more unit is behind", "%(n)d more units are behind", hidden)
                          % {"n": hidden}, campaign.get_absolute_url()))
        item = WorkItem(kind="screening", title=campaign.name, url=campaign.get_absolute_url(),
                        label=gettext("Screening: units behind"),
                        detail=gettext("%(done)d%% completed in your units") % {"done": total.completion},
                        lines=lines)
        items.append(set_due(item, campaign.closes_at, now))
    return items


def work_for(request: HttpRequest, now: dt.datetime | None = None) -> Work:
    """Screening's part of the home page of ``request.user``."""
    user: User = request.user  # type: ignore[assignment]
    if getattr(user, "kind", None) != "staff":
        return Work()
    now = now or timezone.now()
    interviews, n_interviews = interviews_due(user, now)
    work = Work(items=interviews + units_behind(user, now))
    hidden = n_interviews - len(interviews)
    if hidden:
        work.more.append(More(ngettext("%(n)d more interview is due", "%(n)d more interviews are due",
                                       hidden) % {"n": hidden}, reverse("screening:interview-list")))
    return work

"""What a person owes now, from care: the alerts waiting for their 签收, the register follow-ups
due or overdue in their scope, the crisis cases they are on.

The home page (``xinlian.web``) gathers these items and screening's (``screening/work.py``)
into one list, most urgent first, each with its deadline counting down. Every function here
runs a fixed number of queries whatever the size of the school: each kind of item is counted
once and only its first few are read (the rest behind a link to the full list). What an alert
is about (its category and urgency) is shown only where the access policy lets the reader
read it (``care.access.sees_alert_report``); the read is audited, one row per page."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from django.db.models import Case as DbCase
from django.db.models import IntegerField, Q, Value, When
from django.http import HttpRequest
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from xinlian.access.models import AuditEvent
from xinlian.access.policy import (
    Cap,
    active_posts_of,
    audit,
    has_cap,
    visible_students,
)
from xinlian.network.models import User

from . import access as care_access
from .models import (
    LEVEL_ORDER,
    Alert,
    Case,
    CaseStatus,
    Level,
    LevelSetting,
    RiskEntry,
)

# How many items of one kind the home page lists; the rest are counted behind a link.
SHOWN = 5
# A register follow-up shows up this long before it falls due.
FOLLOW_UP_WARNING = dt.timedelta(days=1)

# Sort bands: red alerts waiting for 签收 first, then everything with a deadline (soonest,
# i.e. most overdue, first), then the standing work without one (cases).
BAND_RED = 0
BAND_DUE = 1
BAND_STANDING = 2


@dataclass(slots=True)
class WorkItem:
    """One thing a person owes, every value ready for the template (already policy-checked)."""

    kind: str                       # alert | follow_up | case | interview | screening
    title: str                      # whom or what it is about: a student's name, a unit
    url: str
    band: int = BAND_DUE
    due_at: dt.datetime | None = None
    due_text: str = ""              # "还剩 25 分钟" / "已逾期 2 小时", rendered on the server
    overdue: bool = False
    level: str = ""                 # red / orange / yellow: the item's colour, when it has one
    level_label: str = ""
    label: str = ""                 # what kind of work it is: "Alert", "Follow-up due", ...
    detail: str = ""                # what it is about, where the reader may know it
    place: str = ""
    ack_url: str = ""               # an alert's 签收 form, right on the item
    severity: int = 0               # larger: more severe (ties of the deadline)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (text, url) under the item
    post_id: int | None = None      # the post it is owed from, when one: "my duties" files it there

    @property
    def sort_key(self) -> tuple[int, float, int]:
        when = self.due_at.timestamp() if self.due_at is not None else float("inf")
        return (self.band, when, -self.severity)


@dataclass(slots=True)
class More:
    """Items of one kind beyond those listed: a count and the page that lists them all."""

    label: str
    url: str


@dataclass
class Work:
    items: list[WorkItem] = field(default_factory=list)
    more: list[More] = field(default_factory=list)

    def add(self, other: Work) -> None:
        self.items += other.items
        self.more += other.more

    def sorted(self) -> Work:
        return Work(sorted(self.items, key=lambda i: i.sort_key), self.more)


# --- deadlines --------------------------------------------------------------------------------


def span(delta: dt.timedelta) -> str:
    """A short duration: minutes under an hour, hours under two days, then days."""
    minutes = max(int(abs(delta).total_seconds() // 60), 1)
    if minutes < 60:
        return ngettext("%(n)d min", "%(n)d min", minutes) % {"n": minutes}
    hours = minutes // 60
    if hours < 48:
        return ngettext("%(n)d h", "%(n)d h", hours) % {"n": hours}
    days = hours // 24
    return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}


def countdown(due: dt.datetime, now: dt.datetime) -> tuple[str, bool]:
    """("还剩 25 分钟", False) before the deadline, ("已逾期 2 小时", True) after it."""
    if due <= now:
        return gettext("Overdue by %(time)s") % {"time": span(now - due)}, True
    return gettext("%(time)s left") % {"time": span(due - now)}, False


def end_of_day(day: dt.date) -> dt.datetime:
    """A date-only deadline ("due 12-09") falls due when that day ends, local time."""
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def set_due(item: WorkItem, due: dt.datetime | None, now: dt.datetime) -> WorkItem:
    item.due_at = due
    if due is not None:
        item.due_text, item.overdue = countdown(due, now)
    return item


# --- what an alert is about -----------------------------------------------------------------------


def sees_report(user: User, alert: Alert) -> bool:
    """The access policy's answer: may ``user`` read what ``alert`` is about? (Asked per item
    shown: at most ``SHOWN`` on the home page, a page of the inbox.)"""
    return care_access.sees_alert_report(user, alert)


def _share_students(alerts: list[Alert]) -> list[Alert]:
    """One instance per student across the alerts, so that the units holding a student (which
    the policy reads) are fetched once per student, not once per alert."""
    seen: dict[int, object] = {}
    for alert in alerts:
        alert.student = seen.setdefault(alert.student_id, alert.student)  # type: ignore[assignment]
    return alerts


def alert_about(alert: Alert) -> str:
    """The category and urgency of a reported concern, or what raised the alert."""
    if alert.concern is not None:
        return f"{alert.concern.get_category_display()} · {alert.concern.get_urgency_display()}"
    return str(alert.get_source_display())


# --- the items --------------------------------------------------------------------------------


def _severity_order() -> DbCase:
    """Red first, then orange, then yellow: a database CASE over the level."""
    return DbCase(*[When(level=lv, then=Value(-o)) for lv, o in LEVEL_ORDER.items()],
                  default=Value(0), output_field=IntegerField())


def alerts_awaiting(user: User, now: dt.datetime, levels: dict[str, LevelSetting]) -> tuple[list[WorkItem], int, int]:
    """Open alerts routed to ``user`` (red first, then by deadline): the first ``SHOWN`` as
    items, the number of all of them, and how many items show what the alert is about."""
    waiting = Alert.objects.open().for_responsible(user)
    total = waiting.count()
    if not total:
        return [], 0, 0
    alerts = list(waiting.select_related("student__user", "student__klass", "student__dorm", "concern")
                  .annotate(severity_rank=_severity_order()).order_by("severity_rank", "due_at", "pk")[:SHOWN])
    items, about = [], 0
    for alert in _share_students(alerts):
        setting = levels.get(alert.level)
        detail = ""
        if sees_report(user, alert):
            detail = alert_about(alert)
            about += alert.concern_id is not None
        item = WorkItem(
            kind="alert", title=alert.student.user.full_name, url=alert.get_absolute_url(),
            band=BAND_RED if alert.level == Level.RED else BAND_DUE,
            level=alert.level, level_label=setting.display_name if setting else alert.level,
            label=gettext("Alert waiting for you"), detail=detail,
            place=alert.student.klass.display_name,
            ack_url=reverse("alert-acknowledge", args=[alert.pk]),
            severity=LEVEL_ORDER.get(alert.level, 0))
        items.append(set_due(item, alert.due_at, now))
    return items, total, about


def follow_ups_due(user: User, now: dt.datetime, levels: dict[str, LevelSetting]) -> tuple[list[WorkItem], int]:
    """Watched students in the user's risk scope whose next follow-up is due within a day or
    overdue, the most overdue first."""
    if not has_cap(user, Cap.RISK):
        return [], 0
    due = (RiskEntry.objects.watched().filter(student__in=visible_students(user, Cap.RISK),
                                              follow_up_due_at__lte=now + FOLLOW_UP_WARNING))
    total = due.count()
    if not total:
        return [], 0
    items = []
    for entry in due.select_related("student__user", "student__klass").order_by("follow_up_due_at", "pk")[:SHOWN]:
        setting = levels.get(entry.level)
        item = WorkItem(
            kind="follow_up", title=entry.student.user.full_name,
            url=reverse("student-detail", args=[entry.student_id]),
            level=entry.level, level_label=setting.display_name if setting else entry.level,
            label=gettext("Register follow-up"), detail=entry.guidance,
            place=entry.student.klass.display_name, severity=LEVEL_ORDER.get(entry.level, 0))
        items.append(set_due(item, entry.follow_up_due_at, now))
    return items, total


def my_cases(user: User) -> tuple[list[WorkItem], int]:
    """Open crisis cases ``user`` leads or is a member of."""
    cases = (Case.objects.filter(Q(lead=user) | Q(pk__in=Case.members.through.objects.filter(
        user_id=user.pk).values("case_id"))).exclude(status=CaseStatus.CLOSED))
    total = cases.count()
    if not total:
        return [], 0
    items = []
    for case in cases.select_related("student__user", "student__klass").order_by("opened_at", "pk")[:SHOWN]:
        role = gettext("You lead this case") if case.lead_id == user.pk else gettext("You are on the case team")
        items.append(WorkItem(
            kind="case", title=case.student.user.full_name, url=case.get_absolute_url(),
            band=BAND_STANDING, label=gettext("Crisis case"),
            detail=f"{case.get_status_display()} · {role}", place=case.student.klass.display_name))
    return items, total


def work_for(request: HttpRequest, now: dt.datetime | None = None) -> Work:
    """Care's part of the home page of ``request.user``: alerts, follow-ups, cases. A read of
    tier 2 (levels, who is watched) leaves one audit row, counting what was shown (no names)."""
    user: User = request.user  # type: ignore[assignment]
    if getattr(user, "kind", None) != "staff" and not active_posts_of(user):
        return Work()
    now = now or timezone.now()
    levels = LevelSetting.all_levels()
    work = Work()
    alerts, n_alerts, about = alerts_awaiting(user, now, levels)
    follow_ups, n_follow = follow_ups_due(user, now, levels)
    cases, n_cases = my_cases(user)
    work.items = alerts + follow_ups + cases
    hidden = n_alerts - len(alerts)
    if hidden:
        work.more.append(More(ngettext("%(n)d more alert waits for you", "%(n)d more alerts wait for you",
                                       hidden) % {"n": hidden}, reverse("alert-inbox")))
    hidden = n_follow - len(follow_ups)
    if hidden:
        work.more.append(More(ngettext("%(n)d more follow-up is due", "%(n)d more follow-ups are due",
                                       hidden) % {"n": hidden}, reverse("register") + "?overdue=1"))
    hidden = n_cases - len(cases)
    if hidden:
        work.more.append(More(ngettext("%(n)d more case", "%(n)d more cases", hidden) % {"n": hidden},
                              reverse("case-list")))
    if work.items:
        detail = (f"alerts={len(alerts)};reports={about};follow_ups={len(follow_ups)};cases={len(cases)};"
                  f"shown={_fingerprint(work.items)}")
        if not _audited_lately(user, detail, now):
            audit(request, "home.work", object_type="care.alert", object_id="home", detail=detail)
    return work


# An open home tab refreshes its list every minute; auditing each refresh would write 60 rows an
# hour per tab (hundreds of thousands a day in a university) and bury the reads that matter. The
# same items shown again within this window are the same read; a change of what is shown is not.
REREAD_WINDOW = dt.timedelta(hours=1)


def _fingerprint(items: list[WorkItem]) -> str:
    """Which items were shown (their URLs carry the ids, never a name), as a short digest."""
    return hashlib.sha256("|".join(sorted(i.url for i in items)).encode()).hexdigest()[:16]


def _audited_lately(user: User, detail: str, now: dt.datetime) -> bool:
    return AuditEvent.objects.filter(actor=user, action="home.work", detail=detail,
                                     at__gte=now - REREAD_WINDOW).exists()


# --- the inbox: what each alert message is about --------------------------------------------------


@dataclass(slots=True)
class AlertSummary:
    level: str
    level_label: str
    colour: str
    status: str
    status_label: str
    about: str  # "" when the reader may not know what the alert is about


def alert_summaries(request: HttpRequest, ids: list[int]) -> dict[int, AlertSummary]:
    """Level, status and — where the policy allows — category and urgency of the alerts
    ``ids`` that the reader may still see (notify's inbox asks this through its hook). The
    categories shown are audited, one row for the page."""
    user: User = request.user  # type: ignore[assignment]
    if not ids:
        return {}
    levels = LevelSetting.all_levels()
    found = (care_access.visible_alerts(user).filter(pk__in=ids)
             .select_related("student__klass", "student__dorm", "concern"))
    out: dict[int, AlertSummary] = {}
    shown = 0
    for alert in _share_students(list(found)):
        setting = levels.get(alert.level)
        about = alert_about(alert) if sees_report(user, alert) else ""
        shown += bool(about) and alert.concern_id is not None
        out[alert.pk] = AlertSummary(
            level=alert.level, level_label=setting.display_name if setting else alert.level,
            colour=setting.colour if setting else "", status=alert.status,
            status_label=str(alert.get_status_display()), about=about)
    if shown:
        audit(request, "inbox.alerts", object_type="care.alert", object_id="inbox",
              detail=f"rows={len(out)};reports={shown}")
    return out


def _alert_id(delivery: object) -> int | None:
    """The alert a message is about: its ``alert_id``, else its link to the alert's page."""
    alert_id = getattr(delivery, "alert_id", None)
    if alert_id is not None:
        return int(alert_id)
    link = getattr(delivery, "link", "") or ""
    if not link.startswith("/"):
        return None
    try:
        match = resolve(link.split("?", 1)[0])
    except Resolver404:
        return None
    return int(match.kwargs["pk"]) if match.url_name == "alert-detail" else None


def inbox_summaries(request: HttpRequest, deliveries: list[object]) -> dict[int, AlertSummary]:
    """notify's inbox hook: delivery id → the summary of the alert it is about (see
    :func:`alert_summaries`); messages about no alert, or one the reader no longer sees, have none."""
    about = {d.pk: a for d in deliveries if (a := _alert_id(d)) is not None}  # type: ignore[attr-defined]
    summaries = alert_summaries(request, sorted(set(about.values())))
    return {pk: summaries[a] for pk, a in about.items() if a in summaries}

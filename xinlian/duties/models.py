"""Periodic peer reports (周报/月报): the cycle each school sets per role, its periods, the reports
filed for them and the students a report flags.

A report belongs to one post and one period (a database constraint): filing again for the same
period edits the report until the 辅导员 (or, for a college summary, the college lead) signs it
off. What a flag says was seen is sensitive and encrypted like a case record."""

from __future__ import annotations

import calendar
import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xinlian.care.models import Category, Urgency
from xinlian.lib.crypto import EncryptedTextField
from xinlian.network.models import Post, Role, Student, Unit, UnitKind

# The roles that file periodic reports, and which role reviews each one's reports.
REPORT_ROLES = (Role.COMMITTEE_MEMBER, Role.DORM_LIAISON, Role.FUDAOYUAN)
REVIEWER_ROLE = {Role.COMMITTEE_MEMBER: Role.FUDAOYUAN, Role.DORM_LIAISON: Role.FUDAOYUAN,
                 Role.FUDAOYUAN: Role.COLLEGE_LEAD}
# Who reads what a report's flags say (tiers as for concerns): the 辅导员 of the class, the
# college lead and the centre, each within the subtree of their post.
FLAG_READER_ROLES = frozenset({Role.FUDAOYUAN, Role.COLLEGE_LEAD, Role.CENTRE_DIRECTOR, Role.COUNSELLOR})
# Who sees the completeness tables (counts of reports, never what they say).
COMPLETENESS_ROLES = frozenset({*FLAG_READER_ROLES, Role.LEADER, Role.DEPUTY_LEADER})


class Cadence(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    FORTNIGHTLY = "fortnightly", _("Fortnightly")
    MONTHLY = "monthly", _("Monthly")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


# A fortnight counts from this Monday unless the cycle names its own first day.
FORTNIGHT_ANCHOR = dt.date(2024, 1, 1)


class ReportCycle(models.Model):
    """How often one role reports at one school, when it is due and how many days of grace."""

    school = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="report_cycles",
                               limit_choices_to={"kind": UnitKind.SCHOOL}, verbose_name=_("school"))
    role = models.CharField(_("role"), max_length=24,
                            choices=[(r.value, r.label) for r in REPORT_ROLES])
    cadence = models.CharField(_("cadence"), max_length=12, choices=Cadence.choices,
                               default=Cadence.WEEKLY)
    due_weekday = models.PositiveSmallIntegerField(
        _("due weekday"), choices=Weekday.choices, default=Weekday.MONDAY,
        help_text=_("Weekly and fortnightly reports: due on this day after the period ends."))
    due_day = models.PositiveSmallIntegerField(
        _("due day of the month"), default=5,
        help_text=_("Monthly reports: due on this day (1–28) of the following month."))
    grace_days = models.PositiveSmallIntegerField(
        _("grace days"), default=2, help_text=_("Days after the due day when a report is still taken (late)."))
    anchor = models.DateField(_("first day of the first fortnight"), default=FORTNIGHT_ANCHOR)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("report cycle")
        verbose_name_plural = _("report cycles")
        ordering = ["school", "role"]
        constraints = [
            models.UniqueConstraint(fields=["school", "role"], name="report_cycle_unique"),
            models.CheckConstraint(condition=models.Q(due_day__gte=1, due_day__lte=28),
                                   name="report_cycle_due_day"),
            models.CheckConstraint(condition=models.Q(due_weekday__lte=6), name="report_cycle_weekday"),
            models.CheckConstraint(condition=models.Q(grace_days__lte=31), name="report_cycle_grace"),
        ]

    def __str__(self) -> str:
        return f"{self.school} · {self.get_role_display()} · {self.get_cadence_display()}"

    def bounds(self, day: dt.date) -> tuple[dt.date, dt.date, dt.date, dt.date]:
        """(starts_on, ends_on, due_on, closes_on) of the period that holds ``day``."""
        if self.cadence == Cadence.MONTHLY:
            start = day.replace(day=1)
            end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
            following = end + dt.timedelta(days=1)
            due = following.replace(day=self.due_day)
        else:
            length = 14 if self.cadence == Cadence.FORTNIGHTLY else 7
            anchor = self.anchor - dt.timedelta(days=self.anchor.weekday())  # a Monday
            start = day - dt.timedelta(days=(day - anchor).days % length)
            end = start + dt.timedelta(days=length - 1)
            due = end + dt.timedelta(days=(self.due_weekday - end.weekday()) % 7)
        return start, end, due, due + dt.timedelta(days=self.grace_days)


class ReportPeriod(models.Model):
    """One week, fortnight or month of a cycle, with its due and closing days (fixed when the
    period is first needed: a later change of the cycle does not move a period under way)."""

    cycle = models.ForeignKey(ReportCycle, on_delete=models.CASCADE, related_name="periods",
                              verbose_name=_("report cycle"))
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"))
    due_on = models.DateField(_("due"))
    closes_on = models.DateField(_("closes"))

    class Meta:
        verbose_name = _("report period")
        verbose_name_plural = _("report periods")
        ordering = ["cycle", "-starts_on"]
        constraints = [models.UniqueConstraint(fields=["cycle", "starts_on"], name="report_period_unique")]
        indexes = [models.Index(fields=["due_on"]), models.Index(fields=["closes_on"])]

    def __str__(self) -> str:
        return f"{self.starts_on:%Y-%m-%d} – {self.ends_on:%Y-%m-%d}"

    @property
    def label(self) -> str:
        return f"{self.starts_on:%m-%d} – {self.ends_on:%m-%d}"

    @property
    def deadline(self) -> dt.datetime:
        """The end of the due day, local time: submitted before it is on time."""
        return timezone.make_aware(dt.datetime.combine(self.due_on + dt.timedelta(days=1), dt.time.min))

    def is_closed(self, today: dt.date | None = None) -> bool:
        return (today or timezone.localdate()) > self.closes_on

    def has_started(self, today: dt.date | None = None) -> bool:
        return (today or timezone.localdate()) >= self.starts_on


class OverallState(models.TextChoices):
    CALM = "calm", _("Nothing unusual")
    CONCERNS = "concerns", _("Some students need attention")


class ReportStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    SIGNED_OFF = "signed_off", _("Signed off")
    SENT_BACK = "sent_back", _("Sent back")


class Report(models.Model):
    """A post's report for one period. ``note`` and the reviewer's comment may name students:
    both are encrypted, like what a flag says was seen."""

    period = models.ForeignKey(ReportPeriod, on_delete=models.PROTECT, related_name="reports",
                               verbose_name=_("period"))
    post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="reports", verbose_name=_("post"))
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="reports", verbose_name=_("unit"))
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="duty_reports", verbose_name=_("reporter"))
    state = models.CharField(_("overall state"), max_length=12, choices=OverallState.choices,
                             default=OverallState.CALM)
    is_zero = models.BooleanField(_("zero report"), default=False)
    note = EncryptedTextField(_("note"), blank=True, default="")
    status = models.CharField(_("status"), max_length=12, choices=ReportStatus.choices,
                              default=ReportStatus.DRAFT)
    submitted_at = models.DateTimeField(_("first submitted"), null=True, blank=True)
    updated_at = models.DateTimeField(_("last changed"), auto_now=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+", verbose_name=_("reviewed by"))
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    review_comment = EncryptedTextField(_("review comment"), blank=True, default="")

    class Meta:
        verbose_name = _("peer report")
        verbose_name_plural = _("peer reports")
        ordering = ["-period__starts_on", "unit__path"]
        constraints = [models.UniqueConstraint(fields=["post", "period"], name="report_one_per_post_period")]
        indexes = [models.Index(fields=["period", "status"])]

    def __str__(self) -> str:
        return f"report #{self.pk}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("duties:report-detail", args=[self.pk])

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None and self.status != ReportStatus.DRAFT

    @property
    def on_time(self) -> bool:
        return self.submitted_at is not None and self.submitted_at < self.period.deadline


class Flag(models.Model):
    """A student a report flags: what was seen (encrypted), a category and how urgent. An urgent
    flag became a concern when it was filed (``concern``)."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="flags")
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("student"))
    seen = EncryptedTextField(_("what was seen"))
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    urgency = models.CharField(_("urgency"), max_length=8, choices=Urgency.choices)
    concern = models.ForeignKey("care.Concern", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name=_("concern"))

    class Meta:
        verbose_name = _("flagged student")
        verbose_name_plural = _("flagged students")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"flag #{self.pk}"


class ReminderKind(models.TextChoices):
    DUE = "due", _("Report due")
    MISSING = "missing", _("Reports missing")


class Reminder(models.Model):
    """A reminder sent once per period, person and kind (the worker may run many times a day)."""

    period = models.ForeignKey(ReportPeriod, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=ReminderKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["period", "user", "kind"], name="report_reminder_once")]

    def __str__(self) -> str:
        return f"{self.kind} reminder #{self.pk}"

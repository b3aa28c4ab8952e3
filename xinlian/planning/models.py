"""The centre's work plans and the leadership group's meetings (issue 12 §4).

A plan (the year's or the term's) is drafted by the school's centre director, submitted, and
approved or returned with a comment by the leadership-group leader (组长). Its tasks have owners
and due dates inside the plan's period and are tracked to done. An approved plan is fixed: its
goals and tasks are what the leader approved (a change is a new plan).

A meeting of the leadership group has a date, attendees, minutes and decisions, and action
items with owners and due dates that show on the owners' home pages until done. Minutes and
decisions may name students: they are encrypted and read by the leadership group and the
centre director only (tier-4-like). An action item's text is short and meant to name no one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from xinlian.lib.crypto import EncryptedTextField
from xinlian.network.models import Role, Unit, UnitKind

# The leadership group (领导小组) of a school.
LEADERSHIP_ROLES = frozenset({Role.LEADER, Role.DEPUTY_LEADER, Role.LEADERSHIP_MEMBER})
# Who reads a school's plans (besides the owners of their tasks), and a meeting's minutes.
PLAN_READER_ROLES = frozenset({*LEADERSHIP_ROLES, Role.CENTRE_DIRECTOR, Role.COUNSELLOR})
MINUTES_ROLES = frozenset({*LEADERSHIP_ROLES, Role.CENTRE_DIRECTOR})
# Who drafts plans; who approves them (the 组长 alone: the policies give approval to the leader);
# who records meetings and their action items.
DRAFTER_ROLE = Role.CENTRE_DIRECTOR
APPROVER_ROLE = Role.LEADER
MEETING_WRITER_ROLES = frozenset({Role.CENTRE_DIRECTOR, Role.LEADER, Role.DEPUTY_LEADER})

TITLE_MAX = 200
ITEM_MAX = 200


class PlanKind(models.TextChoices):
    YEAR = "year", _("School year")
    TERM = "term", _("Term")


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned")


# The states in which the director may still change a plan.
EDITABLE = (PlanStatus.DRAFT, PlanStatus.RETURNED)


class WorkPlan(models.Model):
    school = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="work_plans",
                               limit_choices_to={"kind": UnitKind.SCHOOL}, verbose_name=_("school"))
    kind = models.CharField(_("kind"), max_length=8, choices=PlanKind.choices, default=PlanKind.TERM)
    label = models.CharField(pgettext_lazy("of a work plan", "period"), max_length=60, help_text=_("e.g. 2026–2027 学年第一学期"))
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"))
    title = models.CharField(_("title"), max_length=TITLE_MAX)
    goals = models.TextField(_("goals"), blank=True, default="")
    status = models.CharField(_("status"), max_length=12, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    drafted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("drafted by"))
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("approved or returned by"))
    decided_at = models.DateTimeField(_("approved or returned"), null=True, blank=True)
    return_comment = models.TextField(_("comment on return"), blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last changed"), auto_now=True)

    class Meta:
        verbose_name = _("work plan")
        verbose_name_plural = _("work plans")
        ordering = ["-starts_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")),
                                   name="work_plan_period_order"),
        ]
        indexes = [models.Index(fields=["school", "status"])]

    def __str__(self) -> str:
        return f"{self.label} · {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("planning:plan", args=[self.pk])

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")


class PlanTask(models.Model):
    plan = models.ForeignKey(WorkPlan, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("plan"))
    title = models.CharField(_("task"), max_length=TITLE_MAX)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="plan_tasks",
                              verbose_name=_("owner"))
    due_on = models.DateField(_("due"))
    status = models.CharField(_("status"), max_length=8, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+", verbose_name=_("marked done by"))
    note = models.CharField(_("note"), max_length=ITEM_MAX, blank=True, default="",
                            help_text=_("What was done, in a line. Name no student here."))

    class Meta:
        verbose_name = _("plan task")
        verbose_name_plural = _("plan tasks")
        ordering = ["due_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status="open", done_at__isnull=True)
                                   | models.Q(status="done", done_at__isnull=False), name="plan_task_done_at"),
        ]
        indexes = [models.Index(fields=["owner", "status"])]

    def __str__(self) -> str:
        return self.title


class Meeting(models.Model):
    school = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="leadership_meetings",
                               limit_choices_to={"kind": UnitKind.SCHOOL}, verbose_name=_("school"))
    held_on = models.DateField(_("date"))
    title = models.CharField(_("title"), max_length=TITLE_MAX)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="leadership_meetings",
                                       blank=True, verbose_name=_("attendees"))
    minutes = EncryptedTextField(_("minutes"), blank=True, default="")
    decisions = EncryptedTextField(_("decisions"), blank=True, default="")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("recorded by"))
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("leadership-group meeting")
        verbose_name_plural = _("leadership-group meetings")
        ordering = ["-held_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.held_on:%Y-%m-%d} · {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("planning:meeting", args=[self.pk])


class ActionItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="items",
                                verbose_name=_("meeting"))
    text = models.CharField(_("action"), max_length=ITEM_MAX,
                            help_text=_("A short line that shows on the owner's home page: name no student."))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items",
                              verbose_name=_("owner"))
    due_on = models.DateField(_("due"))
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("action item")
        verbose_name_plural = _("action items")
        ordering = ["due_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(done=False, done_at__isnull=True)
                                   | models.Q(done=True, done_at__isnull=False), name="action_item_done_at"),
        ]
        indexes = [models.Index(fields=["owner", "done"])]

    def __str__(self) -> str:
        return self.text

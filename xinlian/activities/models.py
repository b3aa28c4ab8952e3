"""Activities planned by the centre or a college and assigned to units, their records (with
photos and sign-ins), the 5·25 month as a campaign, and the mental-health course.

An assignment is one unit's task for one activity (a database constraint: one per unit); its
record is written by the unit's people (one per assignment: a second record edits the first).
Photos are re-encoded files under ``settings.PRIVATE_MEDIA_ROOT`` with random names; a person
signs in to an activity once (a constraint)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from xinlian.network.models import Unit, UnitKind

PHOTOS_MAX = 9


class ActivityKind(models.TextChoices):
    LECTURE = "lecture", _("Lecture")
    GROUP = "group", _("Group session")
    CLASS_MEETING = "class_meeting", _("Themed class meeting (主题班会)")
    COMPETITION = "competition", _("Competition")
    PSYCHODRAMA = "psychodrama", _("Psychodrama (心理剧)")
    EVENT_525 = "event_525", _("5·25 event")
    OTHER = "other", _("Other")


class Campaign(models.Model):
    """A named campaign of the school (the 5·25 month): its activities' assignments are the
    colleges' tasks; a college has completed it when all of them are done."""

    school = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="activity_campaigns",
                               limit_choices_to={"kind": UnitKind.SCHOOL}, verbose_name=_("school"))
    name = models.CharField(_("name"), max_length=120)
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("activity campaign")
        verbose_name_plural = _("activity campaigns")
        ordering = ["-starts_on", "pk"]
        constraints = [models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")),
                                              name="activity_campaign_dates")]

    def __str__(self) -> str:
        return self.name


class Activity(models.Model):
    """What the centre (planner unit: the school) or a college plans."""

    kind = models.CharField(_("kind"), max_length=16, choices=ActivityKind.choices)
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), blank=True, default="")
    planner_unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="planned_activities",
                                     verbose_name=_("planned by"))
    planned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("planner"))
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="activities", verbose_name=_("campaign"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class AssignmentStatus(models.TextChoices):
    ASSIGNED = "assigned", _("To do")
    DONE = "done", _("Done")


class Assignment(models.Model):
    """One unit's task for an activity, due on a day."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="assignments",
                                 verbose_name=_("activity"))
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="activity_assignments",
                             verbose_name=_("unit"))
    due_on = models.DateField(_("due"))
    status = models.CharField(_("status"), max_length=10, choices=AssignmentStatus.choices,
                              default=AssignmentStatus.ASSIGNED)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("assigned by"))
    created_at = models.DateTimeField(_("assigned"), auto_now_add=True)

    class Meta:
        verbose_name = _("activity assignment")
        verbose_name_plural = _("activity assignments")
        ordering = ["due_on", "pk"]
        constraints = [models.UniqueConstraint(fields=["activity", "unit"], name="activity_assignment_unique")]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self) -> str:
        return f"assignment #{self.pk}"


class Record(models.Model):
    """What the assignee unit reports it did. ``key`` is the submission key of the last write
    (a retried submission is the same write)."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="record",
                                      verbose_name=_("assignment"))
    key = models.UUIDField(_("submission key"), unique=True)
    held_on = models.DateField(_("date"))
    place = models.CharField(_("place"), max_length=120)
    audience = models.CharField(_("audience"), max_length=120)
    attendance = models.PositiveIntegerField(_("attendance"))
    summary = models.TextField(_("summary"), max_length=2000)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("recorded by"))
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last changed"), auto_now=True)

    class Meta:
        verbose_name = _("activity record")
        verbose_name_plural = _("activity records")
        constraints = [models.CheckConstraint(condition=models.Q(attendance__lte=100000),
                                              name="activity_record_attendance")]

    def __str__(self) -> str:
        return f"record #{self.pk}"


class Photo(models.Model):
    """A re-encoded photo of a record: ``name`` is a random file name under the private root
    (its thumbnail beside it), never anything a person typed."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="photos",
                               verbose_name=_("record"))
    name = models.CharField(max_length=64, unique=True)
    content_type = models.CharField(max_length=16)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("activity photo")
        verbose_name_plural = _("activity photos")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"photo #{self.pk}"


class SignIn(models.Model):
    """A person's attendance at an activity, by scanning the organiser's code: once each."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="sign_ins",
                                 verbose_name=_("activity"))
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="sign_ins",
                                   verbose_name=_("assignment"))
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("person"))
    at = models.DateTimeField(_("signed in"), auto_now_add=True)

    class Meta:
        verbose_name = _("sign-in")
        verbose_name_plural = _("sign-ins")
        ordering = ["at", "pk"]
        constraints = [models.UniqueConstraint(fields=["activity", "person"], name="activity_sign_in_once")]

    def __str__(self) -> str:
        return f"sign-in #{self.pk}"


class Course(models.Model):
    """The mental-health course in the teaching plan: its classes, teacher and hours."""

    school = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+",
                               limit_choices_to={"kind": UnitKind.SCHOOL}, verbose_name=_("school"))
    title = models.CharField(_("title"), max_length=120)
    term = models.CharField(_("term"), max_length=32)
    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("teacher"))
    classes = models.ManyToManyField(Unit, related_name="+", verbose_name=_("classes"))
    hours_planned = models.DecimalField(_("hours planned"), max_digits=5, decimal_places=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        ordering = ["term", "title", "pk"]
        constraints = [models.CheckConstraint(condition=models.Q(hours_planned__gt=0), name="course_hours_planned")]

    def __str__(self) -> str:
        return f"{self.title} · {self.term}"


class Lesson(models.Model):
    """Hours the teacher delivered on one day (recording the same day again edits it)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lessons", verbose_name=_("course"))
    held_on = models.DateField(_("date"))
    hours = models.DecimalField(_("hours"), max_digits=4, decimal_places=1)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")
        ordering = ["held_on"]
        constraints = [
            models.UniqueConstraint(fields=["course", "held_on"], name="course_lesson_once_a_day"),
            models.CheckConstraint(condition=models.Q(hours__gt=Decimal("0")), name="course_lesson_hours"),
        ]

    def __str__(self) -> str:
        return f"lesson #{self.pk}"

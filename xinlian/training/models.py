"""Training: sessions with their audience, who was invited and who attended (with the hours
credited), the headcount of parents at a home–school lecture, and the pre-service training a
post requires at a school.

"Trained" is derived, never stored: a post holder is trained when they attended a pre-service
session for their role, organised at their school (the centre or a college), held on or after
the day the school's requirement is valid from (``actions.trained_posts``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xinlian.network.models import Role, Unit, UnitKind

# One session credits at most this many hours (a full training day); less than half an hour is
# no session. Hours are kept to the half hour.
HOURS_MIN = Decimal("0.5")
HOURS_MAX = Decimal("12")


class Audience(models.TextChoices):
    COMMITTEE = "committee", _("New 心理委员 (pre-service)")
    DORM_LIAISON = "dorm_liaison", _("New 宿舍联络员 (pre-service)")
    FUDAOYUAN = "fudaoyuan", _("辅导员")
    HEAD_TEACHER = "head_teacher", _("班主任")
    PARENTS = "parents", _("Parents (家长讲座, home–school)")
    SUPERVISION = "supervision", _("Counsellors' supervision")
    OTHER = "other", _("Other")


# The post role an audience trains: a pre-service session for it satisfies that role's requirement.
AUDIENCE_ROLE: dict[str, str] = {
    Audience.COMMITTEE: Role.COMMITTEE_MEMBER,
    Audience.DORM_LIAISON: Role.DORM_LIAISON,
    Audience.FUDAOYUAN: Role.FUDAOYUAN,
    Audience.HEAD_TEACHER: Role.HEAD_TEACHER,
}
ROLE_AUDIENCE: dict[str, str] = {role: audience for audience, role in AUDIENCE_ROLE.items()}
# Who may be invited to each audience's sessions (by post role). Supervision is for the centre's
# counsellors; "other" takes anyone in the network.
AUDIENCE_INVITE_ROLES: dict[str, tuple[str, ...]] = {
    Audience.COMMITTEE: (Role.COMMITTEE_MEMBER,),
    Audience.DORM_LIAISON: (Role.DORM_LIAISON,),
    Audience.FUDAOYUAN: (Role.FUDAOYUAN, Role.COLLEGE_LEAD),
    Audience.HEAD_TEACHER: (Role.HEAD_TEACHER,),
    Audience.PARENTS: (Role.PARENT_REP,),
    Audience.SUPERVISION: (Role.COUNSELLOR, Role.CENTRE_DIRECTOR),
    Audience.OTHER: tuple(Role.values),
}
# Roles that organise training: the centre for its school, the college for its college.
SCHOOL_ORGANISERS = frozenset({Role.CENTRE_DIRECTOR, Role.COUNSELLOR})
COLLEGE_ORGANISERS = frozenset({Role.COLLEGE_LEAD, Role.FUDAOYUAN})
ORGANISER_ROLES = SCHOOL_ORGANISERS | COLLEGE_ORGANISERS


class TrainingSession(models.Model):
    """One training session: a pre-service course for new 心理委员, a 班主任 workshop, a parents'
    lecture... organised by the centre (the school) or a college."""

    organiser = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="training_sessions",
                                  limit_choices_to={"kind__in": [UnitKind.SCHOOL, UnitKind.COLLEGE]},
                                  verbose_name=_("organiser"))
    title = models.CharField(_("title"), max_length=200)
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    is_pre_service = models.BooleanField(
        _("pre-service training"), default=False,
        help_text=_("Attending it satisfies the pre-service requirement of the audience's post."))
    starts_at = models.DateTimeField(_("starts"))
    hours = models.DecimalField(_("hours"), max_digits=4, decimal_places=1)
    place = models.CharField(_("place"), max_length=200, blank=True)
    parents_count = models.PositiveIntegerField(
        _("parents attending"), default=0,
        help_text=_("A parents' lecture: how many parents came (parents are mostly not users)."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("training session")
        verbose_name_plural = _("training sessions")
        ordering = ["-starts_at", "pk"]
        indexes = [models.Index(fields=["starts_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(hours__gte=HOURS_MIN, hours__lte=HOURS_MAX),
                                   name="training_session_hours"),
            models.CheckConstraint(condition=Q(is_pre_service=False) | Q(audience__in=list(AUDIENCE_ROLE)),
                                   name="training_pre_service_audience"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.starts_at:%Y-%m-%d})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("training:session", args=[self.pk])

    @property
    def day(self) -> dt.date:
        return timezone.localdate(self.starts_at)

    def has_started(self, now: dt.datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.starts_at


class AttendanceStatus(models.TextChoices):
    INVITED = "invited", _("Invited")
    ATTENDED = "attended", _("Attended")
    ABSENT = "absent", _("Absent")


class Attendance(models.Model):
    """A person invited to a session, and whether they came (with the hours credited)."""

    session = models.ForeignKey(TrainingSession, on_delete=models.CASCADE, related_name="attendances",
                                verbose_name=_("training session"))
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="training_attendances", verbose_name=_("person"))
    status = models.CharField(_("status"), max_length=10, choices=AttendanceStatus.choices,
                              default=AttendanceStatus.INVITED)
    hours = models.DecimalField(_("hours credited"), max_digits=4, decimal_places=1, default=Decimal("0"))
    invited_at = models.DateTimeField(_("invited"), auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("recorded by"))
    recorded_at = models.DateTimeField(_("recorded"), null=True, blank=True)

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendances")
        ordering = ["session", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "person"], name="training_attendance_once"),
            models.CheckConstraint(condition=Q(hours__gte=0, hours__lte=HOURS_MAX), name="training_attendance_hours"),
            # Hours are credited only for attending.
            models.CheckConstraint(condition=Q(status=AttendanceStatus.ATTENDED) | Q(hours=0),
                                   name="training_attendance_hours_attended"),
        ]
        indexes = [models.Index(fields=["person", "status"])]

    def __str__(self) -> str:
        return f"attendance #{self.pk}"


class Requirement(models.Model):
    """A post role that needs pre-service training at a school, from a date: a post holder is
    trained once they attend a pre-service session for the role held on or after ``valid_from``
    (training before that day does not count: a school that renews its course sets a new date)."""

    school = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="training_requirements",
                               limit_choices_to={"kind": UnitKind.SCHOOL}, verbose_name=_("school"))
    role = models.CharField(_("role"), max_length=24,
                            choices=[(r, Role(r).label) for r in AUDIENCE_ROLE.values()])
    valid_from = models.DateField(_("valid from"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("training requirement")
        verbose_name_plural = _("training requirements")
        ordering = ["school", "role"]
        constraints = [models.UniqueConstraint(fields=["school", "role"], name="training_requirement_unique")]

    def __str__(self) -> str:
        return f"{self.school} · {self.get_role_display()}"

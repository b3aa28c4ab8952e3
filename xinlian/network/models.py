"""The map of the network: units in a tree, people, their posts and the duties of each role."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from xinlian.lib.crypto import EncryptedTextField

PHONE_RE = re.compile(r"^(?:\+?86[- ]?)?1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$")


def validate_phone(value: str) -> None:
    if not PHONE_RE.match(value.replace(" ", "")):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number (mobile 1xxxxxxxxxx or landline 0xx-xxxxxxxx)."),
            params={"value": value},
            code="phone",
        )


class UnitKind(models.TextChoices):
    BUREAU = "bureau", _("Education bureau")
    SCHOOL = "school", _("School")
    COLLEGE = "college", _("College / department")
    GRADE = "grade", _("Grade")
    CLASS = "class", _("Class")
    DORMITORY = "dormitory", _("Dormitory")


# Which kinds may sit directly under which: the two templates (university: school ► college ►
# class ► dormitory; K-12: school ► grade ► class) share one rule table.
CHILD_KINDS: dict[str, set[str]] = {
    UnitKind.BUREAU: {UnitKind.SCHOOL},
    UnitKind.SCHOOL: {UnitKind.COLLEGE, UnitKind.GRADE},
    UnitKind.COLLEGE: {UnitKind.CLASS, UnitKind.GRADE},
    UnitKind.GRADE: {UnitKind.CLASS},
    UnitKind.CLASS: {UnitKind.DORMITORY},
    UnitKind.DORMITORY: set(),
}
ROOT_KINDS = {UnitKind.BUREAU, UnitKind.SCHOOL}


class UnitQuerySet(MP_NodeQuerySet):
    def subtree_of(self, units: Iterable[Unit]) -> UnitQuerySet:
        """All units in the subtrees of ``units`` (inclusive) — one prefix test per unit."""
        q = Q()
        for unit in units:
            q |= Q(path__startswith=unit.path)
        return self.filter(q) if q else self.none()


class UnitManager(MP_NodeManager):
    def get_queryset(self) -> UnitQuerySet:
        return UnitQuerySet(self.model).order_by("path")

    def subtree_of(self, units: Iterable[Unit]) -> UnitQuerySet:
        return self.get_queryset().subtree_of(units)


class Unit(MP_Node):
    """A node of the network: bureau, school, college, grade, class or dormitory."""

    kind = models.CharField(_("kind"), max_length=16, choices=UnitKind.choices)
    code = models.CharField(
        _("code"), max_length=64, unique=True,
        help_text=_("Short unique code used by roster files, e.g. CS-2023-1."),
    )
    name = models.CharField(_("name"), max_length=128)
    name_en = models.CharField(_("English name"), max_length=128, blank=True)

    steplen = 4  # 36^4 siblings per level: enough for 20,000 dormitories under one bureau level
    objects = UnitManager()

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        indexes = [models.Index(fields=["kind"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name

    def check_parent(self, parent: Unit | None) -> None:
        if parent is None:
            if self.kind not in ROOT_KINDS:
                raise ValidationError(_("A %(kind)s must sit inside another unit."),
                                      params={"kind": self.get_kind_display()})
        elif self.kind not in CHILD_KINDS[parent.kind]:
            raise ValidationError(
                _("A %(kind)s cannot sit inside a %(parent)s."),
                params={"kind": self.get_kind_display(), "parent": parent.get_kind_display()},
                code="wrong_kind",
            )

    def add_unit(self, *, kind: str, code: str, name: str, name_en: str = "") -> Unit:
        child = Unit(kind=kind, code=code, name=name, name_en=name_en)
        child.check_parent(self)
        return Unit.objects.add_child(self, instance=child)

    @classmethod
    def add_top(cls, *, kind: str, code: str, name: str, name_en: str = "") -> Unit:
        unit = cls(kind=kind, code=code, name=name, name_en=name_en)
        unit.check_parent(None)
        return cls.objects.add_root(instance=unit)

    def move_under(self, new_parent: Unit) -> None:
        """Move this unit (and its subtree) under ``new_parent``; cycles and wrong kinds refused."""
        if new_parent.path.startswith(self.path):
            raise ValidationError(_("A unit cannot move inside itself or its own subtree."), code="cycle")
        self.check_parent(new_parent)
        Unit.objects.move(self, new_parent, pos="last-child")

    def students_in_subtree(self) -> models.QuerySet[Student]:
        return Student.objects.in_units([self])

    def delete(self, *args, **kwargs):  # type: ignore[override]
        count = self.students_in_subtree().count()
        if count:
            raise ValidationError(
                _("%(unit)s still has %(count)d students in it or below; move them first."),
                params={"unit": self.name, "count": count}, code="has_students",
            )
        return super().delete(*args, **kwargs)

    def ancestors_and_self(self) -> list[Unit]:
        return [*Unit.objects.get_ancestors(self), self]

    def school(self) -> Unit | None:
        return next((u for u in self.ancestors_and_self() if u.kind == UnitKind.SCHOOL), None)

    def breadcrumb(self) -> str:
        """“计算机学院 2023级1班” — the unit's place without the school: safe in a notification."""
        parts = [u.display_name for u in self.ancestors_and_self()
                 if u.kind not in (UnitKind.BUREAU, UnitKind.SCHOOL)]
        return " ".join(parts)


class PersonKind(models.TextChoices):
    STUDENT = "student", _("Student")
    STAFF = "staff", _("Staff")


class User(AbstractUser):
    """Anyone who logs in; ``username`` is the student or staff number."""

    full_name = models.CharField(pgettext_lazy("person", "name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=8, choices=PersonKind.choices, default=PersonKind.STAFF)
    # A personal mobile is sensitive: encrypted at rest, like a guardian's phone (SMS alerts go to it).
    phone = EncryptedTextField(_("phone"), blank=True, default="", validators=[validate_phone])
    # The person's ids on the school's WeCom / DingTalk, for alerts sent to them personally.
    # Indexed: the WeCom and DingTalk logins look a person up by them (network/sso.py).
    wecom_userid = models.CharField(_("WeCom user id"), max_length=64, blank=True, db_index=True)
    dingtalk_userid = models.CharField(_("DingTalk user id"), max_length=64, blank=True, db_index=True)

    objects = UserManager()
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return f"{self.full_name} ({self.username})" if self.full_name else self.username

    @property
    def number(self) -> str:
        return self.username

    def check_password(self, raw_password: str) -> bool:
        """Django's check, with its hash upgrade (new Argon2 costs) marked as not a password
        change: the rule that revokes API tokens on a change (access/tokens.py) reads
        ``_rehashing``. Django's own comment in its setter says the same; only the flag is ours."""

        def setter(raw: str) -> None:
            self.set_password(raw)
            self._password = None
            self._rehashing = True
            try:
                self.save(update_fields=["password"])
            finally:
                self._rehashing = False

        return check_password(raw_password, self.password, setter)

    def active_posts(self, on: dt.date | None = None) -> models.QuerySet[Post]:
        return Post.objects.active(on).filter(person=self).select_related("unit")


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class StudentStatus(models.TextChoices):
    ENROLLED = "enrolled", _("Enrolled")
    ON_LEAVE = "on_leave", _("On leave")
    SUSPENDED = "suspended", _("Suspended")
    GRADUATED = "graduated", _("Graduated")


class SpecialGroup(models.Model):
    """A group the policies ask the network to watch with care (留守儿童, 单亲家庭, ...)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("special group")
        verbose_name_plural = _("special groups")
        ordering = ["id"]

    def __str__(self) -> str:
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class StudentQuerySet(models.QuerySet["Student"]):
    def in_units(self, units: Iterable[Unit]) -> StudentQuerySet:
        """Students whose class (or dormitory) lies in one of the units' subtrees."""
        q = Q()
        for unit in units:
            if unit.kind == UnitKind.DORMITORY:
                q |= Q(dorm__path__startswith=unit.path)
            else:
                q |= Q(klass__path__startswith=unit.path)
        return self.filter(q) if q else self.none()


class Student(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="student")
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    klass = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="class_students",
                              verbose_name=_("class"), limit_choices_to={"kind": UnitKind.CLASS})
    dorm = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="dorm_students",
                             null=True, blank=True, verbose_name=_("dormitory"),
                             limit_choices_to={"kind": UnitKind.DORMITORY})
    enrolment_year = models.PositiveSmallIntegerField(_("enrolment year"))
    status = models.CharField(_("status"), max_length=12, choices=StudentStatus.choices,
                              default=StudentStatus.ENROLLED)
    special_groups = models.ManyToManyField(SpecialGroup, blank=True, verbose_name=_("special groups"))

    objects = StudentQuerySet.as_manager()

    class Meta:
        verbose_name = _("student")
        verbose_name_plural = _("students")
        ordering = ["user__username"]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def number(self) -> str:
        return self.user.username

    @property
    def name(self) -> str:
        return self.user.full_name

    def age(self, on: dt.date | None = None) -> int | None:
        if not self.birth_date:
            return None
        on = on or timezone.localdate()
        b = self.birth_date
        return on.year - b.year - ((on.month, on.day) < (b.month, b.day))

    def clean(self) -> None:
        if self.klass_id and self.klass.kind != UnitKind.CLASS:
            raise ValidationError({"klass": _("Choose a class.")})
        if self.dorm_id:
            if self.dorm.kind != UnitKind.DORMITORY:
                raise ValidationError({"dorm": _("Choose a dormitory.")})
            if self.klass_id and not self.dorm.path.startswith(self.klass.path):
                raise ValidationError({"dorm": _("The dormitory is not inside the student's class.")})

    def units(self) -> list[Unit]:
        """The units that hold this student, most specific first (dormitory, class, ...).

        Kept on the instance while its class and dormitory stay the same: raising one alert asks
        for them four times (the ladder, the centre, the robots, the interview's counsellor)."""
        key = (self.klass_id, self.dorm_id)
        cached = self.__dict__.get("_units")
        if cached is None or cached[0] != key:
            leaf = self.dorm or self.klass
            cached = self.__dict__["_units"] = (key, tuple(reversed(leaf.ancestors_and_self())))
        return list(cached[1])


class GuardianRelation(models.TextChoices):
    FATHER = "father", _("Father")
    MOTHER = "mother", _("Mother")
    GRANDPARENT = "grandparent", _("Grandparent")
    SIBLING = "sibling", _("Sibling")
    OTHER = "other", _("Other guardian")


class Guardian(models.Model):
    """A student's guardian. The phone is tier-4 data: encrypted at rest, read through access."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="guardians")
    name = models.CharField(pgettext_lazy("person", "name"), max_length=64)
    relation = models.CharField(_("relation"), max_length=16, choices=GuardianRelation.choices)
    phone = EncryptedTextField(_("phone"))
    is_primary = models.BooleanField(_("primary contact"), default=False)

    class Meta:
        verbose_name = _("guardian")
        verbose_name_plural = _("guardians")
        constraints = [
            models.UniqueConstraint(fields=["student", "name", "relation"], name="guardian_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_relation_display()})"


class Staff(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="staff")
    department = models.ForeignKey(Unit, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="staff_members", verbose_name=_("department"))
    title = models.CharField(_("job title"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")

    def __str__(self) -> str:
        return str(self.user)


class Role(models.TextChoices):
    LEADER = "leader", _("Leadership group leader (组长)")
    DEPUTY_LEADER = "deputy_leader", _("Leadership group deputy leader (副组长)")
    LEADERSHIP_MEMBER = "leadership_member", _("Leadership group member")
    CENTRE_DIRECTOR = "centre_director", _("Counselling-centre director")
    COUNSELLOR = "counsellor", _("Psychology teacher / counsellor")
    COLLEGE_LEAD = "college_lead", _("College mental-health lead")
    FUDAOYUAN = "fudaoyuan", _("Fudaoyuan (辅导员)")
    HEAD_TEACHER = "head_teacher", _("Head teacher (班主任)")
    COMMITTEE_MEMBER = "committee_member", _("Class psychology committee member (心理委员)")
    DORM_LIAISON = "dorm_liaison", _("Dorm liaison (宿舍心理联络员)")
    PARENT_REP = "parent_rep", _("Parent representative")
    STUDENT_REP = "student_rep", _("Student representative")
    BUREAU_VIEWER = "bureau_viewer", _("Education-bureau viewer")


# Where each role may be posted. A post at a unit of another kind is refused.
ROLE_UNIT_KINDS: dict[str, set[str]] = {
    Role.LEADER: {UnitKind.SCHOOL},
    Role.DEPUTY_LEADER: {UnitKind.SCHOOL},
    Role.LEADERSHIP_MEMBER: {UnitKind.SCHOOL},
    Role.CENTRE_DIRECTOR: {UnitKind.SCHOOL},
    Role.COUNSELLOR: {UnitKind.SCHOOL},
    Role.COLLEGE_LEAD: {UnitKind.COLLEGE, UnitKind.GRADE},
    Role.FUDAOYUAN: {UnitKind.COLLEGE, UnitKind.GRADE, UnitKind.CLASS},
    Role.HEAD_TEACHER: {UnitKind.CLASS},
    Role.COMMITTEE_MEMBER: {UnitKind.CLASS},
    Role.DORM_LIAISON: {UnitKind.DORMITORY},
    Role.PARENT_REP: {UnitKind.SCHOOL, UnitKind.COLLEGE, UnitKind.GRADE, UnitKind.CLASS},
    Role.STUDENT_REP: {UnitKind.SCHOOL, UnitKind.COLLEGE, UnitKind.GRADE, UnitKind.CLASS},
    Role.BUREAU_VIEWER: {UnitKind.BUREAU},
}
STUDENT_ROLES = {Role.COMMITTEE_MEMBER, Role.DORM_LIAISON, Role.STUDENT_REP}


class PostQuerySet(models.QuerySet["Post"]):
    def active(self, on: dt.date | None = None) -> PostQuerySet:
        """Posts in force on ``on`` (today): a post whose term has ended grants nothing."""
        on = on or timezone.localdate()
        return self.filter(Q(starts_on__lte=on), Q(ends_on__isnull=True) | Q(ends_on__gte=on))


class Post(models.Model):
    """A person's role at a unit for a term."""

    person = models.ForeignKey(User, on_delete=models.CASCADE, related_name="posts", verbose_name=_("person"))
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="posts", verbose_name=_("unit"))
    role = models.CharField(_("role"), max_length=24, choices=Role.choices)
    starts_on = models.DateField(_("term starts"), default=dt.date.today)
    ends_on = models.DateField(_("term ends"), null=True, blank=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["unit__path", "role"]
        constraints = [
            models.UniqueConstraint(fields=["person", "unit", "role", "starts_on"], name="post_unique")
        ]

    def __str__(self) -> str:
        return f"{self.person.full_name} · {self.get_role_display()} · {self.unit}"

    def clean(self) -> None:
        errors: dict[str, list] = {}
        if self.unit_id and self.unit.kind not in ROLE_UNIT_KINDS.get(self.role, set()):
            errors.setdefault("unit", []).append(ValidationError(
                _("A %(role)s cannot be posted at a %(kind)s."),
                params={"role": self.get_role_display(), "kind": self.unit.get_kind_display()},
                code="wrong_kind"))
        if self.ends_on and self.starts_on and self.ends_on < self.starts_on:
            errors.setdefault("ends_on", []).append(_("The term ends before it starts."))
        if self.role in (Role.COMMITTEE_MEMBER, Role.DORM_LIAISON) and self.person_id and self.unit_id:
            student = Student.objects.filter(user_id=self.person_id).select_related("klass", "dorm").first()
            home = student and (student.dorm if self.role == Role.DORM_LIAISON else student.klass)
            if not home or home.pk != self.unit_id:
                errors.setdefault("person", []).append(_(
                    "A committee member or dorm liaison must be a student of that class or dormitory."))
        if errors:
            raise ValidationError(errors)

    def is_active(self, on: dt.date | None = None) -> bool:
        on = on or timezone.localdate()
        return self.starts_on <= on and (self.ends_on is None or self.ends_on >= on)


class Frequency(models.TextChoices):
    AT_ONCE = "at_once", _("At once, when it happens")
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")
    TERMLY = "termly", _("Each term")
    YEARLY = "yearly", _("Each year")
    ONGOING = "ongoing", _("Ongoing")


class DutyWork(models.TextChoices):
    """What fulfils a duty: the ``kind`` of the work items (``WorkItem.kind`` in each app's
    ``work.py``) that are due under it. "" is a duty that stays text (a standing attitude, a
    crisis duty that the alert path already carries)."""

    NONE = "", pgettext_lazy("what fulfils a duty", "Nothing to track (text only)")
    REPORT = "report", pgettext_lazy("what fulfils a duty", "Periodic report")
    REPORT_REVIEW = "report_review", pgettext_lazy("what fulfils a duty", "Reports to sign off")
    ACTIVITY = "activity", pgettext_lazy("what fulfils a duty", "Activity")
    CAMPAIGN_TASK = "campaign_task", pgettext_lazy("what fulfils a duty", "5·25 campaign task")
    COURSE = "course", pgettext_lazy("what fulfils a duty", "Course hours")
    TRAINING = "training", pgettext_lazy("what fulfils a duty", "Training to attend")
    TRAINING_RECORD = "training_record", pgettext_lazy("what fulfils a duty", "Training attendance to record")
    PLAN_TASK = "plan_task", pgettext_lazy("what fulfils a duty", "Work-plan task")
    PLAN_APPROVAL = "plan_approval", pgettext_lazy("what fulfils a duty", "Plan to approve")
    ACTION_ITEM = "action_item", pgettext_lazy("what fulfils a duty", "Meeting action item")
    COUNSELING = "counseling", pgettext_lazy("what fulfils a duty", "Counselling")


class Duty(models.Model):
    """One item of a role's duty catalogue at a school; seeded from the policies, editable.

    ``fulfilled_by`` names the kind of work item that carries it out: "my duties" and the home
    page list the person's items of that kind under the duty."""

    school = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="duties",
                               limit_choices_to={"kind": UnitKind.SCHOOL}, verbose_name=_("school"))
    role = models.CharField(_("role"), max_length=24, choices=Role.choices)
    title = models.CharField(_("duty"), max_length=200)
    title_en = models.CharField(_("duty (English)"), max_length=200, blank=True)
    frequency = models.CharField(_("frequency"), max_length=12, choices=Frequency.choices,
                                 default=Frequency.ONGOING)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    fulfilled_by = models.CharField(
        _("fulfilled by"), max_length=16, choices=DutyWork.choices, default=DutyWork.NONE, blank=True,
        help_text=_("The kind of work that carries this duty out; its items due are listed under it."))

    class Meta:
        verbose_name = _("duty")
        verbose_name_plural = _("duties")
        ordering = ["role", "order", "id"]

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        if self.title_en and (get_language() or "").startswith("en"):
            return self.title_en
        return self.title


class FirstLoginCode(models.Model):
    """A one-time code printed on a first-login slip, or issued by a teacher as a password reset.

    Only a keyed hash of the code is stored (``xinlian.network.slipcodes``); the code is usable
    once, until ``expires_at``. A new code for a person replaces their older unused ones."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="first_login_codes",
                             verbose_name=_("person"))
    code_hash = models.CharField(_("code hash"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("valid until"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    issued_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("issued by"))
    created_at = models.DateTimeField(_("issued at"), auto_now_add=True)

    class Meta:
        verbose_name = _("first-login code")
        verbose_name_plural = _("first-login codes")
        indexes = [models.Index(fields=["user", "used_at"])]

    def __str__(self) -> str:
        return f"{self.user.username} · {self.expires_at:%Y-%m-%d}"

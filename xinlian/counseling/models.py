"""The counselling service's rota and bookings (issue 11, first slice).

Counsellors publish availability (a weekly pattern and one-off changes); the rules in
``rules.py`` turn it into concrete :class:`Slot` rows for the centre's booking window. A
client (a student, or a member of staff: staff are clients too) books one slot with a short
intake. Two database constraints hold the service's promises, whatever the front-end or the
race: a slot has at most one active booking, and a client holds at most one active booking
starting at a given time. Sessions (a later slice) hang off a :class:`Booking`.

Times are stored in UTC and shown in the school's zone (``settings.TIME_ZONE``). The duty
counsellor of a day is care's rota (``care.DutyShift``, the "daytime duty counsellor" shift):
there is no second rota here. Holidays are notify's calendar (``notify.Holiday``)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from xinlian.lib.crypto import EncryptedTextField


class Mode(models.TextChoices):
    ROOM = "room", pgettext_lazy("counselling mode", "In a room")
    ONLINE = "online", pgettext_lazy("counselling mode", "Online (video)")
    PHONE = "phone", pgettext_lazy("counselling mode", "By phone")


class Room(models.Model):
    """A counselling room (咨询室) of a school's centre."""

    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="counseling_rooms",
                               verbose_name=_("school"))
    name = models.CharField(_("room"), max_length=64)
    place = models.CharField(_("where it is"), max_length=128, blank=True)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("counselling room")
        verbose_name_plural = _("counselling rooms")
        ordering = ["school_id", "name"]
        constraints = [models.UniqueConstraint(fields=["school", "name"], name="counseling_room_name_once")]

    def __str__(self) -> str:
        return self.name


class CentreRules(models.Model):
    """What the centre decides about booking: how far ahead students may book, until when a
    client may cancel, how long a freed slot is kept for the first person on the waiting list."""

    school = models.OneToOneField("network.Unit", on_delete=models.CASCADE, related_name="counseling_rules")
    book_ahead_days = models.PositiveSmallIntegerField(
        _("how many days ahead clients may book"), default=14)
    cancel_cutoff_hours = models.PositiveSmallIntegerField(
        _("clients may cancel until this many hours before"), default=24)
    offer_hours = models.PositiveSmallIntegerField(
        _("hours a freed slot is kept for the waiting list"), default=12)

    class Meta:
        verbose_name = _("counselling booking rules")
        verbose_name_plural = _("counselling booking rules")

    def __str__(self) -> str:
        return f"booking rules of unit #{self.school_id}"

    @classmethod
    def for_school(cls, school_id: int) -> CentreRules:
        found = cls.objects.filter(school_id=school_id).first()
        return found if found is not None else cls(school_id=school_id)


class WeeklyAvailability(models.Model):
    """A counsellor's recurring weekly block, cut into slots of ``slot_minutes``."""

    counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                   related_name="counseling_weekly", verbose_name=_("counsellor"))
    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField(_("weekday"))  # Monday = 0
    start_time = models.TimeField(_("from"))
    end_time = models.TimeField(_("until"))
    slot_minutes = models.PositiveSmallIntegerField(_("slot length (minutes)"), default=50)
    mode = models.CharField(_("where"), max_length=8, choices=Mode.choices, default=Mode.ROOM)
    room = models.ForeignKey(Room, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("room"))
    valid_from = models.DateField(_("from date"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    # The last local date whose slots exist: the worker extends it as the window moves on.
    generated_until = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("weekly availability")
        verbose_name_plural = _("weekly availability")
        ordering = ["counsellor_id", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="counseling_weekday_known"),
            models.CheckConstraint(condition=Q(end_time__gt=models.F("start_time")),
                                   name="counseling_weekly_ends_after_start"),
            models.CheckConstraint(condition=Q(slot_minutes__gte=10, slot_minutes__lte=240),
                                   name="counseling_weekly_slot_length"),
        ]

    def __str__(self) -> str:
        return f"weekly #{self.pk} of user #{self.counsellor_id}"


class ChangeKind(models.TextChoices):
    EXTRA = "extra", _("Extra time")
    CANCELLED = "cancelled", _("Not available")


class AvailabilityChange(models.Model):
    """A one-off change on one date: extra time, or time the counsellor is not available."""

    counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                   related_name="counseling_changes", verbose_name=_("counsellor"))
    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+")
    date = models.DateField(_("date"))
    kind = models.CharField(_("change"), max_length=10, choices=ChangeKind.choices)
    start_time = models.TimeField(_("from"))
    end_time = models.TimeField(_("until"))
    slot_minutes = models.PositiveSmallIntegerField(_("slot length (minutes)"), default=50)
    mode = models.CharField(_("where"), max_length=8, choices=Mode.choices, default=Mode.ROOM)
    room = models.ForeignKey(Room, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("room"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("one-off availability change")
        verbose_name_plural = _("one-off availability changes")
        ordering = ["date", "start_time"]
        constraints = [
            models.CheckConstraint(condition=Q(end_time__gt=models.F("start_time")),
                                   name="counseling_change_ends_after_start"),
            models.CheckConstraint(condition=Q(kind__in=ChangeKind.values), name="counseling_change_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.date} for user #{self.counsellor_id}"


class SlotQuerySet(models.QuerySet["Slot"]):
    def bookable(self, now=None, user=None) -> SlotQuerySet:  # noqa: ANN001
        """Open, in the future, with no active booking, and not kept for someone else from the
        waiting list (a slot kept for ``user`` is bookable for them)."""
        now = now or timezone.now()
        kept = Q(offered_to__isnull=False, offered_until__gt=now)
        if user is not None:
            kept &= ~Q(offered_to_id=user.pk)
        return (self.filter(cancelled=False, starts_at__gt=now)
                .exclude(kept)
                .exclude(bookings__status=BookingStatus.ACTIVE))


class Slot(models.Model):
    """One concrete appointment time of one counsellor."""

    counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                   related_name="counseling_slots", verbose_name=_("counsellor"))
    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    mode = models.CharField(_("where"), max_length=8, choices=Mode.choices, default=Mode.ROOM)
    room = models.ForeignKey(Room, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("room"))
    cancelled = models.BooleanField(_("withdrawn"), default=False)
    weekly = models.ForeignKey(WeeklyAvailability, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="slots")
    change = models.ForeignKey(AvailabilityChange, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="slots")
    # A freed slot kept for the first person on the waiting list until ``offered_until``.
    offered_to = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    offered_until = models.DateTimeField(null=True, blank=True)

    objects = SlotQuerySet.as_manager()

    class Meta:
        verbose_name = _("counselling slot")
        verbose_name_plural = _("counselling slots")
        ordering = ["starts_at", "counsellor_id"]
        constraints = [
            models.UniqueConstraint(fields=["counsellor", "starts_at"], name="counseling_slot_once"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                   name="counseling_slot_ends_after_start"),
        ]
        indexes = [models.Index(fields=["school", "starts_at"])]

    def __str__(self) -> str:
        return f"slot #{self.pk} at {self.starts_at:%Y-%m-%d %H:%M}Z"

    @property
    def local_start(self):  # noqa: ANN201
        return timezone.localtime(self.starts_at)

    @property
    def local_end(self):  # noqa: ANN201
        return timezone.localtime(self.ends_at)

    def where(self) -> str:
        if self.mode == Mode.ROOM and self.room is not None:
            return f"{self.room.name}" + (f" · {self.room.place}" if self.room.place else "")
        return str(self.get_mode_display())


class BookingStatus(models.TextChoices):
    ACTIVE = "active", _("Booked")
    CANCELLED = "cancelled", _("Cancelled")


class Previous(models.TextChoices):
    NONE = "none", _("No, this is my first time")
    HERE = "here", _("Yes, at this centre")
    ELSEWHERE = "elsewhere", _("Yes, somewhere else")


class Booking(models.Model):
    """A client's appointment in one slot, with the intake. The intake (what it is about) is
    sensitive: encrypted like case records, read only by counselling staff (``access.py``) and
    never put in a notification. A later slice hangs the session record off this row."""

    key = models.UUIDField(_("submission key"), unique=True, null=True, blank=True)
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="bookings")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="counseling_bookings", verbose_name=_("client"))
    student = models.ForeignKey("network.Student", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="counseling_bookings")
    # A copy of the slot's start: the constraint below needs it on this row.
    starts_at = models.DateTimeField(_("starts"))
    status = models.CharField(_("status"), max_length=10, choices=BookingStatus.choices,
                              default=BookingStatus.ACTIVE)
    topic = EncryptedTextField(_("what it is about"))
    previous = models.CharField(_("counselling before"), max_length=10, choices=Previous.choices,
                                default=Previous.NONE)
    risk_now = models.BooleanField(_("thinking of harming themself now"), default=False)
    alert = models.ForeignKey("care.Alert", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                     blank=True, related_name="+")
    cancel_reason = EncryptedTextField(_("reason"), blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("counselling booking")
        verbose_name_plural = _("counselling bookings")
        ordering = ["starts_at", "pk"]
        constraints = [
            # Two people, one slot: at most one active booking per slot, held by the database.
            models.UniqueConstraint(fields=["slot"], condition=Q(status="active"),
                                    name="counseling_one_active_booking_per_slot"),
            # One client, one time: never two active bookings starting at the same moment.
            models.UniqueConstraint(fields=["client", "starts_at"], condition=Q(status="active"),
                                    name="counseling_client_one_booking_at_a_time"),
            models.CheckConstraint(condition=Q(status__in=BookingStatus.values),
                                   name="counseling_booking_status_known"),
        ]
        indexes = [models.Index(fields=["client", "status", "starts_at"]),
                   models.Index(fields=["status", "reminded_at", "starts_at"])]

    def __str__(self) -> str:
        return f"booking #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status == BookingStatus.ACTIVE


class WaitStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("A slot is kept for you")
    BOOKED = "booked", _("Booked")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class WaitlistEntry(models.Model):
    """A client waiting for a slot between two dates (any counsellor, or one)."""

    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="counseling_waits")
    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+")
    counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                                   blank=True, related_name="+", verbose_name=_("counsellor"))
    day_from = models.DateField(_("from"))
    day_to = models.DateField(_("until"))
    status = models.CharField(_("status"), max_length=10, choices=WaitStatus.choices,
                              default=WaitStatus.WAITING)
    offered_slot = models.ForeignKey(Slot, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("waiting-list entry")
        verbose_name_plural = _("waiting list")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["client"], condition=Q(status__in=["waiting", "offered"]),
                                    name="counseling_wait_once"),
            models.CheckConstraint(condition=Q(day_to__gte=models.F("day_from")),
                                   name="counseling_wait_window"),
        ]

    def __str__(self) -> str:
        return f"waiting #{self.pk}"


# ---------------------------------------------------------------------------------------------
# Episodes and sessions (issue 11, second slice). The lead wrote these shapes; the verbs, pages
# and API that use them live in actions.py / views.py / api.py.


class EpisodeStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("counselling episode", "Open")
    CLOSED = "closed", pgettext_lazy("counselling episode", "Closed")


class EpisodeSource(models.TextChoices):
    BOOKING = "booking", _("Booked by the client")
    WALK_IN = "walk_in", _("Walk-in or duty")
    REFERRAL = "referral", _("Referred in")


class Episode(models.Model):
    """One client's course of counselling with one counsellor (咨询个案): it opens with a first
    session or a referral in and closes with a summary. Sessions of an individual or family
    kind belong to an episode; a group member's attendance points at the member's episode when
    they have one. Its existence is confidential (see ``access.py``)."""

    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("school"))
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="counseling_episodes", verbose_name=_("client"))
    student = models.ForeignKey("network.Student", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="counseling_episodes")
    counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="counseling_caseload", verbose_name=_("counsellor"))
    # A named supervisor reads the notes too (督导); nobody else but the director.
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+", verbose_name=_("supervisor"))
    source = models.CharField(_("how it began"), max_length=10, choices=EpisodeSource.choices,
                              default=EpisodeSource.BOOKING)
    status = models.CharField(_("status"), max_length=8, choices=EpisodeStatus.choices,
                              default=EpisodeStatus.OPEN)
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+")
    # Tier 5, like the notes: the closure summary (what was worked on, the outcome).
    closing_summary = EncryptedTextField(_("closure summary"), blank=True)

    class Meta:
        verbose_name = _("counselling episode")
        verbose_name_plural = _("counselling episodes")
        ordering = ["-opened_at", "pk"]
        constraints = [
            # One open episode per client and counsellor: a second "open" is the same episode.
            models.UniqueConstraint(fields=["client", "counsellor"], condition=Q(status="open"),
                                    name="counseling_one_open_episode"),
            models.CheckConstraint(condition=Q(status__in=EpisodeStatus.values),
                                   name="counseling_episode_status_known"),
        ]
        indexes = [models.Index(fields=["counsellor", "status"]),
                   models.Index(fields=["school", "status"])]

    def __str__(self) -> str:
        return f"episode #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status == EpisodeStatus.OPEN


class SessionKind(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual (个体咨询)")
    GROUP = "group", _("Group (团体辅导)")
    FAMILY = "family", _("Family (家庭咨询)")


class CounselingGroup(models.Model):
    """A counselling group (团体辅导): a counsellor, a capacity and members; each meeting is a
    :class:`Session` of the group kind with one attendance row per member."""

    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("school"))
    counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("counsellor"))
    # A group's name says what it works on, which is sensitive for its members: staff only.
    name = models.CharField(_("group"), max_length=64)
    capacity = models.PositiveSmallIntegerField(_("capacity"), default=10)
    is_active = models.BooleanField(_("running"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("counselling group")
        verbose_name_plural = _("counselling groups")
        ordering = ["-created_at", "pk"]
        constraints = [models.CheckConstraint(condition=Q(capacity__gte=2, capacity__lte=60),
                                              name="counseling_group_capacity_range")]

    def __str__(self) -> str:
        return self.name


class GroupMember(models.Model):
    group = models.ForeignKey(CounselingGroup, on_delete=models.CASCADE, related_name="members")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("client"))
    student = models.ForeignKey("network.Student", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("group member")
        verbose_name_plural = _("group members")
        constraints = [models.UniqueConstraint(fields=["group", "client"], name="counseling_member_once")]

    def __str__(self) -> str:
        return f"member #{self.pk}"


class SessionRisk(models.TextChoices):
    """The risk level a counsellor records; the last three map onto the register's levels
    (through care), and "risk to life" opens the alert path as well."""

    NONE = "none", _("No risk seen")
    LOW = "yellow", _("Low (yellow)")
    MEDIUM = "orange", _("Raised (orange)")
    HIGH = "red", _("High (red)")
    LIFE = "life", _("Risk to life")


class Attendance(models.TextChoices):
    PLANNED = "planned", _("Not yet recorded")
    ATTENDED = "attended", _("Attended")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("Did not come")


class Session(models.Model):
    """One counselling meeting: individual or family (one episode, usually from a booking) or a
    group's meeting. The structured summary and the free notes are tier 5: encrypted, read only
    by the session's counsellor, the centre director and the episode's named supervisor; every
    read is audited."""

    key = models.UUIDField(_("submission key"), unique=True, null=True, blank=True)
    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("school"))
    counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="counseling_sessions", verbose_name=_("counsellor"))
    kind = models.CharField(_("kind"), max_length=10, choices=SessionKind.choices,
                            default=SessionKind.INDIVIDUAL)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="sessions")
    group = models.ForeignKey(CounselingGroup, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="sessions")
    booking = models.OneToOneField(Booking, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="session")
    starts_at = models.DateTimeField(_("starts"))
    minutes = models.PositiveSmallIntegerField(_("length (minutes)"), default=50)
    room = models.ForeignKey(Room, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    mode = models.CharField(_("where"), max_length=8, choices=Mode.choices, default=Mode.ROOM)
    # Individual and family sessions: the client's attendance (a group's is per member).
    attendance = models.CharField(_("attendance"), max_length=10, choices=Attendance.choices,
                                  default=Attendance.PLANNED)
    risk = models.CharField(_("risk level"), max_length=8, choices=SessionRisk.choices, blank=True)
    # The structured summary, tier 5.
    presenting = EncryptedTextField(_("presenting problem"), blank=True)
    assessment = EncryptedTextField(_("assessment"), blank=True)
    intervention = EncryptedTextField(_("intervention"), blank=True)
    plan = EncryptedTextField(_("plan"), blank=True)
    notes = EncryptedTextField(_("notes"), blank=True)
    # Family sessions: who came besides the client (e.g. "mother, father"), tier 5 too.
    family_present = EncryptedTextField(_("family members present"), blank=True)
    recorded_at = models.DateTimeField(_("recorded"), null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("counselling session")
        verbose_name_plural = _("counselling sessions")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind="group", group__isnull=False, episode__isnull=True)
                                   | Q(~Q(kind="group"), group__isnull=True, episode__isnull=False),
                                   name="counseling_session_kind_shape"),
            models.CheckConstraint(condition=Q(attendance__in=Attendance.values),
                                   name="counseling_session_attendance_known"),
            models.CheckConstraint(condition=Q(risk__in=[*SessionRisk.values, ""]),
                                   name="counseling_session_risk_known"),
        ]
        indexes = [models.Index(fields=["counsellor", "starts_at"]),
                   models.Index(fields=["school", "starts_at"]),
                   models.Index(fields=["episode", "starts_at"])]

    def __str__(self) -> str:
        return f"session #{self.pk}"

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.minutes)


class GroupAttendance(models.Model):
    """A group member's attendance at one meeting."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="group_attendance")
    member = models.ForeignKey(GroupMember, on_delete=models.PROTECT, related_name="attendance")
    attendance = models.CharField(_("attendance"), max_length=10, choices=Attendance.choices,
                                  default=Attendance.PLANNED)

    class Meta:
        verbose_name = _("group attendance")
        verbose_name_plural = _("group attendance")
        constraints = [models.UniqueConstraint(fields=["session", "member"], name="counseling_attend_once")]

    def __str__(self) -> str:
        return f"attendance #{self.pk}"


# ---------------------------------------------------------------------------------------------
# Referral in and out, leave and return to school, closing feedback (issue 11, second slice, Z3).
# The verbs are in actions_referrals.py, the pages in views_referrals.py, the API in
# api_referrals.py.


class Hospital(models.Model):
    """A hospital (or clinic) of the centre's directory for referrals out. The centre's own
    contact there — not sensitive."""

    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("school"))
    name = models.CharField(_("hospital"), max_length=128)
    department = models.CharField(_("department"), max_length=128, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("hospital")
        verbose_name_plural = _("hospitals")
        ordering = ["school_id", "-is_active", "name", "department"]
        constraints = [models.UniqueConstraint(fields=["school", "name", "department"],
                                               name="counseling_hospital_once")]

    def __str__(self) -> str:
        return f"{self.name} {self.department}".strip()


class ReferralSource(models.TextChoices):
    ALERT = "alert", _("From an alert")
    INTERVIEW = "interview", _("From a screening interview")
    CASE = "case", _("From a crisis case")
    HAND = "hand", _("By hand")


class ReferralStatus(models.TextChoices):
    NEW = "new", pgettext_lazy("referral", "Waiting")
    ACCEPTED = "accepted", pgettext_lazy("referral", "Accepted")
    DECLINED = "declined", pgettext_lazy("referral", "Declined")


class ReferralIn(models.Model):
    """A referral into counselling (转介): from an alert, a screening interview, a crisis case,
    or by hand; to one counsellor or to the centre's queue (``to_counsellor`` empty). Accepting
    it opens an :class:`Episode` (source: referral). The reason is sensitive (encrypted)."""

    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("school"))
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("client"))
    student = models.ForeignKey("network.Student", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    source = models.CharField(_("from"), max_length=10, choices=ReferralSource.choices,
                              default=ReferralSource.HAND)
    alert = models.ForeignKey("care.Alert", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    interview = models.ForeignKey("screening.Interview", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    case = models.ForeignKey("care.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = EncryptedTextField(_("reason for the referral"))
    to_counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                      blank=True, related_name="+", verbose_name=_("to counsellor"))
    status = models.CharField(_("status"), max_length=10, choices=ReferralStatus.choices,
                              default=ReferralStatus.NEW)
    referred_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    referred_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = EncryptedTextField(_("why it was declined"), blank=True)
    episode = models.ForeignKey(Episode, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("referral in")
        verbose_name_plural = _("referrals in")
        ordering = ["-referred_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ReferralStatus.values),
                                   name="counseling_referral_status_known"),
            # One waiting referral per client: a second is the same referral.
            models.UniqueConstraint(fields=["client"], condition=Q(status="new"),
                                    name="counseling_one_waiting_referral"),
        ]
        indexes = [models.Index(fields=["school", "status"])]

    def __str__(self) -> str:
        return f"referral in #{self.pk}"


class ReferralOutcome(models.TextChoices):
    PENDING = "pending", _("Not known yet")
    SEEN = "seen", _("Seen as an outpatient")
    ADMITTED = "admitted", _("Admitted")
    NOT_SEEN = "not_seen", _("Did not go")


class ReferralOut(models.Model):
    """A referral out to a hospital (转介就医): the letter (printable), when it was sent, the
    outcome and the diagnosis note. The letter and the diagnosis are tier 5 (encrypted; the
    episode's counsellor, the director and the named supervisor)."""

    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("school"))
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="referrals_out")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("client"))
    student = models.ForeignKey("network.Student", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="referrals",
                                 verbose_name=_("hospital"))
    letter = EncryptedTextField(_("referral letter"))
    sent_on = models.DateField(_("sent on"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=ReferralOutcome.choices,
                               default=ReferralOutcome.PENDING)
    diagnosis_note = EncryptedTextField(_("diagnosis note"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    outcome_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")
    outcome_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("referral out")
        verbose_name_plural = _("referrals out")
        ordering = ["-created_at", "pk"]
        constraints = [models.CheckConstraint(condition=Q(outcome__in=ReferralOutcome.values),
                                              name="counseling_referral_outcome_known")]

    def __str__(self) -> str:
        return f"referral out #{self.pk}"


class LeaveOfAbsence(models.Model):
    """A student's leave from school (休学, or a suspension) as the centre knows it: from when,
    and when they came back (复学). Coming back asks for a return assessment before the
    student's episode closes."""

    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+")
    student = models.ForeignKey("network.Student", on_delete=models.PROTECT, related_name="+")
    left_on = models.DateField(_("left school on"))
    returned_on = models.DateField(_("came back on"), null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("leave of absence")
        verbose_name_plural = _("leaves of absence")
        ordering = ["-left_on", "pk"]
        constraints = [models.CheckConstraint(condition=Q(returned_on__isnull=True)
                                              | Q(returned_on__gte=models.F("left_on")),
                                              name="counseling_leave_returns_after")]

    def __str__(self) -> str:
        return f"leave #{self.pk}"


class ReturnRecommendation(models.TextChoices):
    RETURN = "return", _("Can return")
    WITH_SUPPORT = "support", _("Can return with support")
    NOT_YET = "not_yet", _("Not yet")


class ReturnAssessment(models.Model):
    """A return-to-school assessment (复学评估) of a student, for an episode or a crisis case.
    The text is encrypted; counselling staff read it (audited)."""

    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+")
    student = models.ForeignKey("network.Student", on_delete=models.PROTECT, related_name="+")
    episode = models.ForeignKey(Episode, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    case = models.ForeignKey("care.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    assessed_on = models.DateField(_("assessed on"))
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = EncryptedTextField(_("assessment"))
    recommendation = models.CharField(_("recommendation"), max_length=10, choices=ReturnRecommendation.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("return-to-school assessment")
        verbose_name_plural = _("return-to-school assessments")
        ordering = ["-assessed_on", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(recommendation__in=ReturnRecommendation.values),
                                              name="counseling_return_recommendation_known")]

    def __str__(self) -> str:
        return f"return assessment #{self.pk}"


class FeedbackInvite(models.Model):
    """The one-time link a closed episode's client answers the satisfaction question with. Only
    the token's hash is kept; answering marks it used (no time kept: nothing to line up with
    the answer)."""

    episode = models.OneToOneField(Episode, on_delete=models.CASCADE, related_name="feedback_invite")
    token_hash = models.CharField(max_length=64, unique=True)
    sent_at = models.DateTimeField(default=timezone.now)
    used = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("satisfaction link")
        verbose_name_plural = _("satisfaction links")

    def __str__(self) -> str:
        return f"feedback invite #{self.pk}"


class Feedback(models.Model):
    """A client's satisfaction at the close of an episode: anonymous — no client, no episode,
    no time of day on the row; the month only. The director sees counts and averages per
    counsellor once three have answered."""

    # A random key: the row's place in a sequence says nothing of when (or by whom) it came.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    school = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="+")
    counsellor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(_("satisfaction"))
    comment = EncryptedTextField(_("comment"), blank=True)
    month = models.DateField()  # the first day of the month it was given

    class Meta:
        verbose_name = _("satisfaction answer")
        verbose_name_plural = _("satisfaction answers")
        constraints = [models.CheckConstraint(condition=Q(score__gte=1, score__lte=5),
                                              name="counseling_feedback_score_range")]

    def __str__(self) -> str:
        return f"feedback #{self.pk}"

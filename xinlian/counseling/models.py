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

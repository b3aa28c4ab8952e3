"""The transactional outbox and the in-app inbox.

A delivery row is written in the same transaction as the event it announces; the worker
sends it afterwards. A message carries only a level, a place and a link — never a name, a
category of concern or any other sensitive detail — and is rendered in the reader's language
from a msgid and parameters."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from xinlian.lib.crypto import EncryptedTextField

if TYPE_CHECKING:
    from xinlian.network.models import Unit


class Channel(models.TextChoices):
    INBOX = "inbox", _("In-app inbox")
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Group robot")
    WECOM_APP = "wecom_app", _("WeCom (企业微信) message")
    DINGTALK_APP = "dingtalk_app", _("DingTalk (钉钉) work notification")
    SMS = "sms", _("SMS")
    # Nothing sent: the person has no channel that reaches them. Recorded as failed, so that
    # the centre sees who cannot be reached and fixes it.
    UNREACHABLE = "unreachable", _("No channel to the person")


PERSONAL_CHANNELS = (Channel.WECOM_APP, Channel.DINGTALK_APP, Channel.SMS)
PUSH_CHANNELS = (Channel.WECOM_APP, Channel.DINGTALK_APP)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    # A conditional message whose condition no longer held (the alert was acknowledged first).
    SKIPPED = "skipped", _("Not needed")


class RobotKind(models.TextChoices):
    WECOM = "wecom", _("WeCom (企业微信) group robot")
    DINGTALK = "dingtalk", _("DingTalk (钉钉) group robot")
    FEISHU = "feishu", _("Feishu (飞书) group robot")


class Robot(models.Model):
    """A group-chat robot attached to a unit: it hears the alerts of students in that subtree."""

    unit = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="robots",
                             verbose_name=_("unit"))
    name = models.CharField(_("name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=10, choices=RobotKind.choices)
    # The webhook address embeds the robot's key: it is a secret, so it is encrypted at rest.
    url = EncryptedTextField(_("webhook address"))
    secret = EncryptedTextField(_("signing secret"), blank=True, default="")
    levels = models.CharField(_("alert levels"), max_length=32, default="red,orange,yellow",
                              help_text=_("Comma-separated: red, orange, yellow."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("group robot")
        verbose_name_plural = _("group robots")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def hears(self, level: str) -> bool:
        return self.is_active and level in {x.strip() for x in self.levels.split(",")}


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def due(self, now: dt.datetime | None = None) -> DeliveryQuerySet:
        return (self.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now or timezone.now())
                .exclude(channel__in=(Channel.INBOX, Channel.UNREACHABLE)))

    def inbox_of(self, user) -> DeliveryQuerySet:  # noqa: ANN001
        return self.filter(channel=Channel.INBOX, recipient=user)

    def unread(self) -> DeliveryQuerySet:
        return self.filter(read_at__isnull=True)

    def failed(self) -> DeliveryQuerySet:
        return self.filter(status=DeliveryStatus.FAILED)

    def outbound(self) -> DeliveryQuerySet:
        """Everything the worker sends (e-mail and robots), as opposed to inbox messages."""
        return self.exclude(channel=Channel.INBOX)

    def for_units(self, units: Iterable[Unit]) -> DeliveryQuerySet:
        """Deliveries that belong to these subtrees: to a robot of a unit in them, or to a
        person holding a post in them."""
        q = models.Q(pk__in=[])
        for unit in units:
            q |= (models.Q(robot__unit__path__startswith=unit.path)
                  | models.Q(recipient__posts__unit__path__startswith=unit.path))
        return self.filter(pk__in=self.filter(q).values("pk"))

    def mark_read(self) -> int:
        return self.filter(channel=Channel.INBOX, read_at__isnull=True).update(read_at=timezone.now())


class Delivery(models.Model):
    MAX_ATTEMPTS = 6

    key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    # The alert a personal message is about (an id, not a key: notify does not know care).
    # With ``only_if_open`` the worker asks care's hook before sending and skips the message
    # once the alert has been acknowledged ("SMS if not acknowledged in N minutes").
    alert_id = models.BigIntegerField(null=True, blank=True)
    only_if_open = models.BooleanField(default=False)
    # A personal push that cannot get through hands over to this channel (push → SMS), once.
    fallback = models.CharField(_("fallback"), max_length=12, choices=Channel.choices, blank=True)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                                  blank=True, related_name="deliveries")
    robot = models.ForeignKey(Robot, on_delete=models.CASCADE, null=True, blank=True,
                              related_name="deliveries")
    address = models.CharField(_("address"), max_length=255, blank=True)
    # What to say, as a msgid with parameters; rendered in the reader's language.
    message = models.CharField(_("message"), max_length=200)
    params = models.JSONField(default=dict, blank=True)
    link = models.CharField(_("link"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("outbox")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["recipient", "channel", "read_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk}"

    def text(self, language: str | None = None) -> str:
        with translation.override(language or translation.get_language() or settings.LANGUAGE_CODE):
            params = {k: (gettext(v) if k.endswith("_label") else v) for k, v in self.params.items()}
            return gettext(self.message) % params

    def mark_failed_attempt(self, error: str, *, final: bool = False) -> None:
        """Count a failed attempt; ``final`` (an answer that no retry can change, such as an
        unknown user id) fails the delivery at once."""
        self.attempts += 1
        self.last_error = error[:255]
        if final or self.attempts >= self.MAX_ATTEMPTS:
            self.status = DeliveryStatus.FAILED
        else:  # exponential backoff: 10 s, 20 s, 40 s ...
            self.next_attempt_at = timezone.now() + dt.timedelta(seconds=10 * 2 ** (self.attempts - 1))
        self.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])

    def retry(self) -> bool:
        """Give a failed delivery a fresh round of attempts, due now (the centre's "retry").
        False when it was no longer failed (a second click, or retried by someone else)."""
        changed = Delivery.objects.filter(pk=self.pk, status=DeliveryStatus.FAILED).exclude(
            channel=Channel.UNREACHABLE).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now())
        self.refresh_from_db()
        return bool(changed)

    def mark_skipped(self) -> None:
        self.status = DeliveryStatus.SKIPPED
        self.save(update_fields=["status"])

    def mark_sent(self) -> None:
        self.status = DeliveryStatus.SENT
        self.attempts += 1
        self.sent_at = timezone.now()
        self.save(update_fields=["status", "attempts", "sent_at"])


# --- the channel policy -------------------------------------------------------------------------


class When(models.TextChoices):
    NEVER = "never", _("Never")
    ALWAYS = "always", _("Day and night")
    IN_HOURS = "in_hours", _("In office hours")
    OUT_OF_HOURS = "out_hours", _("Out of office hours")

    @classmethod
    def holds(cls, when: str, out_of_hours: bool) -> bool:
        return (when == cls.ALWAYS or (when == cls.IN_HOURS and not out_of_hours)
                or (when == cls.OUT_OF_HOURS and out_of_hours))


class ChannelPolicy(models.Model):
    """Which channels an alert of one level takes, by time of day. The in-app inbox always gets
    it (it is the record); group robots follow their own levels."""

    level = models.CharField(_("level"), max_length=8, unique=True,
                             choices=[("red", _("red")), ("orange", _("orange")), ("yellow", _("yellow"))])
    email = models.CharField(_("e-mail"), max_length=9, choices=When.choices, default=When.ALWAYS)
    push = models.CharField(_("personal push (WeCom / DingTalk)"), max_length=9, choices=When.choices,
                            default=When.ALWAYS)
    sms = models.CharField(_("SMS"), max_length=9, choices=When.choices, default=When.ALWAYS)
    sms_after_minutes = models.PositiveSmallIntegerField(
        _("SMS only if not acknowledged within (minutes)"), default=0,
        help_text=_("0: the SMS goes at once, with the push."))
    hold_in_quiet_hours = models.BooleanField(
        _("hold until office hours"), default=False,
        help_text=_("Out of office hours, e-mail and push wait until office hours begin."))

    class Meta:
        verbose_name = _("channel policy")
        verbose_name_plural = _("channel policies")
        ordering = ["pk"]

    def __str__(self) -> str:
        return str(self.get_level_display())

    DEFAULTS = {
        "red": {"email": When.ALWAYS, "push": When.ALWAYS, "sms": When.ALWAYS, "sms_after_minutes": 0,
                "hold_in_quiet_hours": False},
        "orange": {"email": When.ALWAYS, "push": When.ALWAYS, "sms": When.ALWAYS,
                   "sms_after_minutes": 10, "hold_in_quiet_hours": False},
        "yellow": {"email": When.ALWAYS, "push": When.NEVER, "sms": When.NEVER, "sms_after_minutes": 0,
                   "hold_in_quiet_hours": True},
    }

    @classmethod
    def for_level(cls, level: str) -> ChannelPolicy:
        """The stored policy of ``level``, else the shipped default (unsaved)."""
        found = cls.objects.filter(level=level).first()
        return found or cls(level=level, **cls.DEFAULTS.get(level, cls.DEFAULTS["yellow"]))


def office_opens() -> dt.time:
    """The shipped start of office hours.

    A callable, not ``dt.time(8, 0)``: Django warns of a "fixed default" (fields.W161) whenever
    ``check`` runs within ten seconds of a fixed time default (compared in UTC), so
    ``check --deploy --fail-level WARNING`` failed at 08:00:00 and 18:00:00 UTC.
    """
    from .hours import DEFAULT_START

    return DEFAULT_START


def office_closes() -> dt.time:
    """The shipped end of office hours (a callable for the reason in ``office_opens``)."""
    from .hours import DEFAULT_END

    return DEFAULT_END


class OfficeHours(models.Model):
    """The centre's office hours (Asia/Shanghai local time); one row. Out of them is "night"."""

    start = models.TimeField(_("office hours begin"), default=office_opens)
    end = models.TimeField(_("office hours end"), default=office_closes)
    weekdays = models.CharField(_("office days"), max_length=13, default="1,2,3,4,5",
                                help_text=_("Comma-separated, Monday = 1 … Sunday = 7."))

    class Meta:
        verbose_name = _("office hours")
        verbose_name_plural = _("office hours")

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M} ({self.weekdays})"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        try:
            days = {int(x) for x in self.weekdays.split(",") if x.strip()}
        except ValueError:
            days = {0}
        if not days <= set(range(1, 8)):
            raise ValidationError({"weekdays": _("Use the numbers 1 (Monday) to 7 (Sunday).")})
        if self.start >= self.end:
            raise ValidationError({"end": _("Office hours must end after they begin.")})

    @classmethod
    def current(cls):  # noqa: ANN206 — hours.Hours; imported late to keep hours importable alone
        from .hours import Hours

        row = cls.objects.order_by("pk").first()
        if row is None:
            return Hours()
        days = frozenset(int(x) - 1 for x in row.weekdays.split(",") if x.strip().isdigit())
        return Hours(start=row.start, end=row.end, weekdays=days)


class OneTapUse(models.Model):
    """A one-tap link that has been used: its nonce, so that a second use is refused."""

    nonce = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    alert_id = models.BigIntegerField()
    used_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"one-tap link used for alert #{self.alert_id}"


class ProviderToken(models.Model):
    """A platform access token (WeCom, DingTalk) shared by every worker process and kept across
    restarts, so that one fetch serves them all until shortly before it expires. ``key`` is a
    digest of the platform, its URL and the credentials, never the credentials themselves; the
    token is a credential and is stored encrypted. ``refreshing_until``: one worker holds the
    right to fetch a new token until then, the others wait for its answer."""

    key = models.CharField(max_length=64, unique=True)
    token = EncryptedTextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    refreshing_until = models.DateTimeField(null=True, blank=True)
    fetches = models.PositiveIntegerField(default=0)
    fetched_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"access token {self.key[:8]}…"


class RateGate(models.Model):
    """A provider's messages-per-second limit, shared by every worker process: each message
    claims the next free instant (``next_at``, seconds since the epoch) with one atomic UPDATE,
    and instants are spaced a little over ``1/limit`` apart (provider.RateLimiter.WINDOW), so no
    one-second window ever holds more than the limit."""

    channel = models.CharField(max_length=40, unique=True)
    next_at = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"rate gate {self.channel}"


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Holiday (no office hours)")
    WORKDAY = "workday", _("Make-up workday (调休: office hours on a weekend day)")


class Holiday(models.Model):
    """A date that breaks the weekly pattern of office hours: a public holiday on an office day,
    or a make-up workday (调休) on a day that is otherwise off. Read by notify/hours.py."""

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=DayKind.choices, default=DayKind.HOLIDAY)
    note = models.CharField(_("note"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("holiday or make-up workday")
        verbose_name_plural = _("holidays and make-up workdays")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()}"

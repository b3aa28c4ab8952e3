"""The transactional outbox: a delivery row is written in the same transaction as its event,
and the worker sends it later. Messages never carry sensitive detail (see care/notify texts)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    INBOX = "inbox", _("In-app inbox")
    EMAIL = "email", _("Email")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def due(self, now: dt.datetime | None = None) -> DeliveryQuerySet:
        return self.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now or timezone.now())


class Delivery(models.Model):
    MAX_ATTEMPTS = 6

    key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                                  blank=True, related_name="deliveries")
    address = models.CharField(_("address"), max_length=255, blank=True)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    status = models.CharField(_("status"), max_length=8, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("outbox")
        ordering = ["next_attempt_at"]

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient_id or self.address}: {self.subject}"

    def mark_failed_attempt(self, error: str) -> None:
        self.attempts += 1
        self.last_error = error[:255]
        if self.attempts >= self.MAX_ATTEMPTS:
            self.status = DeliveryStatus.FAILED
        else:  # exponential backoff: 10 s, 20 s, 40 s ...
            self.next_attempt_at = timezone.now() + dt.timedelta(seconds=10 * 2 ** (self.attempts - 1))
        self.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])


def send_one(delivery: Delivery) -> None:
    if delivery.channel == Channel.EMAIL:
        from django.core.mail import send_mail

        send_mail(delivery.subject, delivery.body, None, [delivery.address],
                  fail_silently=False)
    # INBOX deliveries need no sending: the row itself is the inbox entry.


def run_once(batch: int = 50) -> int:
    """Claim due deliveries with SKIP LOCKED (so several workers never share one) and send them."""
    done = 0
    with transaction.atomic():
        claimed = list(Delivery.objects.due().select_for_update(skip_locked=True)[:batch])
        for delivery in claimed:
            try:
                send_one(delivery)
            except Exception as exc:  # noqa: BLE001 — any failure is retried with backoff
                delivery.mark_failed_attempt(type(exc).__name__)
                continue
            delivery.status = DeliveryStatus.SENT
            delivery.attempts += 1
            delivery.sent_at = timezone.now()
            delivery.save(update_fields=["status", "attempts", "sent_at"])
            done += 1
    return done

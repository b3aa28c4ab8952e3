import datetime as dt
from unittest import mock

from django.core import mail
from django.test import TestCase, override_settings
from django.utils import timezone

from xinlian.notify.models import Channel, Delivery, DeliveryStatus, run_once


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
class OutboxTests(TestCase):
    def test_due_email_is_sent_once(self):
        Delivery.objects.create(channel=Channel.EMAIL, address="a@example.edu.cn", subject="Hi")
        self.assertEqual(run_once(), 1)
        self.assertEqual(run_once(), 0)
        self.assertEqual(len(mail.outbox), 1)
        d = Delivery.objects.get()
        self.assertEqual((d.status, d.attempts), (DeliveryStatus.SENT, 1))

    def test_future_delivery_waits(self):
        Delivery.objects.create(channel=Channel.EMAIL, address="a@example.edu.cn", subject="Later",
                                next_attempt_at=timezone.now() + dt.timedelta(minutes=5))
        self.assertEqual(run_once(), 0)
        self.assertEqual(len(mail.outbox), 0)

    def test_failure_backs_off_then_gives_up(self):
        d = Delivery.objects.create(channel=Channel.EMAIL, address="a@example.edu.cn", subject="X")
        with mock.patch("django.core.mail.send_mail", side_effect=ConnectionRefusedError):
            for _ in range(Delivery.MAX_ATTEMPTS):
                Delivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())
                run_once()
        d.refresh_from_db()
        self.assertEqual(d.status, DeliveryStatus.FAILED)
        self.assertEqual(d.attempts, Delivery.MAX_ATTEMPTS)
        self.assertEqual(d.last_error, "ConnectionRefusedError")

    def test_backoff_grows(self):
        d = Delivery.objects.create(channel=Channel.EMAIL, address="a@example.edu.cn", subject="X")
        with mock.patch("django.core.mail.send_mail", side_effect=TimeoutError):
            run_once()
            d.refresh_from_db()
            first = d.next_attempt_at - timezone.now()
            Delivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())
            run_once()
            d.refresh_from_db()
            second = d.next_attempt_at - timezone.now()
        self.assertGreater(second, first)

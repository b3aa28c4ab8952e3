import datetime as dt
from unittest import mock

from django.core import mail
from django.test import TestCase, override_settings
from django.utils import timezone

from xinlian.notify.models import Channel, Delivery, DeliveryStatus
from xinlian.notify.sending import send_due

MSG = "A %(level_label)s alert for a student in %(place)s needs your acknowledgement."


def email(**kw) -> Delivery:
    return Delivery.objects.create(channel=Channel.EMAIL, address="a@example.edu.cn", message=MSG,
                                   params={"level_label": "red", "place": "计算机学院 2023级1班"},
                                   link="/care/alerts/1/", **kw)


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
class OutboxTests(TestCase):
    def test_due_email_is_sent_once_with_its_key(self):
        d = email()
        self.assertEqual(send_due(), 1)
        self.assertEqual(send_due(), 0)
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].extra_headers["X-Xinlian-Delivery"], str(d.key))
        self.assertIn("计算机学院 2023级1班", mail.outbox[0].subject)
        d.refresh_from_db()
        self.assertEqual((d.status, d.attempts), (DeliveryStatus.SENT, 1))

    def test_message_renders_in_each_language(self):
        d = email()
        self.assertIn("alert for a student in", d.text("en"))
        self.assertIn("红色", d.text("zh-hans"))

    def test_future_delivery_waits(self):
        email(next_attempt_at=timezone.now() + dt.timedelta(minutes=5))
        self.assertEqual(send_due(), 0)
        self.assertEqual(len(mail.outbox), 0)

    def test_failure_backs_off_then_gives_up(self):
        d = email()
        with mock.patch.dict("xinlian.notify.sending.SENDERS", {Channel.EMAIL: mock.Mock(side_effect=ConnectionRefusedError)}):
            for _ in range(Delivery.MAX_ATTEMPTS):
                Delivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())
                send_due()
        d.refresh_from_db()
        self.assertEqual(d.status, DeliveryStatus.FAILED)
        self.assertEqual(d.attempts, Delivery.MAX_ATTEMPTS)
        self.assertEqual(d.last_error, "ConnectionRefusedError")
        self.assertEqual(list(Delivery.objects.failed()), [d])

    def test_backoff_grows(self):
        d = email()
        with mock.patch.dict("xinlian.notify.sending.SENDERS", {Channel.EMAIL: mock.Mock(side_effect=TimeoutError)}):
            send_due()
            d.refresh_from_db()
            first = d.next_attempt_at - timezone.now()
            Delivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())
            send_due()
            d.refresh_from_db()
            second = d.next_attempt_at - timezone.now()
        self.assertGreater(second, first)

"""The one-tap acknowledgement link of a personal message: after login it acknowledges the alert
through the one verb and opens it; expired, reused, someone else's or forged links acknowledge
nothing, say why in both languages and leave an audit row."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.test import override_settings
from django.urls import reverse

from xinlian.access.models import AuditEvent
from xinlian.care.models import Alert, AlertStatus
from xinlian.notify.models import Channel, Delivery, DeliveryStatus, OneTapUse
from xinlian.notify.onetap import SALT, make_token, onetap_link
from xinlian.notify.sending import send_due

from .base import PASSWORD, NetworkTestCase
from .personal_receivers import WeComServer, settings_for


class OldSigner(signing.TimestampSigner):
    """Signs as the product does, an hour ago."""

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 3600)


class OneTapTests(NetworkTestCase):
    def setUp(self) -> None:
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        self.alert = Alert.raise_for(self.student_a1, "red", "concern")
        self.user = self.counsellor_a

    def link(self, user=None) -> str:
        return onetap_link(self.alert.pk, (user or self.user).pk)

    def refusals(self, reason: str):
        return AuditEvent.objects.filter(action="alert.onetap", result="denied", object_id=str(self.alert.pk),
                                         detail__endswith=reason)

    def test_link_acknowledges_and_opens_the_alert(self):
        self.login("counsellor_a")
        response = self.client.get(self.link(), follow=True)
        self.assertRedirects(response, self.alert.get_absolute_url())
        self.assertContains(response, "Alert acknowledged")
        self.alert.refresh_from_db()
        self.assertEqual((self.alert.status, self.alert.acknowledged_by), (AlertStatus.ACKNOWLEDGED, self.user))
        # The one verb did it: its audit row, as after the page's button.
        self.assertTrue(AuditEvent.objects.filter(action="alert.acknowledge", actor=self.user,
                                                  object_id=str(self.alert.pk), result="allowed").exists())

    def test_signed_out_reader_logs_in_and_comes_back(self):
        link = self.link()
        response = self.client.get(link)
        self.assertEqual(response.status_code, 302)
        login = response["Location"]
        self.assertTrue(login.startswith(reverse("login")))
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, AlertStatus.OPEN)  # nothing before login
        page = self.client.post(login, {"username": self.user.username, "password": PASSWORD})
        self.assertEqual(page.status_code, 302)
        self.assertEqual(urlsplit(page["Location"]).path, link)
        self.client.get(page["Location"])
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, AlertStatus.ACKNOWLEDGED)

    def test_second_use_is_refused(self):
        link = self.link()
        self.login("counsellor_a")
        self.client.get(link)
        response = self.client.get(link)
        self.assertEqual(response.status_code, 410)
        self.assertContains(response, "already been used", status_code=410)
        self.assertContains(response, "已经使用过", status_code=410)  # both languages
        self.assertContains(response, self.alert.get_absolute_url(), status_code=410)
        self.assertEqual(self.refusals("used").count(), 1)
        self.assertEqual(OneTapUse.objects.count(), 1)

    def test_expired_link_acknowledges_nothing(self):
        token = OldSigner(salt=SALT).sign(f"{self.alert.pk}.{self.user.pk}.oldnonce")
        self.login("counsellor_a")
        response = self.client.get(reverse("alert-onetap", args=[token]))
        self.assertEqual(response.status_code, 410)
        self.assertContains(response, "has expired", status_code=410)
        self.assertContains(response, "已过期", status_code=410)
        self.assertContains(response, self.alert.get_absolute_url(), status_code=410)
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, AlertStatus.OPEN)
        self.assertEqual(self.refusals("expired").count(), 1)

    @override_settings(ONETAP_MAX_AGE_MINUTES=120)
    def test_validity_is_a_setting(self):
        token = OldSigner(salt=SALT).sign(f"{self.alert.pk}.{self.user.pk}.oldnonce")
        self.login("counsellor_a")
        self.client.get(reverse("alert-onetap", args=[token]))
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, AlertStatus.ACKNOWLEDGED)

    def test_someone_elses_link_acknowledges_nothing(self):
        link = self.link(self.counsellor_a)
        self.login("head_teacher_a1")  # sees the alert, but the link was sent to the counsellor
        response = self.client.get(link)
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "sent to someone else", status_code=403)
        self.assertContains(response, self.alert.get_absolute_url(), status_code=403)
        self.assertEqual(self.refusals("other_user").count(), 1)
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, AlertStatus.OPEN)
        # Nor is the link spent: its owner can still use it.
        self.login("counsellor_a")
        self.client.get(link)
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, AlertStatus.ACKNOWLEDGED)

    def test_outsider_with_a_forwarded_link_gets_no_way_to_the_alert(self):
        link = self.link(self.counsellor_a)
        self.login("outsider_b")
        response = self.client.get(link)
        self.assertEqual(response.status_code, 403)
        self.assertNotContains(response, self.alert.get_absolute_url(), status_code=403)
        self.assertNotContains(response, "张小明", status_code=403)

    def test_forged_or_altered_token_is_refused(self):
        self.login("counsellor_a")
        token = make_token(self.alert.pk, self.user.pk)
        value, _sep, rest = token.partition(":")
        forged = f"{self.alert.pk}.{self.head_teacher_a1.pk}.{value.split('.')[2]}:{rest}"
        for bad in (forged, "nonsense", token[:-2]):
            response = self.client.get(reverse("alert-onetap", args=[bad]))
            self.assertEqual(response.status_code, 400)
            self.assertContains(response, "not valid", status_code=400)
        self.assertEqual(AuditEvent.objects.filter(action="alert.onetap", detail__endswith="invalid").count(), 3)

    def test_already_acknowledged_opens_the_alert_with_a_message(self):
        self.login("head_teacher_a1")
        self.client.post(reverse("alert-acknowledge", args=[self.alert.pk]), {"ack-note": ""})
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, AlertStatus.ACKNOWLEDGED)
        self.login("counsellor_a")
        response = self.client.get(self.link(), follow=True)
        self.assertRedirects(response, self.alert.get_absolute_url())
        self.assertContains(response, "already")

    def test_post_is_refused(self):
        self.login("counsellor_a")
        self.assertEqual(self.client.post(self.link()).status_code, 405)

    def test_the_link_in_a_wecom_message_works(self):
        self.user.wecom_userid = "zhoufudao"
        self.user.save()
        with WeComServer(users=("zhoufudao",)) as wecom, override_settings(**settings_for(wecom=wecom)):
            alert = Alert.raise_for(self.student_a1, "orange", "concern")
            send_due()
        d = Delivery.objects.get(alert_id=alert.pk, channel=Channel.WECOM_APP, recipient=self.user)
        self.assertEqual(d.status, DeliveryStatus.SENT)
        url = wecom.messages[0].body["textcard"]["url"]
        self.login("counsellor_a")
        self.client.get(urlsplit(url).path)
        alert.refresh_from_db()
        self.assertEqual((alert.status, alert.acknowledged_by), (AlertStatus.ACKNOWLEDGED, self.user))

"""Alerts to one person's phone: WeCom application messages, DingTalk work notifications and SMS
(Alibaba Cloud, Tencent Cloud), sent by the worker to local servers that follow each platform's
documented formats (tests/personal_receivers.py); the channel policy; the hand-over push → SMS;
the people nothing reaches; office hours."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from xinlian.care.models import Alert, AlertStatus
from xinlian.network.roster import import_file
from xinlian.notify.hours import is_out_of_hours, next_office_hours_start
from xinlian.notify.models import Channel, ChannelPolicy, Delivery, DeliveryStatus, OfficeHours
from xinlian.notify.provider import tokens
from xinlian.notify.sending import send_due

from .base import NetworkTestCase
from .personal_receivers import (
    AliyunSmsServer,
    DingTalkServer,
    TencentSmsServer,
    WeComServer,
    settings_for,
)
from .roster_fixtures import csv_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARKER = "MARKER-REPORTED-自伤念头"
STUDENT_NAME = "张小明"


def run_worker(rounds: int = 5) -> None:
    for _ in range(rounds):
        if not send_due():
            break


def make_due(channel: str | None = None) -> None:
    """Bring the backoff to its end (what waiting would do)."""
    qs = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    (qs.filter(channel=channel) if channel else qs).update(next_attempt_at=timezone.now())


class PersonalTestCase(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        for user, wecom, ding, phone in (
                (cls.head_teacher_a1, "wulaoshi", "", "13800000002"),
                (cls.counsellor_a, "zhoufudao", "ding-zhou", "13800000001"),
                (cls.director, "qianzhuren", "", "13800000004")):
            user.wecom_userid, user.dingtalk_userid, user.phone = wecom, ding, phone
            user.save()
        # Office hours every day, all day: these tests are "in hours" whenever they run, unless
        # a test moves the hours.
        OfficeHours.objects.update(start=dt.time(0, 0), end=dt.time(23, 59, 59), weekdays="1,2,3,4,5,6,7")

    def setUp(self) -> None:
        tokens.clear()
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    def raise_alert(self, level: str = "red") -> Alert:
        return Alert.raise_for(self.student_a1, level, "concern")

    def personal(self, user, channel: str | None = None):
        qs = Delivery.objects.filter(recipient=user).exclude(channel__in=(Channel.INBOX, Channel.EMAIL))
        return qs.filter(channel=channel) if channel else qs


class WeComTests(PersonalTestCase):
    def test_red_alert_reaches_the_person_by_wecom_and_sms_at_once(self):
        with WeComServer(users=("zhoufudao", "wulaoshi", "qianzhuren")) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms)):
            alert = self.raise_alert("red")
            run_worker()
        touched = {h.body["touser"] for h in wecom.messages}
        self.assertIn("qianzhuren", touched)  # a red alert reaches the centre at once
        recipients = set(Delivery.objects.filter(alert_id=alert.pk, channel=Channel.WECOM_APP)
                         .values_list("address", flat=True))
        self.assertEqual(touched, recipients)
        body = wecom.messages[0].body
        self.assertEqual(body["msgtype"], "textcard")
        self.assertEqual(body["textcard"]["title"], "【心联】红色预警")
        self.assertLessEqual(len(body["textcard"]["title"].encode()), 128)  # WeCom's limit
        self.assertIn("/care/t/", body["textcard"]["url"])
        self.assertTrue(body["textcard"]["url"].startswith(settings.SITE_URL))
        self.assertEqual(wecom.token_requests, 1)  # one token, cached for every message
        self.assertEqual(len(sms.messages), len(touched))  # red: SMS at once as well
        self.assertFalse(Delivery.objects.filter(status=DeliveryStatus.FAILED).exists())
        phones = {h.query["PhoneNumbers"] for h in sms.messages}
        self.assertIn("13800000004", phones)

    def test_expired_token_is_fetched_again_and_the_message_sent(self):
        with WeComServer(users=("zhoufudao", "wulaoshi", "qianzhuren")) as wecom, \
                override_settings(**settings_for(wecom=wecom)):
            self.raise_alert("orange")
            run_worker()
            first = len(wecom.messages)
            wecom.expire_tokens()
            self.raise_alert("orange")
            run_worker()
        self.assertEqual(len(wecom.messages), 2 * first)
        self.assertEqual(wecom.token_requests, 2)
        codes = [h.path for h in wecom.hits]
        self.assertEqual(codes.count("/cgi-bin/gettoken"), 2)
        self.assertFalse(Delivery.objects.filter(status=DeliveryStatus.FAILED).exists())

    def test_rate_limit_is_retried_with_backoff_without_handing_over(self):
        with WeComServer(users=("zhoufudao", "wulaoshi", "qianzhuren")) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms)):
            alert = self.raise_alert("orange")
            people = Delivery.objects.filter(alert_id=alert.pk, channel=Channel.WECOM_APP).count()
            wecom.script = [(200, {"errcode": 45009, "errmsg": "api freq out of limit"})] * people
            run_worker()
            pushes = Delivery.objects.filter(alert_id=alert.pk, channel=Channel.WECOM_APP)
            limited = pushes.filter(attempts=1, status=DeliveryStatus.PENDING)
            self.assertEqual(limited.count(), people)
            for d in limited:
                self.assertIn("rate limit", d.last_error)
                self.assertGreater(d.next_attempt_at, timezone.now())
            make_due(Channel.WECOM_APP)
            # Rate limits do not hand over to SMS (orange: SMS only later, if unacknowledged).
            self.assertFalse(Delivery.objects.filter(alert_id=alert.pk, channel=Channel.SMS,
                                                     only_if_open=False).exists())
            run_worker()
        self.assertEqual(pushes.filter(status=DeliveryStatus.SENT).count(), pushes.count())
        self.assertEqual(len(sms.messages), 0)

    def test_provider_down_retries_then_hands_over_to_sms_once(self):
        with WeComServer(users=("zhoufudao", "wulaoshi", "qianzhuren")) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms), PUSH_FALLBACK_AFTER_ATTEMPTS=2):
            wecom.down = True
            alert = self.raise_alert("orange")
            run_worker()  # first attempt: 503
            self.assertEqual(len(sms.messages), 0)
            make_due(Channel.WECOM_APP)
            run_worker()  # second attempt: 503, hand over to SMS, which goes out now
            pushes = Delivery.objects.filter(alert_id=alert.pk, channel=Channel.WECOM_APP)
            self.assertTrue(all(d.last_error == "HTTP 503" for d in pushes))
            people = pushes.count()
            self.assertEqual(len(sms.messages), people)
            # The later "if not acknowledged" SMS is not needed any more: it was just sent.
            later = Delivery.objects.filter(alert_id=alert.pk, channel=Channel.SMS, only_if_open=True)
            self.assertEqual(set(later.values_list("status", flat=True)), {DeliveryStatus.SKIPPED})
            make_due()
            run_worker()  # third attempt: no second hand-over
            self.assertEqual(len(sms.messages), people)
            wecom.down = False
            make_due()
            run_worker()
        self.assertEqual(pushes.filter(status=DeliveryStatus.SENT).count(), people)
        for h in sms.messages:
            self.assertIn("/care/t/", AliyunSmsServer.params(h)["link"])

    def test_unknown_user_fails_at_once_hands_over_and_shows_on_the_failed_page(self):
        with WeComServer(users=("wulaoshi", "qianzhuren")) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms)):
            alert = self.raise_alert("orange")
            run_worker()
        refused = Delivery.objects.get(alert_id=alert.pk, channel=Channel.WECOM_APP, address="zhoufudao")
        self.assertEqual(refused.status, DeliveryStatus.FAILED)
        self.assertEqual(refused.attempts, 1)
        self.assertIn("81013", refused.last_error)
        self.assertIn("13800000001", {h.query["PhoneNumbers"] for h in sms.messages})
        self.login("director")
        page = self.client.get(reverse("deliveries-failed"))
        self.assertContains(page, "81013")
        self.assertContains(page, self.counsellor_a.full_name)


class NoChannelTests(PersonalTestCase):
    def test_no_push_id_goes_by_sms(self):
        self.counsellor_a.wecom_userid = ""
        self.counsellor_a.dingtalk_userid = ""
        self.counsellor_a.save()
        with WeComServer(users=("wulaoshi", "qianzhuren")) as wecom, TencentSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms, backend="tencent")):
            alert = self.raise_alert("orange")
            run_worker()
        mine = self.personal(self.counsellor_a).filter(alert_id=alert.pk)
        self.assertEqual(list(mine.values_list("channel", "status", "only_if_open")),
                         [(Channel.SMS, DeliveryStatus.SENT, False)])
        numbers = [h.body["PhoneNumberSet"] for h in sms.messages]
        self.assertIn(["+8613800000001"], numbers)

    def test_no_id_and_no_mobile_is_listed_for_the_centre(self):
        self.counsellor_a.wecom_userid = ""
        self.counsellor_a.dingtalk_userid = ""
        self.counsellor_a.phone = ""
        self.counsellor_a.save()
        with WeComServer(users=("wulaoshi", "qianzhuren")) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms)):
            alert = self.raise_alert("red")
            run_worker()
            row = Delivery.objects.get(recipient=self.counsellor_a, channel=Channel.UNREACHABLE)
            self.assertEqual((row.status, row.alert_id), (DeliveryStatus.FAILED, alert.pk))
            self.login("director")
            page = self.client.get(reverse("deliveries-failed"))
            self.assertContains(page, "Who cannot be reached")
            self.assertContains(page, self.counsellor_a.full_name)
            self.assertNotContains(page, reverse("delivery-retry", args=[row.pk]))
            # The retry of such a row changes nothing: there is nothing to send it by.
            self.client.post(reverse("delivery-retry", args=[row.pk]))
            row.refresh_from_db()
            self.assertEqual(row.status, DeliveryStatus.FAILED)
        self.assertNotIn("13800000001", {h.query["PhoneNumbers"] for h in sms.messages})

    def test_a_landline_is_no_mobile(self):
        self.counsellor_a.wecom_userid = ""
        self.counsellor_a.phone = "010-62700000"
        self.counsellor_a.save()
        with AliyunSmsServer() as sms, override_settings(**settings_for(sms=sms)):
            self.raise_alert("red")
        self.assertTrue(Delivery.objects.filter(recipient=self.counsellor_a,
                                                channel=Channel.UNREACHABLE).exists())

    def test_without_any_personal_channel_configured_nothing_changes(self):
        with override_settings(**settings_for()):
            self.raise_alert("red")
        self.assertFalse(Delivery.objects.exclude(
            channel__in=(Channel.INBOX, Channel.EMAIL, Channel.WEBHOOK)).exists())


class DingTalkTests(PersonalTestCase):
    def test_dingtalk_work_notification_with_token_refresh_and_rate_limit(self):
        with DingTalkServer(users=("ding-zhou",)) as ding, \
                override_settings(**settings_for(dingtalk=ding)):
            alert = self.raise_alert("orange")
            ding.script = [(200, {"errcode": 90018, "errmsg": "频率超过了限制"})]
            run_worker()
            push = Delivery.objects.get(alert_id=alert.pk, channel=Channel.DINGTALK_APP)
            self.assertEqual((push.status, push.attempts), (DeliveryStatus.PENDING, 1))
            self.assertIn("rate limit", push.last_error)
            ding.expire_tokens()
            make_due()
            run_worker()
        push.refresh_from_db()
        self.assertEqual(push.status, DeliveryStatus.SENT)
        self.assertEqual(ding.token_requests, 2)
        body = ding.messages[0].body
        self.assertEqual((body["userid_list"], body["msg"]["msgtype"]), ("ding-zhou", "text"))
        self.assertIn("/care/t/", body["msg"]["text"]["content"])
        # Only the counsellor has a DingTalk id; the others (and no SMS configured) are listed.
        self.assertTrue(Delivery.objects.filter(recipient=self.head_teacher_a1,
                                                channel=Channel.UNREACHABLE).exists())


class SmsTests(PersonalTestCase):
    def send_one(self, server, backend: str, **extra) -> Delivery:
        d = Delivery.objects.create(channel=Channel.SMS, recipient=self.counsellor_a, alert_id=1,
                                    message="A %(level_label)s alert for a student in %(place)s needs "
                                            "your acknowledgement.",
                                    params={"level_label": "red", "place": "计算机学院 2023级1班"},
                                    link="/care/t/abc/")
        with override_settings(**{**settings_for(sms=server, backend=backend), **extra}):
            send_due()
        d.refresh_from_db()
        return d

    def test_aliyun_signed_request_is_accepted(self):
        with AliyunSmsServer() as sms:
            d = self.send_one(sms, "aliyun")
        self.assertEqual(d.status, DeliveryStatus.SENT)
        params = AliyunSmsServer.params(sms.messages[0])
        self.assertEqual(params["level"], "红色")
        self.assertEqual(params["place"], "计算机学院 2023级1班")
        self.assertTrue(params["link"].endswith("/care/t/abc/"))
        self.assertEqual(sms.messages[0].query["OutId"], str(d.key))

    def test_aliyun_wrong_secret_is_refused_by_its_signature_check(self):
        with AliyunSmsServer() as sms:
            d = self.send_one(sms, "aliyun", SMS_ACCESS_KEY_SECRET="not-the-secret")
        self.assertEqual((d.status, d.attempts), (DeliveryStatus.PENDING, 1))
        self.assertEqual(d.last_error, "aliyun sms SignatureDoesNotMatch")
        self.assertEqual(sms.messages, [])

    def test_aliyun_rate_limit_then_success(self):
        with AliyunSmsServer() as sms:
            sms.per_second = 1
            sms.script = [(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控",
                                 "RequestId": "x"})]
            d = self.send_one(sms, "aliyun")
            self.assertIn("rate limit", d.last_error)
            make_due()
            with override_settings(**settings_for(sms=sms)):
                send_due()
        d.refresh_from_db()
        self.assertEqual((d.status, d.attempts), (DeliveryStatus.SENT, 2))

    def test_tencent_tc3_signed_request_is_accepted(self):
        with TencentSmsServer() as sms:
            d = self.send_one(sms, "tencent")
        self.assertEqual(d.status, DeliveryStatus.SENT)
        body = sms.messages[0].body
        self.assertEqual(body["PhoneNumberSet"], ["+8613800000001"])
        self.assertEqual(body["TemplateParamSet"][:2], ["红色", "计算机学院 2023级1班"])
        self.assertEqual(body["SessionContext"], str(d.key))

    def test_tencent_wrong_secret_is_refused_by_its_signature_check(self):
        with TencentSmsServer() as sms:
            d = self.send_one(sms, "tencent", SMS_ACCESS_KEY_SECRET="not-the-secret")
        self.assertEqual(d.last_error, "tencent sms AuthFailure.SignatureFailure")
        self.assertEqual(sms.messages, [])

    def test_provider_down_is_retried(self):
        with TencentSmsServer() as sms:
            sms.down = True
            d = self.send_one(sms, "tencent")
            self.assertEqual((d.status, d.last_error), (DeliveryStatus.PENDING, "HTTP 503"))
            sms.down = False
            make_due()
            with override_settings(**settings_for(sms=sms, backend="tencent")):
                send_due()
        d.refresh_from_db()
        self.assertEqual(d.status, DeliveryStatus.SENT)


class BurstTests(PersonalTestCase):
    def test_a_burst_stays_under_the_providers_limit(self):
        rows = [Delivery(channel=Channel.SMS, recipient=self.counsellor_a, alert_id=1,
                         message="A %(level_label)s alert for a student in %(place)s needs your "
                                 "acknowledgement.",
                         params={"level_label": "red", "place": "2023级1班"}, link=f"/care/t/{i}/")
                for i in range(12)]
        Delivery.objects.bulk_create(rows)
        with AliyunSmsServer() as sms, override_settings(**settings_for(sms=sms), PERSONAL_RATE_PER_SECOND=4):
            sms.per_second = 5  # the provider's limit, with the margin a deployment would keep
            started = time.monotonic()
            self.assertEqual(send_due(), 12)
            took = time.monotonic() - started
        self.assertEqual(len(sms.messages), 12)  # none refused for going too fast, none lost
        self.assertGreaterEqual(took, 2.0)  # 12 messages at 4 a second
        self.assertFalse(Delivery.objects.exclude(status=DeliveryStatus.SENT).exists())


class TextTests(PersonalTestCase):
    def test_messages_carry_level_place_and_link_never_the_name_or_the_report(self):
        with WeComServer(users=("zhoufudao", "wulaoshi", "qianzhuren")) as wecom, AliyunSmsServer() as sms, \
                DingTalkServer(users=("ding-zhou",)) as ding, \
                override_settings(**settings_for(wecom=wecom, sms=sms, dingtalk=ding)):
            self.login("liaison_a1")
            response = self.client.post(reverse("concern-new"), {
                "key": str(uuid.uuid4()), "student": self.student_a1.pk, "category": "self_harm",
                "urgency": "now", "seen": MARKER,
                "seen_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
            self.assertEqual(response.status_code, 302)
            run_worker()
        self.assertTrue(wecom.messages)
        self.assertTrue(sms.messages)
        texts = [json.dumps(h.body, ensure_ascii=False) for h in wecom.messages]
        texts += [json.dumps(h.query, ensure_ascii=False) for h in sms.messages]
        for text in texts:
            self.assertNotIn(MARKER, text)
            self.assertNotIn(STUDENT_NAME, text)
            self.assertNotIn("S0001", text)  # the student number neither
            self.assertTrue("2023级1班" in text or "Class A1" in text, text)  # the place
            self.assertIn("/care/t/", text)
        self.assertIn("红色", texts[0])


class PolicyTests(PersonalTestCase):
    def test_orange_sms_goes_only_if_not_acknowledged_in_time(self):
        with WeComServer(users=("zhoufudao", "wulaoshi", "qianzhuren")) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms)):
            acked = self.raise_alert("orange")
            later = Delivery.objects.filter(alert_id=acked.pk, channel=Channel.SMS)
            self.assertTrue(later.exists())
            for d in later:
                self.assertTrue(d.only_if_open)
                minutes = (d.next_attempt_at - d.created_at).total_seconds() / 60
                self.assertAlmostEqual(minutes, 10, delta=0.1)
            run_worker()
            self.assertEqual(len(sms.messages), 0)  # not due yet
            Alert.objects.filter(pk=acked.pk).update(status=AlertStatus.ACKNOWLEDGED)
            open_alert = self.raise_alert("orange")
            make_due()
            run_worker()
        self.assertEqual(set(later.values_list("status", flat=True)), {DeliveryStatus.SKIPPED})
        still_open = Delivery.objects.filter(alert_id=open_alert.pk, channel=Channel.SMS)
        self.assertEqual(set(still_open.values_list("status", flat=True)), {DeliveryStatus.SENT})
        self.assertEqual(len(sms.messages), still_open.count())

    def test_yellow_is_inbox_and_email_held_until_office_hours(self):
        today = timezone.localtime(timezone.now(), SHANGHAI).isoweekday()
        other = today % 7 + 1
        OfficeHours.objects.update(start=dt.time(8), end=dt.time(18), weekdays=str(other))
        self.assertTrue(is_out_of_hours())
        for user in (self.counsellor_a, self.head_teacher_a1):
            user.email = f"{user.username}@example.edu.cn"
            user.save()
        with WeComServer(users=("zhoufudao",)) as wecom, override_settings(**settings_for(wecom=wecom)):
            alert = self.raise_alert("yellow")
            run_worker()
        self.assertEqual(wecom.messages, [])
        emails = Delivery.objects.filter(alert_id=None, channel=Channel.EMAIL, link=alert.get_absolute_url())
        self.assertTrue(emails.exists())
        for d in emails:
            self.assertEqual(d.status, DeliveryStatus.PENDING)
            self.assertEqual(d.next_attempt_at, next_office_hours_start())
            self.assertGreater(d.next_attempt_at, timezone.now())
        self.assertTrue(Delivery.objects.filter(channel=Channel.INBOX, link=alert.get_absolute_url()).exists())

    def test_the_centre_edits_the_policy_in_the_back_office(self):
        self.login("director")
        red = ChannelPolicy.objects.get(level="red")
        url = reverse("admin:notify_channelpolicy_change", args=[red.pk])
        self.assertEqual(self.client.get(url).status_code, 200)
        response = self.client.post(url, {"email": "never", "push": "out_hours", "sms": "always",
                                          "sms_after_minutes": 5, "hold_in_quiet_hours": ""})
        self.assertEqual(response.status_code, 302)
        red.refresh_from_db()
        self.assertEqual((red.email, red.push, red.sms, red.sms_after_minutes), ("never", "out_hours", "always", 5))
        hours = OfficeHours.objects.get()
        url = reverse("admin:notify_officehours_change", args=[hours.pk])
        response = self.client.post(url, {"start": "09:00", "end": "08:00", "weekdays": "1,2"})
        self.assertContains(response, "Office hours must end after they begin.")
        response = self.client.post(url, {"start": "09:00", "end": "17:00", "weekdays": "1,9"})
        self.assertContains(response, "Use the numbers 1 (Monday) to 7 (Sunday).")
        self.client.post(url, {"start": "09:00", "end": "17:00", "weekdays": "1,2,3"})
        self.assertTrue(is_out_of_hours(dt.datetime(2026, 12, 10, 10, 0, tzinfo=SHANGHAI)))  # Thursday
        self.assertFalse(is_out_of_hours(dt.datetime(2026, 12, 9, 10, 0, tzinfo=SHANGHAI)))  # Wednesday

    def test_shipped_defaults(self):
        got = {p.level: (p.email, p.push, p.sms, p.sms_after_minutes, p.hold_in_quiet_hours)
               for p in ChannelPolicy.objects.all()}
        self.assertEqual(got, {"red": ("always", "always", "always", 0, False),
                               "orange": ("always", "always", "always", 10, False),
                               "yellow": ("always", "never", "never", 0, True)})
        ChannelPolicy.objects.all().delete()
        self.assertEqual(ChannelPolicy.for_level("orange").sms_after_minutes, 10)


class HoursTests(NetworkTestCase):
    def at(self, *args) -> dt.datetime:
        return dt.datetime(*args, tzinfo=SHANGHAI)

    def test_default_office_hours_are_weekdays_eight_to_six_in_shanghai(self):
        OfficeHours.objects.all().delete()
        self.assertFalse(is_out_of_hours(self.at(2026, 12, 7, 8, 0)))  # Monday 08:00
        self.assertFalse(is_out_of_hours(self.at(2026, 12, 11, 17, 59)))  # Friday 17:59
        self.assertTrue(is_out_of_hours(self.at(2026, 12, 7, 18, 0)))
        self.assertTrue(is_out_of_hours(self.at(2026, 12, 8, 2, 0)))  # 02:00 on a Tuesday
        self.assertTrue(is_out_of_hours(self.at(2026, 12, 12, 10, 0)))  # Saturday
        # 02:00 UTC is 10:00 in Shanghai.
        self.assertFalse(is_out_of_hours(dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)))
        self.assertEqual(next_office_hours_start(self.at(2026, 12, 11, 19, 0)), self.at(2026, 12, 14, 8, 0))
        self.assertEqual(next_office_hours_start(self.at(2026, 12, 8, 2, 0)), self.at(2026, 12, 8, 8, 0))


class IdentityTests(NetworkTestCase):
    def test_a_persons_phone_is_encrypted_at_rest(self):
        self.counsellor_a.phone = "13800000001"
        self.counsellor_a.save()
        with connection.cursor() as cursor:
            cursor.execute("SELECT phone FROM network_user WHERE id = %s", [self.counsellor_a.pk])
            raw = cursor.fetchone()[0]
        self.assertTrue(raw.startswith("v1:"))
        self.assertNotIn("13800000001", raw)
        self.counsellor_a.refresh_from_db()
        self.assertEqual(self.counsellor_a.phone, "13800000001")

    def test_roster_import_reads_wecom_and_dingtalk_ids(self):
        head = ["工号", "姓名", "部门代码", "职务", "电话", "企业微信账号", "钉钉账号"]
        data = csv_bytes(head, [["T1001", "周辅导", "CA", "辅导员", "13800000001", "zhoufudao", "ding-zhou"],
                                ["T9001", "新老师", "CA", "", "", "xinlaoshi", ""]])
        report = import_file(io.BytesIO(data), "staff.csv", dry_run=False)
        self.assertFalse(report.errors, report.errors)
        self.counsellor_a.refresh_from_db()
        self.assertEqual((self.counsellor_a.wecom_userid, self.counsellor_a.dingtalk_userid,
                          self.counsellor_a.phone), ("zhoufudao", "ding-zhou", "13800000001"))
        new = type(self.counsellor_a).objects.get(username="T9001")
        self.assertEqual((new.wecom_userid, new.dingtalk_userid), ("xinlaoshi", ""))
        # Importing the same file again changes nothing.
        again = import_file(io.BytesIO(data), "staff.csv", dry_run=False)
        self.assertEqual(again.counts["staff"].updated, 0)


class DocumentationTests(NetworkTestCase):
    def test_every_new_setting_is_documented(self):
        from pathlib import Path

        root = Path(__file__).resolve().parent.parent
        readme = (root / "README.md").read_text()
        config = (root / "docs" / "configuration.md").read_text()
        names = ["WECOM_API_URL", "WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_AGENT_ID",
                 "DINGTALK_API_URL", "DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_AGENT_ID",
                 "SMS_BACKEND", "SMS_API_URL", "SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET",
                 "SMS_SIGN_NAME", "SMS_TEMPLATE_ID", "SMS_SDK_APP_ID", "SMS_REGION",
                 "PUSH_FALLBACK_AFTER_ATTEMPTS", "ONETAP_MAX_AGE_MINUTES", "PERSONAL_RATE_PER_SECOND"]
        for name in names:
            self.assertTrue(hasattr(settings, name), name)
            self.assertIn(f"`XINLIAN_{name}`", config, name)
            prefix, _sep, rest = name.partition("_")
            # The README groups a family on one row: `XINLIAN_SMS_ACCESS_KEY_ID`, `_SIGN_NAME`, ...
            self.assertTrue(f"`XINLIAN_{name}`" in readme or f"`_{rest}`" in readme, name)

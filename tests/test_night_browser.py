"""The night the issue describes, taken the way the people in it take it, on phones (390×844).

At a simulated 02:00 (the centre's office hours end a minute after midnight, so "now" is out of
hours), a dorm liaison reports self-harm talk. The confirmation page shows the numbers to call.
The worker's round sends the red alert to the 辅导员 on night duty for the college — not the
student's own 辅导员 — by WeCom application message and by SMS, to local receivers that check each
platform's request format and signature. The duty 辅导员 taps the one-tap link in the WeCom
message while signed out, logs in, and lands on the acknowledged alert; the escalation due 30
minutes later then climbs no further: nobody on the next rung of the duty chain hears of it.

Debian's chromium; never downloads a browser. Screenshots in test-artifacts/night-*.png."""

from __future__ import annotations

import datetime as dt
import os
import re
from urllib.parse import urlsplit

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings
from django.utils import timezone

from xinlian.care.models import (
    Alert,
    AlertDuty,
    AlertStatus,
    DutyLine,
    DutyRole,
    DutyShift,
    ShiftKind,
    fire_due_escalations,
)
from xinlian.network.models import Role
from xinlian.notify.jobs import run_all
from xinlian.notify.models import Channel, Delivery
from xinlian.notify.provider import tokens

from .base import PASSWORD, NetworkTestCase, make_staff
from .personal_receivers import AliyunSmsServer, WeComServer, settings_for
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .test_urgent_numbers import make_night
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

OWN_FDY_PHONE = "13800000001"
DUTY_FDY_PHONE = "13900000002"
NIGHT_LINE = "0571-88886666"
REPORTED = "NIGHT-MARKER-在宿舍说不想活了"


class TwoInTheMorningTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)
        tokens.clear()
        self.counsellor_a.phone = OWN_FDY_PHONE  # the student's own 辅导员: no push id set
        self.counsellor_a.save()
        # Another 辅导员 of the same college takes tonight's first line, with WeCom and a mobile.
        self.duty_fdy = make_staff("T3101", "何值班", Role.FUDAOYUAN, self.college_a)
        self.duty_fdy.wecom_userid = "hezhiban"
        self.duty_fdy.phone = DUTY_FDY_PHONE
        self.duty_fdy.save()
        self.centre_counsellor = make_staff("T3102", "许咨询", Role.COUNSELLOR, self.school)
        self.centre_counsellor.wecom_userid = "xuzixun"
        self.centre_counsellor.save()
        night = make_night()
        DutyShift.objects.create(unit=self.college_a, date=night, kind=ShiftKind.NIGHT,
                                 role=DutyRole.FIRST_LINE, person=self.duty_fdy)
        DutyShift.objects.create(unit=self.school, date=night, kind=ShiftKind.NIGHT,
                                 role=DutyRole.CENTRE, person=self.centre_counsellor)
        DutyLine.objects.create(school=self.school, night_phone=NIGHT_LINE)

    def test_a_liaison_reports_at_two_and_the_duty_fudaoyuan_acknowledges_from_the_phone(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with WeComServer(users=("hezhiban", "xuzixun")) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms), SITE_URL=self.live_server_url), \
                sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                # 1. The liaison reports from a phone and sees the numbers to call.
                page = browser.new_context(**PHONE, locale="zh-CN").new_page()
                page.goto(f"{self.live_server_url}/login/?next=/care/report/")
                page.fill("input[name=username]", "S0007")  # the dorm liaison of room 101
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit].btn-primary")
                page.wait_for_url("**/care/report/")
                page.click(f"label[for=st-{self.roommate_a1.pk}]")
                page.click("label[for=cat-self_harm]")
                page.click("label[for=urg-now]")
                page.fill("textarea[name=seen]", REPORTED)
                page.click("#send-report")
                page.wait_for_url("**/care/reports/?sent=*")
                urgent = page.locator("section.xl-urgent")
                tels = {a.get_attribute("href") for a in urgent.locator("a[href^='tel:']").all()}
                self.assertLessEqual({"tel:120", "tel:110", f"tel:{OWN_FDY_PHONE}", f"tel:{NIGHT_LINE}"}, tels)
                for a in urgent.locator("a[href^='tel:']").all():
                    box = a.bounding_box()
                    self.assertGreaterEqual(box["height"], 44, "a call button too small to tap")
                self.assertTrue(page.evaluate(NO_OVERFLOW), "the confirmation overflows sideways")
                page.screenshot(path=str(ARTIFACTS / "night-liaison-numbers.png"), full_page=True)
                page.context.close()

                # 2. The worker's round: the duty 辅导员's WeCom and SMS receivers get it.
                alert = Alert.objects.get(student=self.roommate_a1)
                self.assertEqual((alert.level, alert.duty_step), ("red", 0))
                run_all()
                to_duty = [h for h in wecom.messages if h.body["touser"] == "hezhiban"]
                self.assertEqual(len(to_duty), 1)
                self.assertEqual([h for h in wecom.messages if h.body["touser"] == "xuzixun"], [],
                                 "the centre rung is told only when the first line does not answer")
                sms_to_duty = [h for h in sms.messages if h.query["PhoneNumbers"] == DUTY_FDY_PHONE]
                self.assertEqual(len(sms_to_duty), 1, "red: push and SMS at once, at night too")
                card = to_duty[0].body["textcard"]
                sms_text = " ".join(AliyunSmsServer.params(sms_to_duty[0]).values())
                for text in (card["title"] + card["description"], sms_text):
                    self.assertNotIn("李华", text)      # never a name
                    self.assertNotIn("NIGHT-MARKER", text)  # never what was reported
                link = card["url"]
                self.assertRegex(link, rf"^{re.escape(self.live_server_url)}/care/t/")
                self.assertIn(f"{self.live_server_url}/care/t/", sms_text)

                # 3. One tap, signed out: login, then the alert, acknowledged.
                phone = browser.new_context(**PHONE, locale="zh-CN").new_page()
                phone.goto(link)
                self.assertEqual(urlsplit(phone.url).path, "/login/")
                phone.fill("input[name=username]", "T3101")
                phone.fill("input[name=password]", PASSWORD)
                phone.click("button[type=submit].btn-primary")
                pass_second_step(phone, "T3101")
                phone.wait_for_url(f"**{alert.get_absolute_url()}")
                self.assertIn("预警已确认", phone.inner_text(".xl-messages"))
                self.assertTrue(phone.evaluate(NO_OVERFLOW), "the alert page overflows sideways")
                phone.screenshot(path=str(ARTIFACTS / "night-duty-acknowledged.png"), full_page=True)
                alert.refresh_from_db()
                self.assertEqual((alert.status, alert.acknowledged_by), (AlertStatus.ACKNOWLEDGED, self.duty_fdy))

                # 4. The escalation stops: past the deadline nobody more is told.
                sent_before = Delivery.objects.count()
                self.assertEqual(fire_due_escalations(timezone.now() + dt.timedelta(hours=2)), 0)
                run_all()
                alert.refresh_from_db()
                self.assertEqual((alert.step, alert.duty_step), (0, 0))
                self.assertEqual(Delivery.objects.count(), sent_before)
                self.assertFalse(Delivery.objects.filter(recipient=self.centre_counsellor).exists())
                self.assertFalse(AlertDuty.objects.filter(alert=alert, role=DutyRole.CENTRE).exists())
                self.assertEqual([h for h in wecom.messages if h.body["touser"] == "xuzixun"], [])
                self.assertFalse(Delivery.objects.filter(channel=Channel.SMS, recipient=self.duty_fdy)
                                 .exclude(status="sent").exists(), "an SMS left unsent")
            finally:
                browser.close()

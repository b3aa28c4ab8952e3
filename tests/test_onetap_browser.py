"""The one-tap link on a phone (390×844), the way the 辅导员 takes it: a liaison reports an urgent
concern, the worker sends the red alert to the 辅导员's WeCom and SMS receivers, the 辅导员 taps
the link in the WeCom message while signed out, logs in, and lands on the acknowledged alert.
Debian's chromium; never downloads a browser. Screenshots in test-artifacts/onetap-*.png."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings

from xinlian.care.models import Alert, AlertStatus
from xinlian.notify.provider import tokens
from xinlian.notify.sending import send_due

from .base import PASSWORD, NetworkTestCase
from .personal_receivers import AliyunSmsServer, WeComServer, settings_for
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop


class OneTapInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)
        tokens.clear()
        self.counsellor_a.wecom_userid = "zhoufudao"
        self.counsellor_a.phone = "13800000001"
        self.counsellor_a.save()

    def test_liaison_reports_and_the_fudaoyuan_acknowledges_with_one_tap(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with WeComServer(users=("zhoufudao",)) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms), SITE_URL=self.live_server_url), \
                sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(**PHONE, locale="zh-CN").new_page()
                page.goto(f"{self.live_server_url}/login/?next=/care/report/")
                page.fill("input[name=username]", "S0007")  # the dorm liaison
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit].btn-primary")
                page.wait_for_url("**/care/report/")
                page.click(f"label[for=st-{self.roommate_a1.pk}]")
                page.click("label[for=cat-self_harm]")
                page.click("label[for=urg-now]")
                page.fill("textarea[name=seen]", "昨晚在宿舍说不想活了")
                page.click("#send-report")
                page.wait_for_url("**/care/reports/?sent=*")
                page.context.close()

                send_due()  # the worker's round
                mine = [h for h in wecom.messages if h.body["touser"] == "zhoufudao"]
                self.assertEqual(len(mine), 1)
                self.assertIn("13800000001", {h.query["PhoneNumbers"] for h in sms.messages})
                card = mine[0].body["textcard"]
                self.assertNotIn("李华", card["description"])
                self.assertNotIn("不想活", card["description"])
                link = card["url"]
                self.assertTrue(link.startswith(self.live_server_url))

                phone = browser.new_context(**PHONE, locale="zh-CN").new_page()
                phone.goto(link)  # signed out: the login page first
                self.assertEqual(urlsplit(phone.url).path, "/login/")
                phone.fill("input[name=username]", "T1001")
                phone.fill("input[name=password]", PASSWORD)
                phone.click("button[type=submit].btn-primary")
                pass_second_step(phone, "T1001")
                alert = Alert.objects.get(student=self.roommate_a1)
                phone.wait_for_url(f"**{alert.get_absolute_url()}")
                self.assertIn("预警已确认", phone.inner_text(".xl-messages"))
                self.assertTrue(phone.evaluate(NO_OVERFLOW), "the alert page overflows sideways on a phone")
                phone.screenshot(path=str(ARTIFACTS / "onetap-phone-acknowledged.png"), full_page=True)
                alert.refresh_from_db()
                self.assertEqual((alert.status, alert.acknowledged_by), (AlertStatus.ACKNOWLEDGED, self.counsellor_a))

                phone.goto(link)  # the same link again: refused, in both languages
                text = phone.inner_text("main")
                self.assertIn("已经使用过", text)
                self.assertIn("already been used", text)
                phone.screenshot(path=str(ARTIFACTS / "onetap-phone-used.png"), full_page=True)
            finally:
                browser.close()

"""企业微信 (WeCom) login in a real browser: a student inside the WeCom app on a phone (390 px)
taps 企业微信登录 and is in at once; a 辅导员 on a laptop scans the QR web login; a WeCom id the
roster lacks gets the refusal page. The local WeCom stand-in (tests/test_sso_wecom.py) serves the
authorization pages and the API on its own loopback port. Debian's chromium; no download."""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings

from xinlian.access.models import AuditEvent
from xinlian.network.models import User
from xinlian.notify.provider import tokens

from .base import NetworkTestCase
from .personal_receivers import settings_for
from .test_a11y import violations
from .test_browser import CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .test_sso_wecom import IN_WECOM, LoginWeComServer

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
SHOTS = Path("/tmp/shots-X9")


class WeComInTheBrowserTests(StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.wecom = LoginWeComServer().__enter__()
        cls._on = override_settings(**settings_for(wecom=cls.wecom), WECOM_LOGIN=True,
                                    WECOM_OAUTH_URL=f"{cls.wecom.url}/connect/oauth2/authorize",
                                    WECOM_SSO_URL=f"{cls.wecom.url}/wwlogin/sso/login")
        cls._on.enable()

    @classmethod
    def tearDownClass(cls) -> None:
        cls._on.disable()
        cls.wecom.__exit__(None, None, None)
        super().tearDownClass()

    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        User.objects.filter(pk=self.student_a1.user_id).update(wecom_userid="ZhangXiaoMing")
        tokens.clear()
        SHOTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"wecom-{name}.png"), full_page=True)

    def test_student_in_the_wecom_app_and_counsellor_on_a_laptop(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        live = self.live_server_url
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                # The student inside the WeCom app (its browser), on a phone: one tap and in.
                self.wecom.signed_in = "ZhangXiaoMing"
                page = browser.new_context(**PHONE, locale="zh-CN",
                                           user_agent=IN_WECOM["HTTP_USER_AGENT"]).new_page()
                page.goto(f"{live}/login/")
                first = page.locator("main a.btn").first
                self.assertEqual(first.inner_text().strip(), "企业微信登录")
                self.assertTrue(page.evaluate(NO_OVERFLOW), "login page overflows on a phone")
                self.assertEqual(violations(page), [])
                self.shot(page, "phone-login-in-wecom")
                first.click()
                page.wait_for_url(f"{live}/")
                self.assertIn("张小明", page.inner_text("body"))
                self.assertTrue(page.evaluate(NO_OVERFLOW), "home overflows on a phone")
                self.shot(page, "phone-student-in")

                # The 辅导员 on a laptop was sent to the alerts page; scans WeCom's QR code.
                self.wecom.signed_in = "T1001"
                page = browser.new_context(**LAPTOP, locale="zh-CN").new_page()
                page.goto(f"{live}/care/alerts/")
                self.assertIn("/login/", page.url)
                self.assertEqual(violations(page), [])
                self.shot(page, "laptop-login")
                page.click("a.btn[href^='/login/wecom/']")
                page.wait_for_url(f"{self.wecom.url}/wwlogin/sso/login?**")
                page.click("#scan")
                page.wait_for_url(f"{live}/care/alerts/")
                self.assertIn("周辅导", page.inner_text("body"))
                self.shot(page, "laptop-counsellor-in")

                # A WeCom member the roster lacks: the refusal page, Chinese and English.
                self.wecom.signed_in = "NOBODY-42"
                for locale, words in (("zh-CN", "心联的名单中没有这个账号"), ("en-US", "not in Xinlian's roster")):
                    page = browser.new_context(**PHONE, locale=locale,
                                               user_agent=IN_WECOM["HTTP_USER_AGENT"]).new_page()
                    page.goto(f"{live}/login/")
                    page.click("a.btn[href^='/login/wecom/']")
                    page.wait_for_url(f"{live}/login/wecom/callback/**")
                    self.assertIn(words, page.inner_text("main"))
                    self.assertTrue(page.evaluate(NO_OVERFLOW), "refusal page overflows on a phone")
                    self.assertEqual(violations(page), [])
                    self.shot(page, f"phone-refused-{locale}")
            finally:
                browser.close()

        logins = AuditEvent.objects.filter(action="identity.sso_login").values_list("actor_id", flat=True)
        self.assertEqual(sorted(logins), sorted([self.counsellor_a.pk, self.student_a1.user_id]))
        self.assertEqual(AuditEvent.objects.filter(action="identity.sso_refused").count(), 2)

"""OpenID Connect in a real browser: a 辅导员 on a laptop and a student on a phone press the
school-account button on Xinlian's login page, sign in at the provider (django-oauth-toolkit,
tests/oidc_provider/, on its own loopback port) and come back logged in where they were going;
a number the roster lacks gets the refusal page. Debian's chromium; never downloads a browser."""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings

from xinlian.access.models import AuditEvent

from .base import NetworkTestCase
from .oidc_provider import PASSWORD, Provider
from .test_a11y import violations
from .test_browser import CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
SHOTS = Path("/tmp/shots-X2")


class OIDCInTheBrowserTests(StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        try:
            cls.op = Provider([f"{cls.live_server_url}/login/oidc/callback/"],
                              ["S0001", "T1001", "NOBODY-42"],
                              post_logout_redirect_uris=[f"{cls.live_server_url}/login/"]).start()
        except Exception:
            super().tearDownClass()
            raise
        cls._oidc = override_settings(**cls.op.settings())
        cls._oidc.enable()

    @classmethod
    def tearDownClass(cls) -> None:
        cls._oidc.disable()
        cls.op.stop()
        super().tearDownClass()

    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        SHOTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"oidc-{name}.png"), full_page=True)

    def sign_in_at_provider(self, page, number: str) -> None:
        page.click("a.btn[href^='/login/oidc/']")
        page.wait_for_url(f"{self.op.url}/accounts/login/**")
        page.fill("#id_username", number)
        page.fill("#id_password", PASSWORD)
        page.click("#provider-login")

    def test_counsellor_on_a_laptop_and_student_on_a_phone(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                # The 辅导员 was sent to the alerts page; the login page offers the school account.
                page = browser.new_context(**LAPTOP, locale="zh-CN").new_page()
                page.goto(f"{self.live_server_url}/care/alerts/")
                self.assertIn("/login/", page.url)
                self.assertIn("使用学校账号登录", page.inner_text("main"))
                self.assertEqual(violations(page), [])
                self.shot(page, "laptop-login")
                self.sign_in_at_provider(page, "T1001")
                page.wait_for_url(f"{self.live_server_url}/care/alerts/")
                self.assertIn("周辅导", page.inner_text("body"))
                self.shot(page, "laptop-counsellor-in")

                # The student on a phone: the button, the provider, home.
                page = browser.new_context(**PHONE, locale="zh-CN").new_page()
                page.goto(f"{self.live_server_url}/login/")
                self.assertTrue(page.evaluate(NO_OVERFLOW), "login page overflows on a phone")
                self.assertEqual(violations(page), [])
                self.shot(page, "phone-login")
                self.sign_in_at_provider(page, "S0001")
                page.wait_for_url(f"{self.live_server_url}/")
                self.assertIn("张小明", page.inner_text("body"))
                self.assertTrue(page.evaluate(NO_OVERFLOW), "home overflows on a phone")
                self.shot(page, "phone-student-in")

                # Logging out ends the provider's session too (RP-initiated logout): the phone
                # passes through the provider's end-session endpoint and back to the login page,
                # and the school-account button asks for the password again.
                page.tap(".navbar-toggler")
                page.locator("details.xl-account summary").tap()
                visited: list[str] = []
                page.on("request", lambda r: visited.append(r.url))
                page.locator("form[action='/logout/'] button").tap()
                page.wait_for_url(f"{self.live_server_url}/login/")
                self.assertTrue(any(u.startswith(f"{self.op.issuer}/logout/?") for u in visited), visited)
                self.shot(page, "phone-logged-out")
                page.click("a.btn[href^='/login/oidc/']")
                page.wait_for_url(f"{self.op.url}/accounts/login/**")
                self.assertEqual(page.locator("#id_password").count(), 1)

                # A number the roster lacks: the refusal page, in Chinese and in English.
                for locale, words in (("zh-CN", "心联的名单中没有这个账号"), ("en-US", "not in Xinlian's roster")):
                    page = browser.new_context(**PHONE, locale=locale).new_page()
                    page.goto(f"{self.live_server_url}/login/")
                    self.sign_in_at_provider(page, "NOBODY-42")
                    page.wait_for_url(f"{self.live_server_url}/login/oidc/callback/**")
                    self.assertIn(words, page.inner_text("main"))
                    self.assertTrue(page.evaluate(NO_OVERFLOW), "refusal page overflows on a phone")
                    self.assertEqual(violations(page), [])
                    self.shot(page, f"phone-refused-{locale}")
                    page.click("a.btn[href='/login/']")
                    page.wait_for_url(f"{self.live_server_url}/login/")
            finally:
                browser.close()

        logins = AuditEvent.objects.filter(action="identity.sso_login").values_list("actor_id", flat=True)
        self.assertEqual(sorted(logins), sorted([self.counsellor_a.pk, self.student_a1.user_id]))
        self.assertEqual(AuditEvent.objects.filter(action="identity.sso_refused").count(), 2)

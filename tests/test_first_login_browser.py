"""First login in the browser (issue 13): a 班主任 prints their class's slips on a laptop, a
student logs in with the code on a phone (390 px), chooses a password and lands on home.
Debian's chromium; never downloads a browser. Screenshots in test-artifacts/identity-*.png."""

from __future__ import annotations

import os

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from xinlian.access.models import AuditEvent
from xinlian.network.models import FirstLoginCode, User

from .base import PASSWORD, NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
NEW_PASSWORD = "my-own-password-2026"


class FirstLoginInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)
        # Freshly imported: the class's students have never logged in and have no password.
        for user in User.objects.filter(kind="student"):
            user.set_unusable_password()
            user.save()

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"identity-{name}.png"), full_page=True)

    def test_slips_on_a_laptop_first_login_on_a_phone(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                code = self.head_teacher_prints_slips(browser)
                self.student_logs_in_with_the_code(browser, code)
                self.head_teacher_resets_on_a_phone_in_english(browser)
            finally:
                browser.close()

    def head_teacher_prints_slips(self, browser) -> str:
        page = browser.new_context(**LAPTOP, locale="zh-CN").new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.fill("input[name=username]", "T1002")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        page.wait_for_url(f"{self.live_server_url}/")
        page.goto(f"{self.live_server_url}/units/{self.class_a1.pk}/")
        page.click(f"a[href='/units/{self.class_a1.pk}/first-login-slips/']")
        page.wait_for_url("**/first-login-slips/")
        self.shot(page, "laptop-slips-options")
        page.click("button[name=format][value=html]")
        page.wait_for_selector(".xl-slip-code")
        self.assertEqual(page.locator(".xl-slip").count(), 5)
        self.assertNotIn("first-login-slips/?", page.url)  # options and codes never in the URL
        self.shot(page, "laptop-slips-screen")
        page.emulate_media(media="print")
        self.assertEqual(page.evaluate("getComputedStyle(document.querySelector('.xl-navbar')).display"), "none")
        columns = page.evaluate("getComputedStyle(document.querySelector('.xl-slips')).gridTemplateColumns")
        self.assertEqual(len(columns.split()), 2, columns)
        self.shot(page, "laptop-slips-print")
        slip = page.locator(".xl-slip", has_text="S0001")
        code = slip.locator(".xl-slip-code").inner_text().strip()
        self.assertRegex(code, r"^[A-Z2-9]{5}-[A-Z2-9]{5}$")
        page.context.close()
        return code

    def student_logs_in_with_the_code(self, browser, code: str) -> None:
        page = browser.new_context(**PHONE, locale="zh-CN").new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.click("a[href='/login/first/']")
        page.wait_for_url("**/login/first/")
        page.fill("input[name=username]", "S0001")
        page.fill("input[name=code]", "WRONG-CODE2")
        page.click("button[type=submit].btn-primary")
        self.assertIn("学号/工号与登录码不符", page.inner_text(".alert-danger"))
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the first-login form overflows sideways on a phone")
        self.shot(page, "phone-wrong-code")
        page.fill("input[name=code]", code.lower().replace("-", ""))
        page.click("button[type=submit].btn-primary")
        page.wait_for_url("**/login/first/password/")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the password form overflows sideways on a phone")
        self.shot(page, "phone-choose-password")
        page.fill("input[name=new_password1]", NEW_PASSWORD)
        page.fill("input[name=new_password2]", NEW_PASSWORD)
        page.click("button[type=submit].btn-primary")
        page.wait_for_url(f"{self.live_server_url}/")
        self.assertIn("张小明", page.inner_text("body"))
        self.shot(page, "phone-home")
        self.assertTrue(User.objects.get(username="S0001").check_password(NEW_PASSWORD))
        self.assertIsNotNone(FirstLoginCode.objects.get(user__username="S0001").used_at)
        plain = code.replace("-", "")
        self.assertFalse(any(plain in f"{e.action}{e.object_id}{e.detail}" for e in AuditEvent.objects.all()))
        page.context.close()

    def head_teacher_resets_on_a_phone_in_english(self, browser) -> None:
        page = browser.new_context(**PHONE, locale="en-US").new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.wait_for_selector("text=First login? I have a one-time code")
        self.shot(page, "phone-login-en")
        page.fill("input[name=username]", "T1002")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        page.wait_for_url(f"{self.live_server_url}/")
        page.goto(f"{self.live_server_url}/students/{self.student_a1.pk}/")
        page.click(f"a[href='/students/{self.student_a1.pk}/reset-password/']")
        page.wait_for_url("**/reset-password/")
        self.assertIn("A new one-time code, valid for 14 days", page.inner_text("main"))
        self.shot(page, "phone-reset-confirm-en")
        page.click("button[type=submit].btn-primary")
        page.wait_for_selector(".xl-slip-code")
        self.assertEqual(page.locator(".xl-slip").count(), 1)
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the printed slip overflows sideways on a phone")
        self.shot(page, "phone-reset-slip-en")
        # The used code stays on record; the new one waits beside it.
        self.assertEqual(FirstLoginCode.objects.filter(user__username="S0001", used_at__isnull=True).count(), 1)
        page.context.close()

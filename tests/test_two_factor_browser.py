"""Two-step verification in Debian's chromium: the centre director logs in on a laptop (1280 px),
must set up an authenticator (QR code, the key as text), confirms with a code, keeps ten recovery
codes, and lands where they were going; the next login asks for the code, a recovery code works
once; on a phone (390 px) the code page and the set-up page fit the screen. Screenshots go to
test-artifacts/two-step-*.png."""

from __future__ import annotations

import os
import re

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django_otp.plugins.otp_totp.models import TOTPDevice

from xinlian.access import twofactor

from .base import PASSWORD, NetworkTestCase
from .test_a11y import violations
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import current_code, fresh_code

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}


class TwoStepInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"two-step-{name}.png"), full_page=True)

    def password(self, browser, device: dict, next_path: str = "/", locale: str = "zh-CN"):
        page = browser.new_context(**device, locale=locale).new_page()
        page.goto(f"{self.live_server_url}/login/?next={next_path}")
        page.fill("input[name=username]", "T1004")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        page.wait_for_url(re.compile(r".*/login/two-step/.*"))
        return page

    def test_the_director_sets_up_then_gives_codes(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                codes = self.sets_up_on_a_laptop(browser)
                self.gives_a_recovery_code_once(browser, codes)
                self.gives_the_code_on_a_phone(browser)
            finally:
                browser.close()

    def sets_up_on_a_laptop(self, browser) -> list[str]:
        page = self.password(browser, LAPTOP, "/care/alerts/")
        self.assertIn("/login/two-step/setup/", page.url)
        self.assertEqual(page.locator("#xl-nav").count(), 0)  # no menu before the second step
        self.assertTrue(page.is_visible("#two-step-qr"))
        self.assertGreater(page.evaluate("document.querySelector('#two-step-qr').naturalWidth"), 100)
        self.shot(page, "setup-laptop")
        self.assertEqual(violations(page), [])  # axe-core, WCAG 2.1 A/AA
        page.click("#two-step-enrol summary")
        secret = page.get_attribute("#two-step-secret", "data-secret")
        self.assertIn(secret[:4], page.inner_text("#two-step-secret"))
        page.fill("input[name=code]", "000000")
        page.click("#two-step-confirm")
        self.assertIn("验证码不对", page.inner_text("#code-error"))
        TOTPDevice.objects.filter(user=self.director).update(throttling_failure_count=0)
        page.fill("input[name=code]", current_code(secret))
        page.click("#two-step-confirm")
        page.wait_for_selector("#recovery-codes")
        codes = [c.strip() for c in page.locator("#recovery-codes li").all_inner_texts()]
        self.assertEqual(len(set(codes)), 10)
        self.shot(page, "recovery-codes-laptop")
        self.assertEqual(violations(page), [])
        # Printing hides the menu and the buttons, keeps the codes.
        page.emulate_media(media="print")
        self.assertFalse(page.is_visible("#codes-continue"))
        self.assertTrue(page.is_visible("#recovery-codes"))
        page.emulate_media(media="screen")
        page.click("#codes-continue")
        page.wait_for_url(f"{self.live_server_url}/care/alerts/")
        self.assertTrue(page.is_visible("#xl-nav") or page.locator(".navbar-toggler").count() == 1)
        page.context.close()
        return codes

    def gives_a_recovery_code_once(self, browser, codes: list[str]) -> None:
        page = self.password(browser, LAPTOP)
        self.assertTrue(page.url.startswith(f"{self.live_server_url}/login/two-step/?"))
        self.shot(page, "verify-laptop")
        page.fill("input[name=code]", codes[0].lower())
        page.click("#two-step-submit")
        page.wait_for_url(f"{self.live_server_url}/")
        self.assertEqual(twofactor.recovery_left(self.director), 9)
        page.context.close()
        again = self.password(browser, LAPTOP)
        again.fill("input[name=code]", codes[0])
        again.click("#two-step-submit")
        again.wait_for_selector("#code-error")
        self.assertEqual(violations(again), [])  # the page with its error
        self.assertIn("验证码不对", again.inner_text("#code-error"))
        self.assertIn("/login/two-step/", again.url)
        again.goto(f"{self.live_server_url}/care/alerts/")
        self.assertIn("/login/two-step/", again.url)  # still nothing without the step
        again.context.close()

    def gives_the_code_on_a_phone(self, browser) -> None:
        TOTPDevice.objects.filter(user=self.director).update(throttling_failure_count=0)
        page = self.password(browser, PHONE, locale="en-US")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the code page overflows sideways")
        self.assertIn("Enter the 6-digit code", page.inner_text("h1"))
        self.shot(page, "verify-phone")
        self.assertEqual(violations(page), [])
        page.fill("input[name=code]", fresh_code(TOTPDevice.objects.get(user=self.director)))
        page.click("#two-step-submit")
        page.wait_for_url(f"{self.live_server_url}/")
        page.goto(f"{self.live_server_url}/me/two-step/")
        self.assertIn("9 recovery codes left", page.inner_text("#recovery-left"))
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the two-step page overflows sideways")
        self.shot(page, "mine-phone")
        self.assertEqual(violations(page), [])
        # Moving to a new phone: the set-up page from a verified session, at 390 px.
        page.click("#new-phone")
        page.wait_for_selector("#two-step-qr")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the set-up page overflows sideways")
        self.shot(page, "setup-phone")
        page.context.close()

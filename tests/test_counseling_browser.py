"""Booking counselling in a real browser on a phone (390×844), in Chinese and in English: a
student opens the menu, picks a free time, answers the intake, sees the confirmation and the
booking in "my appointments", books a second time and cancels one. The counsellor's list and
availability editor at a laptop's width. Debian's chromium; never downloads a browser.

Screenshots go to test-artifacts/counseling-*.png."""

from __future__ import annotations

import os

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from xinlian.counseling.models import Booking, BookingStatus

from .base import PASSWORD, NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .test_counseling_base import add_time, setup_counseling

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}


class BookingInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        setup_counseling(type(self))
        self.slots = add_time(self.psy, self.school, 2, room=self.room)
        self.slots_b = add_time(self.psy2, self.school, 3, start="14:00", end="16:00")
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"counseling-{name}.png"), full_page=True)

    def login(self, browser, number: str, device: dict, next_path: str, locale: str = "zh-CN"):
        page = browser.new_context(**device, locale=locale).new_page()
        page.goto(f"{self.live_server_url}/login/?next={next_path}")
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        page.wait_for_url(f"{self.live_server_url}{next_path}")
        return page

    def signed_in(self, browser, user, device: dict, path: str):
        """A browser already signed in as ``user`` (a session made as the login leaves it): the
        counsellor's own sign-in steps are not what this test is about."""
        from urllib.parse import urlsplit

        self.client.force_login(user)
        session = self.client.session
        context = browser.new_context(**device, locale="zh-CN")
        context.add_cookies([{"name": "sessionid", "value": session.session_key,
                              "domain": urlsplit(self.live_server_url).hostname, "path": "/"}])
        page = context.new_page()
        page.goto(f"{self.live_server_url}{path}")
        return page

    def test_a_student_books_sees_and_cancels_on_a_phone(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                self.student_books_in_chinese(browser)
                self.student_books_and_cancels_in_english(browser)
                self.a_yes_shows_the_numbers_at_once(browser)
                self.counsellor_at_a_laptop(browser)
            finally:
                browser.close()

    def book(self, page, slot_pk: int, topic: str) -> None:
        page.click(f"a[data-slot='{slot_pk}']")
        page.wait_for_selector("#book-form")
        page.fill("#topic", topic)
        page.click("label[for=previous-none]")
        page.click("label[for=risk-no]")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the booking form overflows sideways on a phone")
        page.click("#book-submit")
        page.wait_for_selector("#booked")

    def student_books_in_chinese(self, browser) -> None:
        page = self.login(browser, "S0001", PHONE, "/")
        page.click(".navbar-toggler")
        page.click("#xl-nav a[href='/counseling/']")
        page.wait_for_url("**/counseling/")
        self.assertIn("预约咨询", page.inner_text("main"))
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the free times overflow sideways on a phone")
        self.shot(page, "phone-slots")
        self.book(page, self.slots[0].pk, "最近总是失眠")
        self.assertIn("预约成功", page.inner_text("main"))
        self.assertIn("咨询室一", page.inner_text("main"))
        self.shot(page, "phone-booked")
        page.click("a[href='/counseling/mine/']")
        page.wait_for_selector("#upcoming")
        self.assertIn("沈咨询", page.inner_text("#upcoming"))
        self.shot(page, "phone-mine")
        page.context.close()
        self.assertEqual(Booking.objects.get(client=self.student_a1.user).slot_id, self.slots[0].pk)

    def student_books_and_cancels_in_english(self, browser) -> None:
        page = self.login(browser, "S0002", PHONE, "/counseling/")
        page.click(".navbar-toggler")
        page.click("#xl-nav button[value=en]")
        page.wait_for_selector("html[lang=en]")
        self.assertIn("Book counselling", page.inner_text("main"))
        self.assertNotIn(f"data-slot=\"{self.slots[0].pk}\"", page.content())  # taken above
        self.book(page, self.slots[1].pk, "Exam stress")
        self.assertIn("Booked. You will get a reminder the day before.", page.inner_text("main"))
        page.goto(f"{self.live_server_url}/counseling/")
        self.book(page, self.slots_b[0].pk, "A second talk")
        page.click("a[href='/counseling/mine/']")
        page.wait_for_selector("#upcoming")
        self.assertEqual(page.locator("#upcoming li[data-booking]").count(), 2)
        self.shot(page, "phone-mine-en")
        page.locator("#upcoming li[data-booking] .xl-cancel").first.click()
        page.wait_for_selector(".alert-success")
        self.assertIn("is cancelled", page.inner_text("main"))
        self.assertEqual(page.locator("#upcoming li[data-booking]").count(), 1)
        self.assertTrue(page.evaluate(NO_OVERFLOW))
        self.shot(page, "phone-cancelled-en")
        page.context.close()
        rows = dict(Booking.objects.filter(client=self.roommate_a1.user).values_list("slot_id", "status"))
        self.assertEqual(rows, {self.slots[1].pk: BookingStatus.CANCELLED, self.slots_b[0].pk: BookingStatus.ACTIVE})

    def a_yes_shows_the_numbers_at_once(self, browser) -> None:
        page = self.login(browser, "S0003", PHONE, "/counseling/")
        page.click(f"a[data-slot='{self.slots[2].pk}']")
        page.fill("#topic", "很难受")
        page.click("label[for=previous-none]")
        page.click("label[for=risk-yes]")
        page.click("#book-submit")
        page.wait_for_selector("#urgent")
        self.assertTrue(page.is_visible("#urgent a[href='tel:120']"))
        self.assertIn("12356", page.inner_text("#urgent"))
        self.assertTrue(page.evaluate(NO_OVERFLOW))
        self.shot(page, "phone-urgent")
        page.context.close()
        from xinlian.care.models import Alert

        self.assertTrue(Alert.objects.filter(student=self.classmate_a1, level="red").exists())

    def counsellor_at_a_laptop(self, browser) -> None:
        page = self.signed_in(browser, self.psy, LAPTOP, "/counseling/staff/")
        self.assertIn("张小明", page.inner_text("main"))
        self.shot(page, "laptop-staff")
        page.goto(f"{self.live_server_url}/counseling/rota/")
        page.select_option("#w-weekday", "1")
        page.fill("#w-start", "13:00")
        page.fill("#w-end", "15:00")
        page.select_option("#w-room", str(self.room.pk))
        page.click("#weekly-form button[type=submit]")
        page.wait_for_selector(".alert-success")
        self.assertEqual(page.locator("[data-weekly]").count(), 1)
        self.shot(page, "laptop-rota")
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the availability editor overflows on a phone")
        self.shot(page, "phone-rota")
        page.context.close()
